"""Checks made before any long work: the server, the model it serves, the data files.

Each failure is one `UserError` line that says what is wrong and how to fix it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

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


@dataclass
class DataInfo:
    """What a dataset will read: its files (with sha256) and its sample count."""

    path: str
    files: dict[str, str] = field(default_factory=dict)
    rows: int = 0


def check_server(settings: RunSettings, timeout: float = 10.0) -> ServerInfo:
    url = settings.base_url
    where = f"host={settings.host} service_port={settings.port}"
    try:
        response = httpx.get(f"{url}/v1/models", timeout=timeout)
    except httpx.ConnectError as error:
        raise UserError(f"cannot reach a vLLM server at {url} ({error}); start one (python vllm_api.py start --model PATH --port {settings.port}) or fix {where}") from None
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
    if settings.model_name not in models:
        raise UserError(f"the server at {url} serves {', '.join(models) or 'no model'}, not '{settings.model_name}'; set model_name to the served name")
    entry = next(m for m in data if m["id"] == settings.model_name)
    version = None
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        version = str(httpx.get(f"{url}/version", timeout=timeout).json()["version"])
    return ServerInfo(url, models, entry.get("root"), entry.get("max_model_len"), version)


def resolve_tokenizer(settings: RunSettings, server: ServerInfo) -> Path:
    """A local tokenizer for OpenCompass's token counting (it would try the hub otherwise)."""
    if settings.tokenizer_path is not None:
        if not (settings.tokenizer_path / "tokenizer_config.json").is_file():
            raise UserError(f"tokenizer_path={settings.tokenizer_path} has no tokenizer_config.json; point it at the model's folder or a copy of its tokenizer files")
        return settings.tokenizer_path
    if server.root and (Path(server.root) / "tokenizer_config.json").is_file():
        return Path(server.root)
    raise UserError(f"no local tokenizer for '{settings.model_name}': the server's model folder ({server.root}) is not on this machine; set tokenizer_path to a local copy of the model's tokenizer")


@contextlib.contextmanager
def data_root_env(root: Path) -> Iterator[None]:
    """OpenCompass reads the data root from COMPASS_DATA_CACHE; set it only while needed."""
    saved = {k: os.environ.get(k) for k in ("COMPASS_DATA_CACHE", "DATASET_SOURCE")}
    os.environ["COMPASS_DATA_CACHE"] = str(root)
    os.environ.pop("DATASET_SOURCE", None)  # a hub source would mean downloads
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _data_location(cfg: dict[str, Any], root: Path) -> Path:
    from opencompass.utils.datasets_info import DATASETS_MAPPING

    raw = str(cfg.get("path", ""))
    if os.path.isabs(raw):
        return Path(raw)
    local = DATASETS_MAPPING.get(raw, {}).get("local", raw)
    return root / local


def _dataset_files(location: Path, subject: str | None) -> list[Path]:
    if location.is_file():
        return [location]
    files = sorted(p for p in location.rglob("*") if p.is_file())
    if subject:
        files = [p for p in files if p.name.startswith(f"{subject}_") or p.stem == subject]
    return files


def check_data(planned: list[PlannedDataset], root: Path) -> dict[str, DataInfo]:
    """Every dataset's files exist and load with OpenCompass's own loader; no downloads."""
    import datasets
    from opencompass.utils.build import build_dataset_from_cfg

    datasets.disable_progress_bars()  # loaders' "Map:" bars would bury the progress display

    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist; set COMPASS_DATA_CACHE to the folder that holds data/ (e.g. data/mmlu, data/ceval)")
    infos: dict[str, DataInfo] = {}
    with data_root_env(root):
        for item in planned:
            location = _data_location(item.cfg, root)
            if not location.exists():
                raise UserError(f"dataset {item.abbr} ({item.config_name}): no data at {location}; put the files there or set COMPASS_DATA_CACHE to the folder that holds data/")
            try:
                dataset = build_dataset_from_cfg(item.cfg)
                rows = len(dataset.test)
            except Exception as error:  # OpenCompass loaders fail with anything from asserts to KeyErrors
                detail = f"{type(error).__name__}: {error}".splitlines()[0][:300]
                raise UserError(f"dataset {item.abbr} ({item.config_name}): cannot read its data under {location} ({detail}); check the files' layout and columns") from None
            if rows == 0:
                raise UserError(f"dataset {item.abbr} ({item.config_name}): no samples under {location}; the file is empty or limit/test split selects nothing")
            files = _dataset_files(location, item.subject)
            infos[item.abbr] = DataInfo(
                str(location), {str(p.relative_to(root)) if p.is_relative_to(root) else str(p): sha256_file(p) for p in files}, rows
            )
    return infos
