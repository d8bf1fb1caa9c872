"""Did two runs see the same inputs? Differences that make them incomparable, and the
expected differences (device, host, versions) shown side by side."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from ..results import RunManifest
from ..results.records import CONTINUATION, WHOLE_PROMPT
from .runs import LoadedRun


def served_name(manifest: RunManifest) -> str:
    """The model that answered: model_name may be only a label (runs before labels: the name)."""
    return manifest.model.served or manifest.model.name


def weights_folder(manifest: RunManifest) -> str:
    """The name of the weights' folder: local weights' path, or the folder a launcher-started
    server was given (`--model`), or the tokenizer's folder the run used."""
    if manifest.local is not None:
        return Path(manifest.local.path).name
    args = manifest.server.launch.args if manifest.server is not None and manifest.server.launch else []
    if "--model" in args[:-1]:
        return Path(args[args.index("--model") + 1]).name
    return Path(manifest.model.tokenizer_path or served_name(manifest)).name


def _model_differs(base: RunManifest, cand: RunManifest) -> str | None:
    if base.mode == cand.mode:
        a, b = served_name(base), served_name(cand)
        return f"model (served): {a!r} vs {b!r}" if a != b else None
    # Across backends a server answers to the name it was launched with (--served-model-name)
    # while local weights are named by their folder: the folder is what both sides share.
    a, b = weights_folder(base), weights_folder(cand)
    return f"model (weights folder): {a!r} vs {b!r}" if a != b else None


def generates(run: LoadedRun) -> bool:
    """Whether any sample was generated (PPL samples carry their choices' log-likelihoods)."""
    return not run.samples or any(sample.choices is None for sample in run.samples.values())


# Run-level settings that must match for a fair comparison, by the name the report gives them;
# True: a setting of generation only, which log-likelihood runs never use.
_MUST_MATCH: tuple[tuple[str, bool, Callable[[RunManifest], object]], ...] = (
    ("generation.max_out_len", True, lambda m: m.generation.max_out_len if m.generation else None),
    ("generation.temperature", True, lambda m: m.generation.temperature if m.generation else None),
    ("generation.max_seq_len", False, lambda m: m.generation.max_seq_len if m.generation else None),
)


def input_differences(base: LoadedRun, cand: LoadedRun, datasets: list[str]) -> list[str]:
    """Everything that makes the comparison unfair; empty when the inputs are the same."""
    out = []
    model = _model_differs(base.manifest, cand.manifest)
    if model:
        out.append(model)
    generated = generates(base) or generates(cand)
    for name, of_generation, value in _MUST_MATCH:
        if of_generation and not generated:
            continue
        a, b = value(base.manifest), value(cand.manifest)
        if a != b:
            out.append(f"{name}: {a!r} vs {b!r}")
    for ds in datasets:
        a_ds, b_ds = base.manifest.datasets[ds], cand.manifest.datasets[ds]
        if (a_ds.scoring == WHOLE_PROMPT) != (b_ds.scoring == WHOLE_PROMPT):
            # Their configs and prompts differ too, necessarily: this is the reason to name.
            out.append(f"{ds}: the scoring rules differ, {a_ds.scoring or CONTINUATION} (baseline) against "
                       f"{b_ds.scoring or CONTINUATION} (candidate): stock OpenCompass's perplexity tests choose by the "
                       "whole prompt, benchmark-eval by each choice's continuation; compare two stock perplexity runs, or two of ours")
            continue
        if a_ds.prompt_config_sha256 != b_ds.prompt_config_sha256:
            if a_ds.task_config is not None and b_ds.task_config is not None:  # lm-eval, EvalScope: say what differs
                keys = config_differences(a_ds.task_config, b_ds.task_config)
                out.append(f"{ds}: task config differs: {'; '.join(keys[:4])}{f'; and {len(keys) - 4} more' if len(keys) > 4 else ''}")
            else:
                out.append(f"{ds}: prompt/few-shot config differs (prompt_config_sha256)")
        if a_ds.files != b_ds.files and _known(base, a_ds.files) and _known(cand, b_ds.files):
            changed = sorted(set(a_ds.files.items()) ^ set(b_ds.files.items()))
            names = sorted({name for name, _ in changed})
            out.append(f"{ds}: data files differ ({', '.join(names[:3])})")
        prompts_differ = [
            key for key, sample in base.samples.items()
            if key[0] == ds and key in cand.samples and sample.prompt_sha256 != cand.samples[key].prompt_sha256
        ]
        if prompts_differ:
            out.append(f"{ds}: {len(prompts_differ)} sample prompt(s) differ (e.g. id {prompts_differ[0][1]})")
    return out


def config_differences(a: Mapping[str, object], b: Mapping[str, object], prefix: str = "") -> list[str]:
    """Each dotted key whose value differs between two task configs ("num_fewshot: 0 vs 5")."""
    out = []
    for key in sorted(set(a) | set(b), key=str):
        x, y = a.get(key), b.get(key)
        if isinstance(x, Mapping) and isinstance(y, Mapping):
            out += config_differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out.append(f"{prefix}{key}: {_short(x)} vs {_short(y)}")
    return out


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _known(run: LoadedRun, files: dict[str, str]) -> bool:
    """An imported run that could not hash its data files leaves that check to `unchecked_inputs`."""
    return bool(files) or run.manifest.imported_from is None


def unchecked_inputs(base: LoadedRun, cand: LoadedRun) -> list[str]:
    """The checks an imported run's folder leaves unmade: what it could not record, said once per side."""
    out = []
    for side, run in (("baseline", base), ("candidate", cand)):
        origin = run.manifest.imported_from
        if origin is not None:
            scored = "scored again by benchmark-eval" if origin.scored_by == "benchmark-eval" else f"as {origin.tool} scored it"
            out += [f"{side} (imported from {origin.tool}, {scored}) does not record {what}" for what in origin.unknown]
    return out


def numerics(manifest: RunManifest) -> dict[str, str] | None:
    """The settings of the thing under test that change its numbers: a server's numerics
    arguments (None when its launch is unknown), or local weights' dtype and parallelism."""
    if manifest.server is not None:
        return dict(manifest.server.launch.numerics) if manifest.server.launch else None
    if manifest.local is not None:
        local = {"dtype": manifest.local.dtype, "tensor_parallel_size": manifest.local.tensor_parallel_size}
        return {key: str(value).lower() for key, value in local.items() if value is not None}
    return None


def numerics_changes(base: LoadedRun, cand: LoadedRun) -> list[str]:
    """Each numerics setting that differs ("quantization: (default) -> fp8"), and the backend
    (vLLM server, vLLM offline, HF weights: the prompts are the same, the inference code is
    not): the change under test, said as such; it never makes the runs incomparable."""
    changes = []
    other_backend = base.manifest.mode != cand.manifest.mode
    if other_backend:
        changes.append(f"backend: {base.manifest.mode} -> {cand.manifest.mode}")
    else:  # one served name over other weights (a converted or re-exported copy): say which
        folders = weights_folder(base.manifest), weights_folder(cand.manifest)
        if folders[0] != folders[1]:
            changes.append(f"weights: {folders[0]} -> {folders[1]}")
    a, b = numerics(base.manifest), numerics(cand.manifest)
    if a is None or b is None:
        unknown = [side for side, n, run in (("baseline", a, base), ("candidate", b, cand)) if n is None and run.manifest.server]
        if unknown and (a or b):  # only worth saying where the other side's are known
            changes.append(f"{' and '.join(unknown)}: server launch arguments unknown (start it with vllm_api.py start, or set server_args)")
        return changes
    # Across backends only the settings both name compare (a server's max_model_len has no HF twin).
    keys = set(a) & set(b) if other_backend else set(a) | set(b)
    return changes + [f"{key}: {a.get(key, '(default)')} -> {b.get(key, '(default)')}"
                      for key in sorted(keys) if a.get(key) != b.get(key)]


def _numerics_row(m: RunManifest) -> str | None:
    values = numerics(m)
    return " ".join(f"{k}={v}" for k, v in sorted(values.items())) if values else None


def _host(m: RunManifest, field: str) -> object:
    return getattr(m.environment.host, field) if m.environment.host else None


ENVIRONMENT_ROWS: tuple[tuple[str, Callable[[RunManifest], object]], ...] = (
    ("device", lambda m: m.environment.device),
    ("backend", lambda m: m.mode),
    ("model (served / weights folder)", lambda m: f"{served_name(m)} / {weights_folder(m)}"),
    ("host", lambda m: _host(m, "hostname")),
    ("cpu", lambda m: _host(m, "cpu")),
    ("python", lambda m: _host(m, "python")),
    ("server", lambda m: m.server.url if m.server else None),
    ("model folder on server", lambda m: m.server.root if m.server else None),
    ("vLLM", lambda m: m.server.vllm_version if m.server else None),
    ("numerics settings", _numerics_row),
    ("accelerator", lambda m: m.server.launch.accelerator.summary() if m.server and m.server.launch and m.server.launch.accelerator else None),
    ("opencompass", lambda m: m.environment.packages.get("opencompass")),
    ("torch", lambda m: m.environment.packages.get("torch")),
    ("transformers", lambda m: m.environment.packages.get("transformers")),
    ("benchmark-eval", lambda m: m.tool.version if m.tool else None),
    ("imported from", lambda m: f"{m.imported_from.tool}: {m.imported_from.folder}" if m.imported_from else None),
    ("started", lambda m: m.started_at),
)


def environment_table(base: LoadedRun, cand: LoadedRun) -> list[tuple[str, str, str]]:
    return [(label, str(value(base.manifest) or "-"), str(value(cand.manifest) or "-")) for label, value in ENVIRONMENT_ROWS]


def is_noise_floor(base: LoadedRun, cand: LoadedRun) -> bool:
    """Same device and software on both sides: the comparison measures run-to-run noise."""
    if base.manifest.imported_from is not None or cand.manifest.imported_from is not None:
        return False  # an imported folder records no device or software to compare
    return all(a == b for label, a, b in environment_table(base, cand) if label not in ("started", "server"))
