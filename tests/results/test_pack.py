"""Run folders travel: a moved or renamed folder and a pack of it compare exactly as the folder
where it was written (fast: the recorded demo run), and a damaged pack is one line, exit 2."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path

from ..conftest import assert_one_line_error, run_cli
from .test_records import DEMO_RUN


def _verdict(out: Path) -> dict[str, object]:
    """verdict.json less the two lines that name where the runs were read from."""
    data = json.loads((out / "verdict.json").read_text())
    for side in ("baseline", "candidate"):
        data[side].pop("path")
    return data


def _report(out: Path, *paths: Path) -> str:
    text = (out / "report.md").read_text()
    for path in paths:
        text = text.replace(str(path), "RUN")
    return text


def _compare(base: Path, cand: Path, out: Path) -> Path:
    done = run_cli(["compare", str(base), str(cand), "--out", str(out), "--resamples", "200"])
    assert done.returncode in (0, 10, 11), done.stderr[-2000:]
    return out


def test_moved_folders_and_packs_compare_as_the_originals(tmp_path: Path) -> None:
    original = _compare(DEMO_RUN.path, DEMO_RUN.path, tmp_path / "original")
    moved = tmp_path / "elsewhere" / "renamed-run"
    shutil.copytree(DEMO_RUN.path, moved)
    done = run_cli(["pack", str(moved), "--out", str(tmp_path / "packs")])
    assert done.returncode == 0, done.stderr
    pack = tmp_path / "packs" / "renamed-run.pack.tar.gz"
    assert f"pack: {pack} (sha256 " in done.stdout
    with tarfile.open(pack) as tar:
        names = tar.getnames()
    assert names[0] == "pack.json" and "run/run.json" in names and "run/samples.jsonl" in names
    assert not any(n.startswith("run/logs/") for n in names)  # logs only with --logs
    from_moved = _compare(moved, moved, tmp_path / "moved")
    from_pack = _compare(pack, pack, tmp_path / "pack")
    assert _verdict(from_moved) == _verdict(original) == _verdict(from_pack)
    assert _report(from_moved, moved) == _report(original, DEMO_RUN.path) == _report(from_pack, pack)
    # compare's default report folder for a pack lies beside it
    done = run_cli(["compare", str(pack), str(pack), "--resamples", "200"])
    assert (tmp_path / "packs" / "renamed-run-compare" / "verdict.json").is_file(), done.stderr[-2000:]


def test_a_damaged_pack_is_one_line_and_no_verdict(tmp_path: Path) -> None:
    pack = Path(run_cli(["pack", str(DEMO_RUN.path), "--out", str(tmp_path)]).stdout.split()[1])
    data = pack.read_bytes()
    truncated = tmp_path / "truncated.pack.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    assert_one_line_error(run_cli(["compare", str(truncated), str(pack), "--out", str(tmp_path / "a")]), 2,
                          "is not an intact benchmark-eval pack", "copy it again")
    # one sample changed inside, its checksum left as it was
    altered = tmp_path / "altered.pack.tar.gz"
    with tarfile.open(pack) as source, tarfile.open(altered, "w:gz") as target:
        for member in source.getmembers():
            content = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "run/samples.jsonl":
                content = content.replace(b"\"correct\": 1.0", b"\"correct\": 0.0", 1)
                assert content != source.extractfile(member).read()  # type: ignore[union-attr]
                member.size = len(content)
            target.addfile(member, io.BytesIO(content))
    assert_one_line_error(run_cli(["compare", str(pack), str(altered), "--out", str(tmp_path / "b")]), 2,
                          "samples.jsonl does not match its checksum")
    not_a_pack = tmp_path / "other.tar.gz"
    with gzip.open(not_a_pack, "wb") as f:
        f.write(b"not a tar at all" * 100)
    assert_one_line_error(run_cli(["compare", str(not_a_pack), str(pack)]), 2, "is not an intact benchmark-eval pack")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert_one_line_error(run_cli(["pack", str(tmp_path)]), 2, "is not a finished run folder")
    assert_one_line_error(run_cli(["import", str(altered), "--out", str(tmp_path / "c")]), 2,
                          "samples.jsonl does not match its checksum")
    assert not (tmp_path / "c").exists(), "nothing is imported from a damaged pack"


def test_import_of_a_pack_lands_among_this_hosts_runs(tmp_path: Path) -> None:
    # --out names a pack file in a folder that does not exist yet (the walk-through's packs/gpu.pack.tar.gz)
    done = run_cli(["pack", str(DEMO_RUN.path), "--out", str(tmp_path / "packs" / "gpu.pack.tar.gz")])
    assert done.returncode == 0, done.stderr[-2000:]
    pack = Path(done.stdout.split()[1])
    assert pack == tmp_path / "packs" / "gpu.pack.tar.gz"
    imported = []
    for _ in range(2):  # twice: the second lands beside the first, never over it
        done = run_cli(["import", str(pack)], {"results_dir": str(tmp_path / "results")})
        assert done.returncode == 0, done.stderr[-2000:]
        imported.append(Path(done.stdout.split("results: ", 1)[1].strip()))
    manifest = DEMO_RUN.read_manifest()  # where `run` would have written it: <model>/<benchmark_type>/<stamp>
    kind = (manifest.settings or {})["benchmark_type"]
    assert imported[0] == tmp_path / "results" / manifest.model.abbr / kind / DEMO_RUN.path.name
    assert imported[1].name == f"{DEMO_RUN.path.name}_1" and imported[1].parent == imported[0].parent
    for name in ("run.json", "samples.jsonl"):
        assert (imported[0] / name).read_bytes() == (DEMO_RUN.path / name).read_bytes()
    assert _verdict(_compare(imported[0], imported[1], tmp_path / "cmp")) == _verdict(
        _compare(DEMO_RUN.path, DEMO_RUN.path, tmp_path / "original"))
