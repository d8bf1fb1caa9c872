"""Did two runs see the same inputs? Differences that make them incomparable, and the
expected differences (device, host, versions) shown side by side."""

from __future__ import annotations

from typing import Any

from .runs import LoadedRun


def _get(d: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        d = d.get(part, {}) if isinstance(d, dict) else {}
    return d if d != {} else None


# Run-level fields that must match for a fair comparison.
_MUST_MATCH = ("generation.max_out_len", "generation.temperature", "generation.max_seq_len", "mode")


def served_model(manifest: dict[str, Any]) -> Any:
    """The model that answered: model_name may be only a label (runs before labels: the name)."""
    return _get(manifest, "model.served") or _get(manifest, "model.name")


def input_differences(base: LoadedRun, cand: LoadedRun, datasets: list[str]) -> list[str]:
    """Everything that makes the comparison unfair; empty when the inputs are the same."""
    out = []
    if served_model(base.manifest) != served_model(cand.manifest):
        out.append(f"model (served): {served_model(base.manifest)!r} vs {served_model(cand.manifest)!r}")
    for key in _MUST_MATCH:
        a, b = _get(base.manifest, key), _get(cand.manifest, key)
        if a != b:
            out.append(f"{key}: {a!r} vs {b!r}")
    for ds in datasets:
        a, b = base.manifest["datasets"][ds], cand.manifest["datasets"][ds]
        if a.get("prompt_config_sha256") != b.get("prompt_config_sha256"):
            out.append(f"{ds}: prompt/few-shot config differs (prompt_config_sha256)")
        a_files, b_files = a.get("files", {}), b.get("files", {})
        if a_files != b_files:
            changed = sorted(set(a_files.items()) ^ set(b_files.items()))
            names = sorted({name for name, _ in changed})
            out.append(f"{ds}: data files differ ({', '.join(names[:3])})")
        prompts_differ = [
            key for key in base.samples
            if key[0] == ds and key in cand.samples and base.samples[key]["prompt_sha256"] != cand.samples[key]["prompt_sha256"]
        ]
        if prompts_differ:
            out.append(f"{ds}: {len(prompts_differ)} sample prompt(s) differ (e.g. id {prompts_differ[0][1]})")
    return out


ENVIRONMENT_ROWS = (
    ("device", "environment.device"),
    ("host", "environment.host.hostname"),
    ("cpu", "environment.host.cpu"),
    ("python", "environment.host.python"),
    ("server", "server.url"),
    ("model folder on server", "server.root"),
    ("vLLM", "server.vllm_version"),
    ("opencompass", "environment.packages.opencompass"),
    ("torch", "environment.packages.torch"),
    ("transformers", "environment.packages.transformers"),
    ("benchmark-eval", "tool.version"),
    ("started", "started_at"),
)


def environment_table(base: LoadedRun, cand: LoadedRun) -> list[tuple[str, str, str]]:
    return [(label, str(_get(base.manifest, key) or "-"), str(_get(cand.manifest, key) or "-")) for label, key in ENVIRONMENT_ROWS]


def is_noise_floor(base: LoadedRun, cand: LoadedRun) -> bool:
    """Same device and software on both sides: the comparison measures run-to-run noise."""
    return all(a == b for label, a, b in environment_table(base, cand) if label not in ("started", "server"))
