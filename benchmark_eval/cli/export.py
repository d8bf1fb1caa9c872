"""`benchmark-eval export`: a run in stock OpenCompass's or AISBench's output layout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from pydantic import BaseModel, ConfigDict

from ..settings import setting
from ..stops import set_phase
from .app import app
from .options import parse_options, with_options


class ExportOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fmt: Literal["opencompass", "aisbench"] = setting(flags=("--format",), help="opencompass or aisbench: the output layout of that tool",
                                                      hint="give opencompass or aisbench, e.g. --format opencompass")
    out: Path = setting(Path("exported"), flags=("--out",), help="folder to write <out>/<stamp>/ into (default: exported)")


@app.command("export", epilog=app.info.epilog)
@with_options(ExportOptions)
def export_cmd(run_folder: Path = typer.Argument(..., help="a finished run folder of benchmark-eval"), **given: str | None) -> None:
    """Write a run in stock OpenCompass's or AISBench's output layout (predictions, results with per-sample details, summary, config)."""
    set_phase("export")
    from ..interop.export import export_run

    options = parse_options(ExportOptions, given)
    typer.echo(f"exported: {export_run(run_folder, options.fmt, options.out)}")
