"""The typed records a run leaves behind: run.json (`RunManifest`) and samples.jsonl (`Sample`).

Everything that reads or writes a run folder goes through these models, so a key spelled
wrongly on either side is a validation error, not a silent "-". run.json stays schema 1:
run folders written before these models (docs/examples) load unchanged.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

#: running: OpenCompass may still be working; ok: every dataset scored and samples.jsonl written;
#: failed: some dataset has no score; interrupted: a stop signal ended it (resume finishes it).
RunStatus = Literal["running", "ok", "failed", "interrupted"]


class _Record(BaseModel):
    # forbid: an unknown key is a typo or a folder of another tool, never something to ignore.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ToolInfo(_Record):
    name: str
    version: str


class ModelInfo(_Record):
    name: str
    served: str | None = None  # what requests named, when `name` is only the run's label
    abbr: str | None = None
    tokenizer_path: str | None = None


class AcceleratorInfo(_Record):
    """What a server ran on, read on its host when it started (server/accelerators.py)."""

    kind: Literal["npu", "cuda"]
    name: str | None = None  # the chip: 910B3, NVIDIA H100 80GB HBM3, ...
    count: int | None = None  # devices the host has
    driver: str | None = None
    firmware: str | None = None
    toolkit: str | None = None  # CANN 8.0.RC2, CUDA 13.0
    visible: str | None = None  # ASCEND_RT_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES as the server got it
    packages: dict[str, str] = Field(default_factory=dict)  # vllm-ascend, torch-npu, vllm, torch

    def summary(self) -> str:
        parts = [self.name or self.kind, f"x{self.count}" if self.count else None,
                 f"cards {self.visible}" if self.visible else None, f"driver {self.driver}" if self.driver else None,
                 f"firmware {self.firmware}" if self.firmware else None, self.toolkit,
                 *(f"{k} {v}" for k, v in sorted(self.packages.items()))]
        return ", ".join(p for p in parts if p)


class ServerLaunch(_Record):
    """How the server was started: its vLLM arguments, and those that change numerics
    (server/launch.py names them) by name, as compare reads them."""

    args: list[str]
    numerics: dict[str, str]  # dtype, quantization, kv_cache_dtype, max_model_len, ... -> value as given
    source: Literal["launcher", "declared"]  # vllm_api.py start's launch record, or the run's server_args
    accelerator: AcceleratorInfo | None = None  # the launcher's host: an NPU's or GPU's facts
    device: str | None = None  # the launcher's --device (cpu, cuda, npu); unknown for a declared launch


class ServerTarget(_Record):
    """The OpenAI-compatible server that answered, as it described itself."""

    url: str
    endpoints: list[str]
    models: list[str]
    root: str | None = None
    max_model_len: int | None = None
    vllm_version: str | None = None
    launch: ServerLaunch | None = None  # unknown when the server was started otherwise and server_args is unset


class LocalTarget(BaseModel):
    """Local weights: the folder, its config and the device(s); devices add their own facts."""

    model_config = ConfigDict(extra="allow")
    path: str
    device: str
    dtype: str | None = None
    hf_type: str | None = None
    tensor_parallel_size: int | None = None


class Generation(_Record):
    max_out_len: int
    temperature: float | None  # None: not sent, the server's default (an imported run's model config may leave it out)
    max_seq_len: int
    batch_size: int


class Slice(_Record):
    subjects: list[str]
    limit: int | None = None


#: How a log-likelihood test chose its answer: ours score each choice's continuation; stock
#: OpenCompass's perplexity tests the whole prompt (imported runs). Two rules never pair.
CONTINUATION = "continuation log-likelihood"
WHOLE_PROMPT = "whole-prompt perplexity"
Scoring = Literal["continuation log-likelihood", "whole-prompt perplexity"]
#: The tools whose output folders `import` reads.
ImportedTool = Literal["opencompass", "aisbench", "lm-eval", "evalscope"]


class DatasetRecord(_Record):
    config: str
    subject: str | None = None
    path: str | None = None
    files: dict[str, str]  # data file -> sha256
    samples: int
    prompt_config_sha256: str
    metrics: dict[str, float] = Field(default_factory=dict)  # filled when the run finishes
    records: int | None = None  # the evaluated split's records, limit or not: the full benchmark's size
    scoring: Scoring | None = None  # log-likelihood tests: the rule that chose the answer (None: generated)
    # An imported lm-eval or EvalScope run: the tool's own task config as it ran (what makes its
    # prompts and scores; its model and host settings left out), compared key by key.
    task_config: dict[str, Any] | None = None


class BenchmarkGroup(_Record):
    """One of OpenCompass's summary groups (mmlu, mmlu-stem, ceval, ...) as far as a run holds it.

    The score is OpenCompass's: the naive average of its subsets' scores, or the weighted one
    where the group has weights. A run that holds part of a group (`subjects`, `limit`) is
    labelled for what it is, never with the bare name.
    """

    name: str  # OpenCompass's name; "_ppl" appended over our log-likelihood abbrs ("mmlu_ppl")
    subsets: list[str]  # the run's dataset abbrs in the group, in OpenCompass's order
    total_subsets: int  # how many the full group has
    subset_metrics: dict[str, str] = Field(default_factory=dict)  # abbr -> metric, where the group names one
    weights: dict[str, float] | None = None  # weighted groups (mmlu-weighted), for the subsets present
    limit: int | None = None  # the run's per-subset sample limit
    scores: dict[str, float] = Field(default_factory=dict)  # OpenCompass's group rows, once the run finished
    source: Literal["lm-eval", "EvalScope"] | None = None  # whose group it is, when not OpenCompass's (an imported run's)

    @property
    def complete(self) -> bool:
        return len(self.subsets) == self.total_subsets and self.limit is None

    @property
    def average(self) -> Literal["naive", "weighted"]:
        return "weighted" if self.weights else "naive"

    @property
    def label(self) -> str:
        """The name OpenCompass's summary shows it under: the bare name only for all of it (no comma:
        its summary CSV turns commas into spaces)."""
        if self.complete:
            return self.name
        part = f"all {self.total_subsets} subjects" if len(self.subsets) == self.total_subsets \
            else f"{len(self.subsets)} of {self.total_subsets} subjects"
        return f"{self.name} ({part}{f'; limit {self.limit}' if self.limit is not None else ''})"

    def summary_group(self) -> dict[str, Any]:
        """The entry OpenCompass's summarizer averages (its `summary_groups` format)."""
        subsets: list[Any] = [[s, self.subset_metrics[s]] if s in self.subset_metrics else s for s in self.subsets]
        group: dict[str, Any] = {"name": self.label, "subsets": subsets}
        if self.weights:  # by abbr: OpenCompass looks "abbr@metric" up first, then the abbr
            group["weights"] = dict(self.weights)
        return group


class Host(_Record):
    hostname: str
    platform: str
    python: str
    cpu: str
    cpu_count: int | None = None


class Environment(_Record):
    host: Host | None = None
    device: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)


class LocalRunnerRecord(_Record):
    type: Literal["local"]


class SlurmRunnerRecord(_Record):
    type: Literal["slurm"]
    partition: str | None
    quotatype: str | None
    qos: str | None
    max_num_workers: int
    srun_args: list[str]
    jobs: list[dict[str, Any]] | None = None  # sacct's view of each job, once the run has finished


RunnerRecord = Annotated[LocalRunnerRecord | SlurmRunnerRecord, Field(discriminator="type")]


class Failure(_Record):
    dataset: str
    error: str | None = None
    log: str | None = None


class Interruption(_Record):
    at: str
    phase: str
    signal: str


class ServerLatency(_Record):
    """The server's own timing of the run's requests, from vLLM's /metrics histograms read before
    the first request and after the last (server/metrics.py). Server-wide: another client's
    requests to the same server in that time count too; `requests` says how many were covered.
    Percentiles are interpolated within vLLM's histogram buckets."""

    source: Literal["vllm /metrics"]
    requests: int  # requests the server finished between the two readings
    ttft_p50_s: float | None  # time to first token (vLLM times it whether or not the answer streams)
    ttft_p90_s: float | None
    ttft_p99_s: float | None
    e2e_p50_s: float | None  # arrival to last token, on the server
    e2e_p99_s: float | None
    queue_p50_s: float | None  # waiting to be scheduled
    queue_p99_s: float | None


class RequestStats(_Record):
    """How the run's requests went, from its client's logs (logs/request_batches.jsonl): the
    speed side by side with the accuracy, measured during the accuracy run itself. Only
    requests sent by this run count (answers from the request cache took no server time)."""

    sent: int  # requests answered by the server (not from the cache)
    from_cache: int  # answered from the request cache (a resumed run, or a repeated request)
    retried: int  # answered after more than one attempt
    failed_then_resumed: int  # failed for good in an earlier attempt, answered on resume
    request_phase_s: float  # the union of the spans with requests in flight
    requests_per_s: float | None
    output_tokens: int | None  # generated tokens of the sent requests (generation only)
    output_tokens_per_s: float | None
    latency_p50_s: float | None  # per request, first byte sent to last byte read, the answer's try only
    latency_p99_s: float | None
    # Time to first token: requests do not stream (one answer per request keeps the client simple
    # and its answers byte-identical to a plain request), so the client cannot see it; a vLLM
    # server's own histograms give it (None for a server without /metrics, and for local weights).
    server: ServerLatency | None = None


class ImportRecord(_Record):
    """Where an imported run came from (`benchmark-eval import`): another tool's output folder,
    turned into a run folder of ours. What that folder cannot tell is listed in `unknown`, and a
    comparison says which of its checks these facts leave unmade."""

    tool: ImportedTool
    folder: str
    config_file: str
    model_type: str  # the model class the tool ran (OpenAISDK, VLLMCustomAPIChat, ...)
    imported_at: str
    # benchmark-eval: the predictions were scored again by this toolkit's evaluators (OpenCompass's
    # post-processing and evaluation); the tool: its own per-sample results were kept as they were.
    scored_by: Literal["benchmark-eval", "aisbench", "lm-eval", "evalscope"]
    original_metrics: dict[str, dict[str, float]] = Field(default_factory=dict)  # the tool's own scores per dataset
    unknown: list[str] = Field(default_factory=list)  # facts the folder does not hold


class RunManifest(_Record):
    """run.json. What was never set is not written (a run folder from before a field existed
    reads back and writes out as it was); a top-level record set to None is absent."""

    schema_version: Literal[1] = Field(alias="schema")
    run_id: str | None = None
    tool: ToolInfo | None = None
    status: RunStatus
    started_at: str | None = None
    mode: str | None = None
    model: ModelInfo
    server: ServerTarget | None = None  # the target is a server or local weights, never both
    local: LocalTarget | None = None
    generation: Generation | None = None
    slice: Slice | None = None
    data_root: str | None = None
    datasets: dict[str, DatasetRecord]
    groups: list[BenchmarkGroup] | None = None  # OpenCompass's summary groups the datasets fill
    environment: Environment = Field(default_factory=Environment)
    settings: dict[str, Any] | None = None  # the RunSettings as given; resume re-parses them
    runner: RunnerRecord | None = None
    sandbox: dict[str, Any] | None = None  # the protections in force for model-written programs
    resumed_at: list[str] | None = None
    finished_at: str | None = None
    opencompass_exit_code: int | None = None
    failures: list[Failure] | None = None
    failed_requests: list[dict[str, Any]] | None = None
    interrupted: Interruption | None = None
    samples: int | None = None  # lines in samples.jsonl, once written
    requests: RequestStats | None = None  # server runs, once finished
    imported_from: ImportRecord | None = None  # a run of another tool, imported

    def to_json(self) -> str:
        data = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return json.dumps({k: v for k, v in data.items() if v is not None}, indent=2, ensure_ascii=False) + "\n"

    def metrics(self, dataset: str) -> dict[str, float]:
        record = self.datasets.get(dataset)
        return dict(record.metrics) if record else {}


class Choice(_Record):
    """One answer option of a log-likelihood (PPL) item, scored by the shared rule."""

    label: str | int
    loglik: float
    n_tokens: int | None = None  # None: the tool that scored it did not say (lm-eval)
    mean: float | None = None


class GenerationTrace(_Record):
    """What the server said about a generation besides its text: why it stopped, how many tokens,
    and (logprobs >= 1) each generated token with its log-prob and the top-k alternatives, the
    material of compare's divergence analysis and flip triage. Log-probs are rounded to 5
    decimals (fp32 noise is about 1e-6, a bf16 difference about 1e-2); None is a log-prob the
    server gave as NaN."""

    finish_reason: str | None = None  # stop, length, ...
    output_tokens: int | None = None
    tokens: list[str] | None = None  # as the server spells them (the end-of-text token included)
    logprobs: list[float | None] | None = None
    top: list[list[tuple[str, float | None]]] | None = None  # per position: (token, log-prob), best first


class Sample(_Record):
    """One line of samples.jsonl: a scored sample, the unit every comparison pairs."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    dataset: str
    id: str
    prompt_sha256: str  # of the exact prompt sent (for PPL: with every choice's continuation)
    # The writing systems of the prompt's letters (results/scripts.py): an answer in one of them
    # is never "foreign" to flip triage. None in runs written before it was recorded.
    prompt_scripts: list[str] | None = None
    prediction: Any = None  # the raw model output
    extracted: Any = None  # after OpenCompass's post-processing
    reference: Any = None
    scores: dict[str, float]  # correct (0/1), rouge1, ...: whatever the evaluator scored per sample
    chosen: str | int | None = None  # PPL: the label with the highest log-likelihood
    choices: list[Choice] | None = None
    generation: GenerationTrace | None = None  # generative samples of server runs

    @property
    def key(self) -> tuple[str, str]:
        return self.dataset, self.id

    def to_json(self) -> str:
        # exclude_unset: generative lines carry no chosen/choices keys at all, as always.
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), ensure_ascii=False, sort_keys=True)
