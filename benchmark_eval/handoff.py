"""Everything that crosses from the run's process into OpenCompass's, declared once.

A run reaches OpenCompass's process three ways: the model entry in the plan config (one typed
entry per backend below, turned into OpenCompass's dict only by `to_config`), the command line
(`opencompass_argv`), and environment variables (the names below). Both sides import their
names from here: the run side (run/, backends/) and the side that runs inside OpenCompass
(plugins/). OpenCompass's own names for our concepts appear only here: `abbr` is the model's
label (results are filed under it) and `path` the name requests carry over an API, or the
weights folder of a local model. This module imports nothing of the package: it is the bottom.

The model's names, one word each across the package: its label is `model_name` (the classic
env var; run.json's `model.name`), the label's folder-safe form `model_abbr`
(`paths.folder_safe`; OpenCompass files its outputs under it), the name requests carry
`served_name` (run.json's `model.served`), and a local model's weights folder `model_path`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

#: OpenCompass's own variable for the data root (its `get_data_path` joins dataset paths to it).
DATA_ROOT_ENV = "COMPASS_DATA_CACHE"
#: Set: OpenCompass's process imports, then waits for a line "go" on stdin before it starts.
WAIT_FOR_GO_ENV = "BENCHMARK_EVAL_WAIT_FOR_GO"
#: The folder where the data preflight leaves each dataset it built (compat/built_datasets.py).
BUILT_DATASETS_ENV = "BENCHMARK_EVAL_BUILT_DATASETS"
#: The file the model classes append one byte to per answered request (the progress display).
PROGRESS_ENV = "BENCHMARK_EVAL_PROGRESS_FILE"
#: Set: OpenCompass's process starts the model's client process while it waits for "go".
PRESTART_CLIENT_ENV = "BENCHMARK_EVAL_PRESTART_CLIENT"
#: A tokenizer folder that OpenCompass's process loads while it waits for "go".
PRELOAD_TOKENIZER_ENV = "BENCHMARK_EVAL_PRELOAD_TOKENIZER"

#: Under a model entry's `log_dir`: each generation's trace, `<host>-<pid>.jsonl`.
GENERATIONS_FOLDER = "generations"

#: OpenCompass's CLI as this toolkit runs it (plugins/entry.py), and as it ships.
LAUNCH = "from benchmark_eval.plugins.entry import opencompass_main; opencompass_main()"
STOCK_LAUNCH = "import sys; from opencompass.cli.main import main; sys.argv[0] = 'opencompass'; main()"


def opencompass_argv(plan_config: Path, run_folder: Path) -> list[str]:
    """OpenCompass's arguments for a run folder: its work dir is the folder's parent and its
    "reuse" stamp the folder's name, so it writes predictions/, results/, summary/ and logs/
    into the run folder itself (and `-r` resumes a stopped run from its tmp files)."""
    return [str(plan_config), "-w", str(run_folder.parent), "-r", run_folder.name]


def generations_folder(log_dir: str | Path) -> Path:
    return Path(log_dir) / GENERATIONS_FOLDER


#: `batch_size` of an API model entry: OpenCompass's inferencers hand the model `batch_size`
#: prompts per call and wait for the slowest of them; this hands it the whole dataset in one
#: call, and our client keeps the user's batch_size requests in flight across it.
WHOLE_DATASET = 1_000_000

#: Keys of a model entry that OpenCompass keeps to itself (its build_model_from_cfg removes
#: them before it calls the class); every other key is one of the class's parameters.
OPENCOMPASS_ONLY_KEYS = ("abbr", "batch_size", "max_out_len", "run_cfg")
#: Our field -> OpenCompass's key for it.
_OPENCOMPASS_NAMES = {"label": "abbr", "model": "path"}


@dataclass(frozen=True)
class ModelEntry:
    """A model entry of the plan config. Subclasses list their fields in the order the config
    has always written them (the plan config's text, hence its hash, depends on it)."""

    #: The model class OpenCompass builds (a dotted path into benchmark_eval.plugins.models).
    opencompass_class: ClassVar[str]

    def to_config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": self.opencompass_class}
        for f in fields(self):
            entry[_OPENCOMPASS_NAMES.get(f.name, f.name)] = getattr(self, f.name)
        return entry


@dataclass(frozen=True)
class ApiModelEntry(ModelEntry):
    """A running OpenAI-compatible server (plugins/models/vllm_api.py: VLLMApi)."""

    opencompass_class: ClassVar[str] = "benchmark_eval.plugins.models.vllm_api.VLLMApi"

    label: str  # the model's label: results are filed under it
    model: str  # the served name: what the requests name
    key: str
    openai_api_base: str
    endpoints: list[str]
    tokenizer_path: str
    temperature: float
    max_out_len: int
    max_seq_len: int
    batch_size: int  # prompts per call from OpenCompass's inferencers
    max_workers: int  # requests in flight
    datasets_in_flight: int
    logprobs: int
    ppl_requests: str  # next_token or prompt_logprobs (RunSettings.ppl_requests)
    query_per_second: int
    retry: int
    timeout: float
    cache_path: str  # answered requests (resume re-uses them)
    log_dir: str  # failed requests, batches and generation traces
    meta_template: dict[str, Any]


@dataclass(frozen=True)
class LocalModelEntry(ModelEntry):
    """The part every local-weights entry has (HF transformers, vLLM offline)."""

    logprobs: int
    ppl_requests: str  # next_token or prompt_logprobs (RunSettings.ppl_requests)
    log_dir: str  # generation traces go to <log_dir>/generations/
    label: str
    model: str  # the weights folder
    hf_type: str
    dtype: str
    max_seq_len: int
    max_out_len: int
    batch_size: int


@dataclass(frozen=True)
class HfModelEntry(LocalModelEntry):
    """Hugging Face transformers on local weights (plugins/models/hf_local.py: HFCausalLM)."""

    opencompass_class: ClassVar[str] = "benchmark_eval.plugins.models.hf_local.HFCausalLM"

    device: str = "cpu"
    num_devices: int = 1
    run_cfg: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OfflineModelEntry(LocalModelEntry):
    """vLLM's engine in a worker process (plugins/models/vllm_offline.py: VLLMOffline)."""

    opencompass_class: ClassVar[str] = "benchmark_eval.plugins.models.vllm_offline.VLLMOffline"

    vllm_python: str = ""
    tensor_parallel_size: int = 1
    scoring_batch_size: int = 64  # OpenCompass keeps batch_size to itself
    device: str = "cpu"
    run_cfg: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
