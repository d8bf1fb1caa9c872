"""Backend: a running vLLM OpenAI-compatible server (vllm_path=vllm or vllm_ppl).

Preflight asks every endpoint what it serves (`/v1/models`, `/version`); generation goes over
chat completions and log-likelihoods over `/v1/completions` with prompt log-probs, both from
`benchmark_eval.plugins.models.vllm_api.VLLMApi` inside OpenCompass's own process.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import field_validator, model_validator

from ..errors import UserError
from ..handoff import WHOLE_DATASET, ApiModelEntry
from ..results import RunDir
from ..results.records import ServerLaunch, ServerTarget
from ..server.launch import declared_launch, recorded_launch
from ..settings import RunSettings, logprobs_setting, setting, split_words
from .base import Target

# Chat-style API: OpenCompass's HUMAN/BOT rounds map onto user/assistant messages.
API_META_TEMPLATE = {
    "round": [
        {"role": "HUMAN", "api_role": "HUMAN"},
        {"role": "BOT", "api_role": "BOT", "generate": True},
    ]
}


class ServerRunSettings(RunSettings):
    """A run against a running OpenAI-compatible server (vllm_path=vllm or vllm_ppl)."""

    mode: Literal["vllm"] = "vllm"
    host: str = setting("127.0.0.1", env="host", help="vLLM server host",
                        hint="set host to the server's host name or IP, e.g. host=127.0.0.1")
    port: int = setting(8000, env="service_port", flags=("--port",), help="vLLM server port", ge=1, le=65535,
                        hint="set service_port to the server's port, a whole number 1-65535, e.g. service_port=8000")
    # Several servers of the same model (HOST:PORT each); unset: host and port.
    endpoints: tuple[str, ...] | None = setting(
        None, env="endpoints", help="several servers of one model, HOST:PORT each",
        hint="set endpoints to servers of the same model as HOST:PORT, space- or comma-separated, e.g. endpoints='10.0.0.5:8000 10.0.0.6:8000'")
    tokenizer_path: Path | None = setting(None, env="tokenizer_path", help="local tokenizer folder")
    api_key: str = setting("EMPTY", env="api_key", help="API key of the server")
    request_timeout: float = setting(600.0, env="request_timeout", help="seconds per request", gt=0,
                                     hint="set request_timeout to a positive number of seconds")
    # Per request, after a refused/reset connection, a timeout or a 5xx.
    # Datasets whose prompts are built and requests queued together (plugins/tasks/overlapped_infer.py):
    # the server never idles at a dataset boundary. Answers do not depend on it.
    datasets_in_flight: int = setting(4, env="datasets_in_flight", help="datasets whose requests are in flight together", ge=1,
                                      hint="set datasets_in_flight to a whole number >= 1")
    logprobs: int = logprobs_setting()
    server_args: str | None = setting(
        None, env="server_args", help="the vLLM arguments of a server not started by vllm_api.py start (recorded; compare names numerics changes)",
        hint="set server_args to the server's vLLM arguments as one string, e.g. server_args='--dtype bfloat16 --quantization fp8'")
    retries: int = setting(3, env="max_retries", help="retries per request after a transient failure", ge=0,
                           hint="set max_retries to a whole number >= 0 (retries per request after a transient failure)")

    @model_validator(mode="after")
    def _model_name_given(self) -> ServerRunSettings:
        if not self.model_name.strip():
            raise ValueError("model_name is not set; set model_name to the name the server serves (see GET /v1/models)")
        return self

    @field_validator("host")
    @classmethod
    def _host_is_a_name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c in value for c in "/ ") or (":" in value and not value.startswith("[")):
            raise ValueError(f"{value!r} is not a host name (give the port in service_port)")
        return value

    @field_validator("endpoints", mode="before")
    @classmethod
    def _endpoint_list(cls, value: Any) -> Any:
        items = split_words(value) if isinstance(value, str) else value
        if items is None:
            return None
        for item in items:
            host, _, port = str(item).removeprefix("http://").rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{item!r} is not HOST:PORT")
        return tuple(str(item).removeprefix("http://").rstrip("/") for item in items) or None

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    @property
    def base_urls(self) -> list[str]:
        """Every server to spread requests over (the first one is the `host`/`service_port` one when unset)."""
        return [f"http://{e}" for e in self.endpoints] if self.endpoints else [f"http://{self.host}:{self.port}"]


@dataclass(frozen=True)
class ServerInfo:
    url: str
    models: list[str]
    root: str | None  # the model folder on the server's machine
    max_model_len: int | None
    version: str | None
    served_name: str  # the model requests go to (model_name, or the one model served)


class ServerApi:
    settings = ServerRunSettings
    in_process = True  # a thin HTTP client: no device, no process of its own

    def preflight(self, settings: ServerRunSettings) -> Target:
        server = check_server(settings)
        launch = server_launch(settings, server)
        record = ServerTarget(url=server.url, endpoints=settings.base_urls, models=server.models, root=server.root,
                              max_model_len=server.max_model_len, vllm_version=server.version, launch=launch)
        # The device: what the user said, else what vllm_api.py was started with on this host.
        device = settings.device or (launch.device if launch else None) or "unknown (served remotely)"
        return Target(record, resolve_tokenizer(settings, server), device, server.served_name)

    def model_entry(self, settings: ServerRunSettings, target: Target, run_dir: RunDir) -> ApiModelEntry:
        return ApiModelEntry(
            label=settings.model_abbr,
            model=target.served_name,
            key=settings.api_key,
            openai_api_base=f"{settings.base_url}/v1",
            endpoints=[f"{url}/v1" for url in settings.base_urls],
            tokenizer_path=str(target.tokenizer),
            temperature=settings.temperature,
            max_out_len=settings.max_out_len,
            max_seq_len=settings.max_seq_len,
            # OpenCompass hands the model `batch_size` prompts per call and waits for the slowest;
            # one call per dataset instead, with the user's batch_size as requests in flight.
            batch_size=WHOLE_DATASET,
            max_workers=settings.batch_size,
            datasets_in_flight=settings.datasets_in_flight,
            logprobs=settings.logprobs,
            ppl_requests=settings.ppl_requests,
            query_per_second=1000,  # no throttle: concurrency is the bound
            retry=settings.retries,
            timeout=settings.request_timeout,
            cache_path=str(run_dir.request_cache),
            log_dir=str(run_dir.logs),
            meta_template=API_META_TEMPLATE,
        )

    def task_env(self, settings: ServerRunSettings) -> dict[str, str]:
        return {}


BACKEND = ServerApi()


def check_server(settings: ServerRunSettings, timeout: float = 10.0) -> ServerInfo:
    """The (first) server, after checking that every endpoint answers and serves the same model."""
    infos = [_check_endpoint(settings, url, timeout) for url in settings.base_urls]
    first = infos[0]
    for other in infos[1:]:
        if (other.root, other.max_model_len, other.served_name) != (first.root, first.max_model_len, first.served_name):
            raise UserError(f"the endpoints serve different models: {first.url} serves {first.root} "
                            f"(max_model_len {first.max_model_len}), {other.url} serves {other.root} "
                            f"(max_model_len {other.max_model_len}); list only servers of one model in endpoints")
    return first


def _check_endpoint(settings: ServerRunSettings, url: str, timeout: float) -> ServerInfo:
    where = f"endpoints={' '.join(settings.endpoints)}" if settings.endpoints else f"host={settings.host} service_port={settings.port}"
    try:
        response = httpx.get(f"{url}/v1/models", timeout=timeout)
    except httpx.ConnectError as error:
        raise UserError(f"cannot reach a vLLM server at {url} ({error}); start one (python vllm_api.py start --model PATH --port {url.rsplit(':', 1)[1]}) or fix {where}") from None
    except httpx.TimeoutException:
        raise UserError(f"the server at {url} did not answer GET /v1/models within {timeout:.0f} s; check that it is a running vLLM server and {where} are right") from None
    except httpx.HTTPError as error:
        raise UserError(f"cannot talk to {url} ({type(error).__name__}: {error}); check {where}") from None
    try:
        response.raise_for_status()
        data = response.json()["data"]
        models = [str(m["id"]) for m in data]
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError):
        raise UserError(f"{url} answers but is not an OpenAI-compatible server (GET /v1/models gave HTTP {response.status_code}); check {where}") from None
    if settings.model_name in models:
        served_name = settings.model_name
    elif len(models) == 1:
        # The classic manual: model_name names the evaluation and "need not match the model the
        # server was started with". One model served: that is the one; model_name stays the label.
        served_name = models[0]
    else:
        raise UserError(f"the server at {url} serves {', '.join(models) or 'no model'}, not '{settings.model_name}'; "
                        "set model_name to one of the served names")
    entry = next(m for m in data if m["id"] == served_name)
    version = None
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        version = str(httpx.get(f"{url}/version", timeout=timeout).json()["version"])
    return ServerInfo(url, models, entry.get("root"), entry.get("max_model_len"), version, served_name)


def server_launch(settings: ServerRunSettings, server: ServerInfo) -> ServerLaunch | None:
    """How the server was started: vllm_api.py's launch record for a server it started on this
    host (every endpoint's, which must agree), else `server_args`, else unknown."""
    local = [url for url in settings.base_urls if _is_this_host(urlsplit(url).hostname)]
    recorded = [(url, launch) for url in local if (launch := recorded_launch(urlsplit(url).port or 80, server.root))]
    if not recorded:
        return declared_launch(settings.server_args) if settings.server_args else None
    first_url, first = recorded[0]
    for url, launch in recorded[1:]:
        if launch.numerics != first.numerics:
            raise UserError(f"the endpoints were started with different numerics settings: {first_url} {first.numerics}, "
                            f"{url} {launch.numerics}; list only servers started alike in endpoints")
    return first


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", socket.gethostname()}


def _is_this_host(hostname: str | None) -> bool:
    """Loopback, this host's name, or one of its own addresses (a server started with
    --host 0.0.0.0 or on the host's own address): only there can its launch record be."""
    if not hostname:
        return False
    if hostname in _LOCAL_HOSTS:
        return True
    try:
        family = socket.AF_INET6 if ":" in hostname else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((hostname, 0))  # binds only to an address of this host; sends nothing
        return True
    except OSError:
        return False


def resolve_tokenizer(settings: ServerRunSettings, server: ServerInfo) -> Path:
    """A local tokenizer for OpenCompass's token counting (it would try the hub otherwise)."""
    if settings.tokenizer_path is not None:
        if not (settings.tokenizer_path / "tokenizer_config.json").is_file():
            raise UserError(f"tokenizer_path={settings.tokenizer_path} has no tokenizer_config.json; point it at the model's folder or a copy of its tokenizer files")
        return settings.tokenizer_path
    if server.root and (Path(server.root) / "tokenizer_config.json").is_file():
        return Path(server.root)
    raise UserError(f"no local tokenizer for '{settings.model_name}': the server's model folder ({server.root}) is not on this machine; set tokenizer_path to a local copy of the model's tokenizer")
