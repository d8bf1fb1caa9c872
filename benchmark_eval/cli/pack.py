"""`benchmark-eval pack RUN`: a run folder as one checked file, to compare on another host."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import BaseModel, ConfigDict

from ..settings import setting
from ..stops import set_phase
from .app import app
from .options import parse_options, with_options


class PackOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    out: Path | None = setting(None, flags=("--out",), help="the pack file, or a folder for it (default: beside the run, <run>.pack.tar.gz)")
    logs: bool = setting(False, flags=("--logs/--no-logs",), help="also pack logs/ (OpenCompass's logs, request logs, generation traces)")


def compare_out(run: Path) -> Path:
    """compare's default report folder for a candidate: in its run folder, or beside its pack."""
    from ..results import RunDir
    from ..results.pack import SUFFIX, is_pack

    return run.parent / f"{run.name.removesuffix(SUFFIX)}-compare" if is_pack(run) else RunDir(run).compare_out


@app.command("pack", epilog=app.info.epilog)
@with_options(PackOptions)
def pack_cmd(run: Path = typer.Argument(..., help="a finished run folder"), **given: str | None) -> None:
    """Write a run folder as one file (run.json, samples.jsonl, summary, configs; --logs adds logs/) with the sha256 of each file in it: copy it to another host and pass it to compare as you would the folder."""
    set_phase("packing")
    from ..results.pack import write_pack

    options = parse_options(PackOptions, given)
    path, digest = write_pack(run, options.out, options.logs)
    typer.echo(f"pack: {path} (sha256 {digest})")
