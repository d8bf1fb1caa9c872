"""`benchmark-eval server start|stop`: vLLM's OpenAI-compatible server, started and stopped the
way runs find it (pid file, log and launch record under the server state folder)."""

from __future__ import annotations

import typer

from ..errors import UserError
from ..settings import ServerSettings
from .app import server_app
from .options import parse_options, with_options


@server_app.command("start", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                    epilog="Any other argument goes to vLLM's server as given (e.g. --quantization fp8 --kv-cache-dtype fp8) "
                           "and is kept in the launch record, so runs against this server record it.")
@with_options(ServerSettings)
def server_start(ctx: typer.Context, **options: str | None) -> None:
    """Start vLLM's OpenAI-compatible server and wait until it answers."""
    from ..server import start_server

    settings = parse_options(ServerSettings, {**options, "extra_args": tuple(ctx.args)}, env={})
    handle = start_server(settings)
    typer.echo(f"vLLM server '{handle.served_model_name}' ready at {handle.base_url} (pid {handle.pid}, log {handle.log_path})")


@server_app.command("stop")
def server_stop(port: int = typer.Option(8000)) -> None:
    """Stop the server started on PORT (and its worker processes)."""
    from ..paths import server_state_dir
    from ..server import stop_server

    if not stop_server(port, server_state_dir()):
        raise UserError(f"no server started by benchmark-eval is recorded on port {port}; nothing to stop")
    typer.echo(f"stopped the server on port {port}")
