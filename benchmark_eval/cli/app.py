"""The `benchmark-eval` application: its typer apps, its console, and `main`, where every error
becomes one line and its exit code. Each command lives in a module of its own beside this one."""

from __future__ import annotations

import sys

import typer

from ..console import make_console
from ..errors import EXIT_BAD_INPUT, EXIT_TABLE, UserError
from ..stops import Interrupted

app = typer.Typer(add_completion=False, no_args_is_help=True, help=(
    "Evaluate a vLLM server (or local weights) with OpenCompass, then sign off a candidate device "
    "against a baseline run: benchmark-eval run, then benchmark-eval compare BASELINE CANDIDATE."),
    epilog="Exit codes (every command): " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_TABLE) + ".")
server_app = typer.Typer(no_args_is_help=True, help="Start or stop a vLLM OpenAI-compatible server.")
app.add_typer(server_app, name="server")
data_app = typer.Typer(no_args_is_help=True, help="Check a data root; convert raw sources into OpenCompass's layouts.")
app.add_typer(data_app, name="data")
console = make_console()


def _interrupted_line(stop: Interrupted) -> str:
    where = f"interrupted by {stop.signal_name} during {stop.phase}"
    if stop.run_dir is None:
        return f"{where}; every process it started was stopped and no run was recorded, so there is nothing to resume"
    return (f"{where}; every process it started was stopped and {stop.run_dir}/run.json says status interrupted; "
            f"finish it with: benchmark-eval run --resume {stop.run_dir} (or resume={stop.run_dir} bash opencompass.sh)")


def main() -> None:
    from ..stops import handle_stops

    try:
        with handle_stops():
            # Without standalone mode click returns a typer.Exit's code instead of exiting.
            code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except Interrupted as stop:
        console.print(_interrupted_line(stop), highlight=False, soft_wrap=True, markup=False)
        sys.exit(stop.exit_code)
    except UserError as error:
        console.print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
        if error.details:
            console.print(error.details, highlight=False, markup=False)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):  # a Ctrl-C outside our handlers (e.g. in click's prompt)
        console.print("interrupted")
        sys.exit(130)
    except Exception as error:  # click's own usage errors
        import click

        if isinstance(error, click.exceptions.NoArgsIsHelpError):
            error.show()  # prints the help
            sys.exit(EXIT_BAD_INPUT)
        if isinstance(error, click.exceptions.ClickException):
            console.print(f"[red]error:[/] {error.format_message()}", highlight=False, soft_wrap=True)
            sys.exit(EXIT_BAD_INPUT)
        raise  # a bug: Python prints the traceback and exits 1 (EXIT_INTERNAL), a code no verdict uses
