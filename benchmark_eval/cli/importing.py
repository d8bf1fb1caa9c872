"""`benchmark-eval import`: another tool's run (stock OpenCompass, AISBench, lm-eval, EvalScope), or a pack of one of
ours from another host, as a run folder of ours, written where `run` writes (results_dir, else
the checkout's results/)."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import BaseModel, ConfigDict

from ..handoff import DATA_ROOT_ENV
from ..paths import default_results_root
from ..settings import setting, split_words
from ..stops import set_phase
from .app import app, console
from .options import parse_options, with_options


class ImportOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str | None = setting(None, flags=("--from",), help="opencompass, aisbench, lm-eval or evalscope (default: recognised from the folder)")
    model: str | None = setting(None, flags=("--model",), help="the model to import, when the folder holds several (OpenCompass's abbr, lm-eval's and EvalScope's model folder)")
    datasets: str | None = setting(None, flags=("--datasets",),
                                   help="the datasets to import, comma-separated: OpenCompass abbrs, lm-eval tasks, EvalScope benchmarks (default: every one that can be imported)")
    data_root: Path = setting(Path("."), env=DATA_ROOT_ENV, flags=("--data-root",),
                              help="the data the run used, holding data/ (default: .); OpenCompass predictions are scored again against it")
    out: Path = setting(default_factory=default_results_root, env="results_dir", flags=("--out",),
                        help="results root (default: the checkout's results/, as for run): the run folder goes to <out>/<model>/imported-<tool>/<stamp>")


@app.command("import", epilog=app.info.epilog)
@with_options(ImportOptions)
def import_cmd(folder: Path = typer.Argument(..., help="the output folder of a stock OpenCompass, AISBench or EvalScope run (its work dir, or the timestamped folder in it), lm-eval's --output_path (or one results_*.json in it), or a pack of a run of ours (benchmark-eval pack)"),
               **given: str | None) -> None:
    """Turn another tool's run into a run folder of ours, a baseline for compare (stock OpenCompass predictions are scored again with OpenCompass's evaluators; AISBench's, lm-eval's and EvalScope's per-sample scores are kept as they scored them), or unpack a pack made on another host into this host's results."""
    set_phase("import")
    from ..errors import UserError
    from ..interop import SummaryOnly, read_foreign
    from ..interop.importer import import_foreign
    from ..interop.summary_reference import summary_reference
    from ..results.pack import is_pack, unpack_into

    options = parse_options(ImportOptions, given)
    if is_pack(folder):  # a run of ours from another host: checked, then unpacked among this host's runs
        typer.echo(f"results: {unpack_into(folder, options.out)}")
        return
    try:
        wanted = split_words(options.datasets or "") or None
        foreign = read_foreign(folder, options.tool, options.model, wanted)
    except SummaryOnly as only:
        stem = only.summary.parent.parent.name
        written = summary_reference(only.summary, options.model, options.out / "references" / f"{stem}-1pct.yaml", only.tool)
        raise UserError(f"{only}; wrote the 1% rule over its summary instead: {written}; sign off with: "
                        f"benchmark-eval compare --reference {written} CANDIDATE (no paired statistics without predictions)") from None
    root = options.data_root.resolve()
    if foreign.tool == "opencompass" and not root.is_dir():
        raise UserError(f"data root {root} does not exist; pass --data-root (or set {DATA_ROOT_ENV}) to the data the run used")
    for reason in foreign.refused:
        console.print(f"left out: {reason}", highlight=False, soft_wrap=True)
    result = import_foreign(foreign, root, options.out, console)
    for abbr in result.rescored_differs:
        console.print(f"note: {abbr}: our evaluators' score differs from the one {foreign.tool} recorded "
                      "(both are in run.json: datasets.*.metrics, imported_from.original_metrics)", highlight=False, soft_wrap=True)
    typer.echo(f"imported {result.samples} samples of {foreign.model_abbr} from {foreign.folder}")
    typer.echo(f"results: {result.run_dir}")
