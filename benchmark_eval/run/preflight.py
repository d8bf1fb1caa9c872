"""Checks made before any long work: the server, the model it serves, the data files.

Each failure is one `UserError` line that says what is wrong and how to fix it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..data.check import DataInfo, DataProblem, data_root_env, inspect_dataset
from ..errors import UserError
from ..plan import PlannedDataset
from ..settings import RunSettings


@dataclass(frozen=True)
class ServerInfo:
    url: str
    models: list[str]
    root: str | None  # the model folder on the server's machine
    max_model_len: int | None
    version: str | None
    served_name: str  # the model requests go to (model_name, or the one model served)


def check_server(settings: RunSettings, timeout: float = 10.0) -> ServerInfo:
    """The (first) server, after checking that every endpoint answers and serves the same model."""
    infos = [_check_endpoint(settings, url, timeout) for url in settings.base_urls]
    first = infos[0]
    for other in infos[1:]:
        if (other.root, other.max_model_len, other.served_name) != (first.root, first.max_model_len, first.served_name):
            raise UserError(f"the endpoints serve different models: {first.url} serves {first.root} "
                            f"(max_model_len {first.max_model_len}), {other.url} serves {other.root} "
                            f"(max_model_len {other.max_model_len}); list only servers of one model in endpoints")
    return first


def _check_endpoint(settings: RunSettings, url: str, timeout: float) -> ServerInfo:
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
        served = settings.model_name
    elif len(models) == 1:
        # The classic manual: model_name names the evaluation and "need not match the model the
        # server was started with". One model served: that is the one; model_name stays the label.
        served = models[0]
    else:
        raise UserError(f"the server at {url} serves {', '.join(models) or 'no model'}, not '{settings.model_name}'; "
                        "set model_name to one of the served names")
    entry = next(m for m in data if m["id"] == served)
    version = None
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        version = str(httpx.get(f"{url}/version", timeout=timeout).json()["version"])
    return ServerInfo(url, models, entry.get("root"), entry.get("max_model_len"), version, served)


def resolve_tokenizer(settings: RunSettings, server: ServerInfo) -> Path:
    """A local tokenizer for OpenCompass's token counting (it would try the hub otherwise)."""
    if settings.tokenizer_path is not None:
        if not (settings.tokenizer_path / "tokenizer_config.json").is_file():
            raise UserError(f"tokenizer_path={settings.tokenizer_path} has no tokenizer_config.json; point it at the model's folder or a copy of its tokenizer files")
        return settings.tokenizer_path
    if server.root and (Path(server.root) / "tokenizer_config.json").is_file():
        return Path(server.root)
    raise UserError(f"no local tokenizer for '{settings.model_name}': the server's model folder ({server.root}) is not on this machine; set tokenizer_path to a local copy of the model's tokenizer")


def check_data(planned: list[PlannedDataset], root: Path) -> dict[str, DataInfo]:
    """Every dataset's files exist, read cleanly and load with OpenCompass's own loader; no downloads."""
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist; set COMPASS_DATA_CACHE to the folder that holds data/ (e.g. data/mmlu, data/ceval)")
    infos: dict[str, DataInfo] = {}
    with data_root_env(root):
        for item in planned:
            try:
                infos[item.abbr] = inspect_dataset(item, root)
            except DataProblem as problem:
                raise UserError(f"dataset {item.abbr} ({item.config_name}): {problem.problem}; {problem.fix} "
                                f"(benchmark-eval data check lists every problem)") from None
    return infos
