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


def test_every_undecided_unit_has_the_planners_next_step(data_root: Path) -> None:
    """docs/examples: each INCONCLUSIVE unit has a next step, and each step's plan-signoff command
    (its data root made this host's) gives the margin and sample size the step says."""
    from benchmark_eval.numbers import fixed

    commands = 0
    for path in sorted(EXAMPLES.glob("**/verdict.json")):
        verdict = json.loads(path.read_text())
        open_units = [u["unit"] for u in verdict["units"] if u["verdict"] == "INCONCLUSIVE"]
        assert [s["unit"] for s in verdict["next_steps"]] == open_units, path
        for step in verdict["next_steps"]:
            if not step["command"]:
                continue
            commands += 1
            words = shlex.split(step["command"])
            words[words.index("--data-root") + 1] = str(data_root)
            plan = run_cli(words[1:])
            assert plan.returncode == 0, plan.stderr[-2000:]
            line = next(line for line in plan.stdout.splitlines() if " resolve ±" in line)
            assert f" resolve ±{fixed(step['resolvable_margin'])} points" in line, (path, line, step)
            if step["n_needed"]:
                assert f"about {step['n_needed']} samples" in line, (path, line, step)
    assert commands >= 2
