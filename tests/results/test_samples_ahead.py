"""SamplesAhead: samples built while OpenCompass runs are the samples a build at the end writes."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmark_eval.results import RunDir, build_samples
from benchmark_eval.results.samples_ahead import SamplesAhead

DEMO_RUN = Path(__file__).parent / "data" / "demo-run"


def test_samples_built_ahead_are_the_samples_built_at_the_end(tmp_path: Path) -> None:
    shutil.copytree(DEMO_RUN, tmp_path / "run")
    run = RunDir(tmp_path / "run")
    model, abbrs = run.read_manifest().model.abbr, list(run.read_manifest().datasets)
    assert len(abbrs) == 8
    held = tmp_path / "held"
    held.mkdir()
    for abbr in abbrs[4:]:  # not evaluated yet
        run.results(model, abbr).rename(held / abbr)
    ahead = SamplesAhead(run, model, abbrs)
    written = run.results(model, abbrs[0]).read_text()
    run.results(model, abbrs[0]).write_text(written[: len(written) // 2])  # OpenCompass still writing it
    ahead.poll()
    parts = list(run.path.glob(".samples-*/*.jsonl"))
    assert len(parts) == 3  # abbrs[1:4]; the file cut short is left for later
    run.results(model, abbrs[0]).write_text(written)
    for abbr in abbrs[4:]:
        (held / abbr).rename(run.results(model, abbr))
    ahead.poll()
    assert len(list(run.path.glob(".samples-*/*.jsonl"))) == 8
    # evaluated again after its part was built (another prediction and result): built again at the end
    for path in (run.predictions(model, abbrs[2]), run.results(model, abbrs[2])):
        path.write_text(path.read_text().replace('"A"', '"B"'))
    assert ahead.write() == sum(len(build_samples(run, model, abbr)) for abbr in abbrs)
    ahead.close()
    expected = "".join(sample.to_json() + "\n" for abbr in abbrs for sample in build_samples(run, model, abbr))
    assert run.samples.read_text(encoding="utf-8") == expected
    assert '"B"' in expected and not list(run.path.glob(".samples-*"))
