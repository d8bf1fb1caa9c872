"""The README's demo command: `bash opencompass.sh` with no env vars runs the embedded demo."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmark_eval.paths import REPO_ROOT

from .conftest import _CLASSIC, finished_run

pytestmark = [pytest.mark.server, pytest.mark.opencompass]


def test_opencompass_sh_without_env_vars_runs_the_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _CLASSIC}
    done = subprocess.run(["bash", str(REPO_ROOT / "opencompass.sh")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    run_dir = finished_run(done)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "ok"
    assert set(run["datasets"]) == {"lukaemon_mmlu_global_facts", "lukaemon_mmlu_elementary_mathematics",
                                    "ceval-computer_network", "Xsum", "openai_humaneval",
                                    "lukaemon_mmlu_global_facts_ppl", "lukaemon_mmlu_elementary_mathematics_ppl",
                                    "ceval-computer_network_ppl"}
    ppl = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()
           if json.loads(line)["dataset"].endswith("_ppl")]
    assert ppl and all(len(s["choices"]) == 4 and s["chosen"] in "ABCD" for s in ppl)
    for abbr in run["datasets"]:
        assert abbr in done.stdout  # its score is printed
    assert not list(tmp_path.iterdir()), "nothing may land in the user's current folder"
    # The demo's own server is gone afterwards.
    assert not list((REPO_ROOT / "results" / ".servers").glob("*.pid"))
