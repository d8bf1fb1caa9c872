"""`benchmark-eval data check` on the real data root and on broken copies of it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from benchmark_eval.data.check import check_root
from benchmark_eval.server import ServerHandle

from ..conftest import assert_one_line_error, run_cli, run_dir_from


def test_real_data_root_has_every_dataset_with_its_row_counts(data_root: Path) -> None:
    done = run_cli(["data", "check", "--root", str(data_root), "mmlu_gen", "ceval_gen", "Xsum_gen", "humaneval_gen"])
    assert done.returncode == 0, done.stderr[-2000:]
    counts = {m.group(1): (int(m.group(2)), m.group(3)) for m in
              re.finditer(r"│ (\w+)\s+│ \d+\s+│ (\d+)\s+│ \d+\s+│ (\w+)", done.stdout)}
    assert counts == {"mmlu_gen": (14042, "ok"), "ceval_gen": (1346, "ok"), "Xsum_gen": (980, "ok"),
                      "humaneval_gen": (164, "ok")}


@pytest.fixture()
def broken_root(data_root: Path, tmp_path: Path) -> Path:
    """A copy of a few real files, then broken in three ways."""
    root = tmp_path / "root"
    for rel in ("data/mmlu/dev/anatomy_dev.csv", "data/mmlu/test/anatomy_test.csv",
                "data/mmlu/dev/astronomy_dev.csv", "data/mmlu/test/astronomy_test.csv",
                "data/ceval/formal_ceval/dev/computer_network_dev.csv",
                "data/ceval/formal_ceval/val/computer_network_val.csv",
                "data/ceval/formal_ceval/test/computer_network_test.csv", "data/Xsum/dev.jsonl"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_root / rel, root / rel)
    (root / "data/mmlu/test/astronomy_test.csv").unlink()  # a file removed
    val = root / "data/ceval/formal_ceval/val/computer_network_val.csv"  # a column dropped
    val.write_text("\n".join(",".join(line.split(",")[:-1]) for line in val.read_text(encoding="utf-8").splitlines()) + "\n",
                   encoding="utf-8")
    (root / "data/Xsum/dev.jsonl").write_text("")  # an empty file
    return root


def test_broken_copy_reports_each_problem(broken_root: Path) -> None:
    done = run_cli(["data", "check", "--root", str(broken_root), "Xsum_gen"])
    assert_one_line_error(done, 2, "1 of 1 dataset(s) are not usable", "Xsum_gen")
    assert "is empty" in done.stdout
    # Subject by subject: the removed file, the dropped column and the good subject.
    rows = {r.dataset: r for r in check_root(("mmlu_gen", "ceval_gen"), broken_root)}
    mmlu = [p.problem for p in rows["mmlu_gen"].problems]
    assert any("astronomy_test.csv is missing" in p for p in mmlu)
    assert rows["mmlu_gen"].rows == 135  # anatomy, the one intact subject
    ceval = [p.problem for p in rows["ceval_gen"].problems]
    assert any("computer_network_val.csv has no column answer" in p for p in ceval)


def test_crlf_and_lf_files_both_pass(data_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "crlf"
    for rel in ("data/mmlu/dev/anatomy_dev.csv", "data/mmlu/test/anatomy_test.csv"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        text = (data_root / rel).read_bytes().replace(b"\r\n", b"\n")
        (root / rel).write_bytes(text.replace(b"\n", b"\r\n") if "test" in rel else text)
    [row] = [r for r in check_root(("mmlu_gen",), root) if r.dataset == "mmlu_gen"]
    assert any("astronomy" in p.problem for p in row.problems)  # other subjects are absent here...
    assert not any("anatomy" in p.problem for p in row.problems)  # ...but CRLF anatomy reads fine
    assert row.rows == 135


def test_xsum_end_to_end_on_converted_data(vllm_server: ServerHandle, tmp_path: Path) -> None:
    """Convert a small XSum-shaped JSONL, check it, and run Xsum_gen on it through the real server."""
    source = tmp_path / "xsum.jsonl"
    articles = [("The council approved a new bridge over the river on Tuesday.", "Council approves bridge."),
                ("Heavy rain flooded several streets in the town centre overnight.", "Rain floods town centre."),
                ("A local school won the national robotics championship.", "School wins robotics title.")]
    source.write_text("".join(json.dumps({"id": i, "document": a, "summary": s}) + "\n" for i, (a, s) in enumerate(articles)))
    root = tmp_path / "root"
    assert run_cli(["data", "convert", "xsum", "--from", str(source), "--out", str(root)]).returncode == 0
    assert run_cli(["data", "check", "--root", str(root), "Xsum_gen"]).returncode == 0
    done = run_cli(["run"], {"service_port": vllm_server.base_url.rsplit(":", 1)[1], "model_name": vllm_server.served_model_name,
                             "eval_datasets": "Xsum_gen", "max_out_len": "24", "COMPASS_DATA_CACHE": str(root),
                             "results_dir": str(tmp_path / "results")})
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = run_dir_from(done.stdout)
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert [s["reference"] for s in samples] == [s for _, s in articles]
    assert all(0 <= s["scores"]["rouge1"] <= 100 for s in samples)
