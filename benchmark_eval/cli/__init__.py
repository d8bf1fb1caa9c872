"""The `benchmark-eval` command line, one module per command; the shell scripts are thin shims
over it. Only app.main prints errors: a `UserError` becomes one line and its exit code."""

from . import run, server, compare, pack, importing, export, plan_signoff, data, prepare_demo  # noqa: F401, I001 - each registers its command, in --help's order
from .app import app, main

__all__ = ["app", "main"]
