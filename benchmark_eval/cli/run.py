"""`benchmark-eval run`: evaluate a server, vLLM offline or local weights (or the embedded demo).
Its options are the run settings' own declarations (backends/selection.py): one per field."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table

from ..backends.selection import cli_options, env_vars, run_settings_from_env
from ..console import make_console
from ..errors import UserError
from ..handoff import DATA_ROOT_ENV
from ..settings import process_env
from .app import app, console

if TYPE_CHECKING:  # the pipeline imports OpenCompass: only when a run starts
    from ..run.pipeline import RunResult

#: `resume` is read from the environment as the classic script's users set it.
RESUME_ENV = "resume"


def _given_settings(flags: dict[str, str | None]) -> list[str]:
    """The run settings this invocation names (env vars and flags), for the demo-or-target decision.
    COMPASS_DATA_CACHE is left out: people export it for every OpenCompass job."""
    names = {field: names[0] for field, names, _ in cli_options()}
    env = process_env()
    return [names[k] for k, v in flags.items() if v is not None] + [v for v in env_vars() if v != DATA_ROOT_ENV and v in env]


def _names_a_target(flags: dict[str, str | None]) -> bool:
    """Local weights (hf_path) or a served model (model_name), given as a flag or an env var."""
    fields, env = env_vars(), process_env()
    local = bool(flags.get("model_path")) or any(v.strip() for k, v in env.items() if fields.get(k) == "model_path")
    return local or flags.get("model_name") is not None or any(fields.get(k) == "model_name" for k in env)


def _print_scores(result: RunResult) -> None:
    table = Table(title="scores")
    for column in ("dataset", "metric", "score"):
        table.add_column(column)
    for outcome in result.outcomes:
        for metric, value in outcome.metrics.items():
            table.add_row(outcome.abbr, metric, f"{value:.2f}")
    if result.groups:
        table.add_section()
    for group in result.groups:  # OpenCompass's own averages over the subjects above
        averages = {m: v for m, v in group.scores.items() if m.endswith("_average")} or group.scores
        for metric, value in averages.items():  # its summary repeats the average under the subsets' metric
            table.add_row(group.label, metric, f"{value:.2f}")
    make_console(stderr=False).print(table)
    typer.echo(f"results: {result.run_dir}")  # plain: scripts and tests parse this line


def run(resume: str | None = None, demo: bool = False, **flags: str | None) -> None:
    """Evaluate with OpenCompass: a running vLLM server, vLLM offline, or local weights (or the embedded demo)."""
    from ..run.pipeline import run_evaluation

    resume = resume if resume is not None else (process_env().get(RESUME_ENV) or "").strip() or None
    if resume is not None:
        from ..run.pipeline import resume_evaluation
        from ..run.resume import find_run_to_resume

        # A moved run finds its data where this host has them (the files' hashes are checked).
        here = flags.get("data_root") or process_env().get(DATA_ROOT_ENV)
        folder = find_run_to_resume(resume, process_env(), flags)
        _print_scores(resume_evaluation(folder, console, data_root=Path(here).expanduser().resolve() if here else None))
        return
    given = _given_settings(flags)
    if demo or not given:
        from ..demo.run import run_demo

        _print_scores(run_demo(console))
        return
    if not _names_a_target(flags):
        # Only no settings at all is the demo: settings without a target are a mistake, not a demo run.
        raise UserError(f"{', '.join(given)} given but no model_name: set model_name (and eval_datasets) to evaluate "
                        "a server, hf_path for local weights, or unset them all to run the demo")
    settings = run_settings_from_env(process_env(), **flags)
    _print_scores(run_evaluation(settings, console))


run.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
    *(inspect.Parameter(field, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],  # noqa: UP045 - typer needs Optional
                        default=typer.Option(None, *names, help=text)) for field, names, text in cli_options()),
    inspect.Parameter("resume", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],  # noqa: UP045
                      default=typer.Option(None, help=f"finish a stopped run: its folder, or 1 for the latest unfinished one (env {RESUME_ENV})")),
    inspect.Parameter("demo", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                      default=typer.Option(False, help="run the embedded demo (also the default with no env vars)")),
])
app.command()(run)
