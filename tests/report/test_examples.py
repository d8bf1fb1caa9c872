"""The worked examples in docs/examples reproduce: `compare` on the shipped run folders (an H100
pair against the CPU; the H100 log-likelihood runs of all of C-Eval val, over vLLM's API and by
local HF weights; samples included) writes the shipped report.md and verdict.json byte for byte,
and cli.txt is what the command printed, with its exit code."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from benchmark_eval.paths import REPO_ROOT

from ..conftest import run_cli

EXAMPLES = REPO_ROOT / "docs" / "examples"


@pytest.mark.parametrize("name", ["cuda-fp32-vs-cpu-fp32", "cuda-bf16-vs-cpu-fp32", "h100-vllm/bf16-vs-fp32-ppl",
                                  "h100-vllm/vllm-vs-hf-fp32-ppl"])
def test_shipped_reports_are_what_compare_writes(name: str, tmp_path: Path) -> None:
    shipped = EXAMPLES / name
    cli = (shipped / "cli.txt").read_text().splitlines()
    command = shlex.split(cli[0].removeprefix("$ "))
    assert command[:2] == [".venv/bin/benchmark-eval", "compare"] and command[-2:] == ["--out", f"docs/examples/{name}"]
    done = run_cli([*command[1:-1], str(tmp_path)], cwd=REPO_ROOT)
    assert cli[-1] == f"(exit {done.returncode})"
    assert done.stdout.replace(str(tmp_path), f"docs/examples/{name}").strip() == "\n".join(cli[1:-1]).strip()
    for report in ("report.md", "verdict.json"):
        assert (tmp_path / report).read_text() == (shipped / report).read_text(), report
    verdict = json.loads((shipped / "verdict.json").read_text())
    assert verdict["exit_code"] == done.returncode
    for report in ("report.md", "report.html"):  # a value that is not zero never prints as one
        text = (shipped / report).read_text()
        assert not re.search(r"[-±]0\.00(?![0-9])", text), re.search(r".{60}[-±]0\.00(?![0-9]).{20}", text)


def test_no_shipped_report_reads_zero_for_a_value_that_is_not() -> None:
    """Every report in docs/examples, the ones whose samples stayed out of the repository too."""
    reports = sorted(EXAMPLES.glob("**/report.md")) + sorted(EXAMPLES.glob("**/report.html"))
    assert len(reports) >= 20
    for report in reports:
        text = report.read_text()
        assert not re.search(r"[-±]0\.00(?![0-9])", text), (report, re.search(r".{60}[-±]0\.00(?![0-9]).{20}", text))
