"""The typed run records, on a real run folder: the demo run of 2026-11-22 (OpenCompass's
predictions/, results/, summary/ and our run.json + samples.jsonl, as they were written), and
the schema-1 runs in docs/examples written before these models existed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from benchmark_eval.paths import REPO_ROOT
from benchmark_eval.results import RunDir, RunManifest, Sample, SampleLineError, build_samples, read_outcomes

DEMO_RUN = RunDir(Path(__file__).parent / "data" / "demo-run")
EXAMPLE_RUNS = sorted((REPO_ROOT / "docs" / "examples" / "runs").iterdir())


def test_samples_are_rebuilt_byte_for_byte_from_opencompass_outputs(tmp_path: Path) -> None:
    manifest = DEMO_RUN.read_manifest()
    assert manifest.model.abbr is not None
    samples = [s for abbr in manifest.datasets for s in build_samples(DEMO_RUN, manifest.model.abbr, abbr)]
    out = RunDir(tmp_path)
    out.write_samples(samples)
    assert out.samples.read_bytes() == DEMO_RUN.samples.read_bytes()
    assert len(samples) == manifest.samples
    # generative lines carry no choice keys; log-likelihood lines carry every choice
    ppl = [s for s in samples if s.dataset.endswith("_ppl")]
    assert ppl and all(s.choices and s.chosen in {c.label for c in s.choices} for s in ppl)
    assert all("choices" not in json.loads(s.to_json()) for s in samples if not s.dataset.endswith("_ppl"))


def test_outcomes_read_the_scores_run_json_recorded() -> None:
    manifest = DEMO_RUN.read_manifest()
    assert manifest.model.abbr is not None
    outcomes = read_outcomes(DEMO_RUN, manifest.model.abbr, list(manifest.datasets))
    assert all(o.ok for o in outcomes)
    assert {o.abbr: o.metrics for o in outcomes} == {abbr: d.metrics for abbr, d in manifest.datasets.items()}


def test_a_dataset_without_results_is_a_failure_naming_its_log(tmp_path: Path) -> None:
    shutil.copytree(DEMO_RUN.path, tmp_path / "run")
    run = RunDir(tmp_path / "run")
    manifest = run.read_manifest()
    assert manifest.model.abbr is not None
    first = next(iter(manifest.datasets))
    run.results(manifest.model.abbr, first).unlink()
    [outcome] = read_outcomes(run, manifest.model.abbr, [first])
    assert not outcome.ok and outcome.error == "no results (evaluation failed)"
    assert outcome.log == str(run.opencompass_log)  # the eval task ran inside OpenCompass's process


def test_a_results_file_cut_off_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    """Evaluations run while requests are in flight (OverlappedInferTask.evaluate_now), so a stop
    can cut a results file short; resume re-evaluates a dataset whose outcome is a failure."""
    shutil.copytree(DEMO_RUN.path, tmp_path / "run")
    run = RunDir(tmp_path / "run")
    manifest = run.read_manifest()
    assert manifest.model.abbr is not None
    first, second = list(manifest.datasets)[:2]
    path = run.results(manifest.model.abbr, first)
    path.write_bytes(path.read_bytes()[:40])
    run.results(manifest.model.abbr, second).write_text("[]")
    cut, empty = read_outcomes(run, manifest.model.abbr, [first, second])
    assert not cut.ok and "not valid JSON" in (cut.error or "")
    assert not empty.ok and "no scores" in (empty.error or "")


@pytest.mark.parametrize("folder", [DEMO_RUN.path, *EXAMPLE_RUNS], ids=lambda p: p.name)
def test_schema_1_runs_load_and_round_trip(folder: Path) -> None:
    """Folders written before the typed records (docs/examples) and after load alike, and
    writing a loaded manifest back changes no value."""
    raw = json.loads((folder / "run.json").read_text())
    manifest = RunManifest.model_validate(raw)
    assert manifest.schema_version == 1 and manifest.status == "ok"
    assert json.loads(manifest.to_json()) == raw
    samples = RunDir(folder).read_samples()
    assert len(samples) == manifest.samples
    assert [json.loads(s.to_json()) for s in samples] == [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("where", "edit"), [
    ("top level", lambda m: m.update(satus=m.pop("status"))),
    ("generation", lambda m: m["generation"].update(max_out_length=m["generation"].pop("max_out_len"))),
    ("a dataset", lambda m: next(iter(m["datasets"].values())).update(prompt_sha="x")),
    ("status", lambda m: m.update(status="done")),
])
def test_a_misspelled_or_unknown_key_is_refused(where: str, edit: Callable[[dict[str, Any]], object]) -> None:
    raw = json.loads(DEMO_RUN.manifest.read_text())
    edit(raw)
    with pytest.raises(ValidationError):
        RunManifest.model_validate(raw)


def test_status_is_read_alone_for_folders_that_are_not_whole_records(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.read_status() is None
    run.manifest.write_text('{"status": "ok", "settings": {}}')
    assert run.read_status() == "ok"
    with pytest.raises(ValidationError):
        run.read_manifest()
    run.manifest.write_text("{not json")
    assert run.read_status() is None


def test_a_broken_samples_line_is_named(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    good = Sample(dataset="d", id="0", prompt_sha256="0" * 64, scores={"correct": 1.0})
    run.samples.write_text(good.to_json() + "\n" + '{"dataset": "d", "id": "1"}\n')
    with pytest.raises(SampleLineError) as error:
        run.read_samples()
    assert error.value.line == 2


def test_numeric_ids_become_strings_and_only_set_fields_are_written() -> None:
    sample = Sample.model_validate({"dataset": "d", "id": 7, "prompt_sha256": "p", "scores": {"correct": 1}})
    assert sample.id == "7" and sample.key == ("d", "7")
    assert json.loads(sample.to_json()) == {"dataset": "d", "id": "7", "prompt_sha256": "p", "scores": {"correct": 1.0}}


def test_h100_vllm_example_runs_load_with_their_launch() -> None:
    """docs/examples/h100-vllm: runs made on the H100 keep the launch their server was started
    with (the HF run its weights' dtype), with every sample of the full benchmarks."""
    samples = {"short": 15388, "ppl": 1346, "code": 164}  # MMLU+C-Eval gen; C-Eval PPL; HumanEval
    folders = sorted((REPO_ROOT / "docs" / "examples" / "h100-vllm" / "runs").iterdir())
    assert len(folders) == 11
    for folder in folders:
        manifest = RunManifest.model_validate_json((folder / "run.json").read_text())
        kind = folder.name.rsplit("-", 1)[1]
        assert manifest.status == "ok" and manifest.samples == samples[kind], folder
        if folder.name == "suite-hf-fp32-ppl":  # the cross-backend baseline: local weights on CUDA
            assert manifest.local is not None and (manifest.local.device, manifest.local.dtype) == ("cuda", "float32")
            continue
        assert manifest.server is not None and manifest.server.launch is not None, folder
        assert manifest.server.launch.source == "launcher" and manifest.server.vllm_version == "0.26.0"
        assert manifest.requests is not None and manifest.requests.sent > 0
        assert manifest.server.launch.device == "cuda" and manifest.server.launch.accelerator is not None
        assert manifest.server.launch.accelerator.name == "NVIDIA H100 80GB HBM3"
    fp8 = RunManifest.model_validate_json((REPO_ROOT / "docs/examples/h100-vllm/runs/suite-fp8-short/run.json").read_text())
    assert fp8.server is not None and fp8.server.launch is not None
    assert fp8.server.launch.numerics["quantization"] == fp8.server.launch.numerics["kv_cache_dtype"] == "fp8"


def test_samples_are_written_as_they_come_and_only_whole(tmp_path: Path) -> None:
    samples = DEMO_RUN.read_samples()
    out = RunDir(tmp_path)
    assert out.write_samples(s for s in samples) == len(samples)
    before = out.samples.read_bytes()

    def failing() -> Iterator[Sample]:
        yield from samples[:3]
        raise RuntimeError("a dataset's predictions could not be read")

    with pytest.raises(RuntimeError):
        out.write_samples(failing())
    assert out.samples.read_bytes() == before  # the old file, not half of a new one
    assert [p.name for p in tmp_path.iterdir()] == [out.samples.name]  # no temporary left behind
