"""`benchmark-eval data check|convert`: is a data root complete and readable; raw sources into
OpenCompass's layouts."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import BaseModel, ConfigDict
from rich.table import Table

from ..console import make_console
from ..errors import UserError
from ..handoff import DATA_ROOT_ENV
from ..settings import RunSettings, declaration, setting, split_words
from ..stops import set_phase
from .app import data_app
from .options import parse_options, with_options


class CheckOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path = setting(Path("."), env=DATA_ROOT_ENV, flags=("--root",), help="data root holding data/ (default: .)")
    # Read from the run setting's env var when no dataset is named on the command line.
    datasets: str | None = setting(None, env=declaration(RunSettings, "datasets")["env"], flags=("--datasets",),
                                   help="dataset configs, as for run (or give them as arguments)")


@data_app.command("check")
@with_options(CheckOptions)
def data_check(names: list[str] | None = typer.Argument(None, help="dataset configs (default: eval_datasets, else the demo's)"),
               **given: str | None) -> None:
    """Say, per dataset, whether the data root has every file OpenCompass will open, readable."""
    set_phase("data check")
    from ..data.check import check_root
    from ..demo.run import DATASETS

    options = parse_options(CheckOptions, given)
    datasets = split_words(" ".join(names or [])) or split_words(options.datasets or "") or DATASETS
    data_root = options.root.resolve()
    if not data_root.is_dir():
        raise UserError(f"data root {data_root} does not exist; pass --root, the folder that holds data/")
    rows = check_root(datasets, data_root)
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


class ConvertOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Path = setting(flags=("--from",), help="XSum: a .summary folder, CSV, JSONL or Parquet; MMLU/C-Eval: CSV, JSONL or Parquet",
                           hint="pass the raw data with --from")
    out: Path = setting(flags=("--out",), help="data root to write (data/... is created under it)", hint="pass --out, the data root to write")
    split: str | None = setting(None, flags=("--split",), help="split to write (XSum: which ids of the release; default test, C-Eval val)")
    subject: str | None = setting(None, flags=("--subject",), help="subject, when the source has no subject column")
    force: bool = setting(False, flags=("--force/--no-force",), help="overwrite existing files")


@data_app.command("convert")
@with_options(ConvertOptions)
def data_convert(dataset: str = typer.Argument(..., help="xsum, mmlu or ceval"), **given: str | None) -> None:
    """Convert a raw dataset source into the layout OpenCompass reads (deterministic, ids kept)."""
    set_phase("data conversion")
    from ..data.convert import CONVERTERS, write_conversion

    options = parse_options(ConvertOptions, given)
    if dataset not in CONVERTERS:
        raise UserError(f"no converter for '{dataset}'; use one of {', '.join(CONVERTERS)}")
    if not options.source.exists():
        raise UserError(f"{options.source} does not exist; pass the raw data with --from")
    extra = {"split": options.split} if options.split else {}
    result = CONVERTERS[dataset](options.source, subject=options.subject, **extra)
    for rid, why in result.skipped:
        typer.echo(f"skipped {rid}: {why}")
    out = options.out.resolve()
    for path in write_conversion(result, out, options.force):
        typer.echo(f"wrote {path} ({result.written[path.relative_to(out)]} records)")
    typer.echo(f"{sum(result.written.values())} records written, {len(result.skipped)} skipped")
