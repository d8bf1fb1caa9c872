"""`benchmark-eval plan-signoff` from the command line on the real data, and its bad input;
the exit-code table every command's help prints. (Its figures against simulation:
test_signoff_simulation.py.)"""

from __future__ import annotations

from pathlib import Path

from benchmark_eval.errors import EXIT_TABLE

from ..conftest import assert_one_line_error, run_cli


def _plan(data_root: Path, *args: str):
    return run_cli(["plan-signoff", *args], {"COMPASS_DATA_CACHE": str(data_root)}, timeout=300)


def test_the_planner_reads_the_data_and_says_what_resolves(data_root: Path) -> None:
    done = _plan(data_root, "--datasets", "gsm8k_gen ceval_gen", "--subjects", "computer_network,operating_system", "--limit", "10")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gsm8k: 10 samples resolve ±" in done.stdout  # limit applies to every dataset and "cannot be signed off" in done.stdout
    assert "ceval (2 of 52 subjects; limit 10): 20 samples in 2 subsets" in done.stdout
    assert "3% discordance (assumed" in done.stdout


def test_bad_planner_input_is_one_line(data_root: Path, tmp_path: Path) -> None:
    assert_one_line_error(_plan(data_root, "--datasets", "gsm8k_gen", "--discordance", "3"), 2, "--discordance must be a share")
    assert_one_line_error(_plan(data_root, "--datasets", "gsm8k_gen", "--units", "mmlu"), 2, "unknown unit 'mmlu'")
    margins = tmp_path / "m.yaml"
    margins.write_text("units:\n  mmlu:\n    relative: 0.02\n")
    assert_one_line_error(_plan(data_root, "--datasets", "gsm8k_gen", "--margins-file", str(margins)), 2, "names no unit")
    assert_one_line_error(_plan(data_root), 2, "no datasets to plan")


def test_every_help_prints_the_one_exit_code_table() -> None:
    for args in (["--help"], ["compare", "--help"], ["plan-signoff", "--help"]):
        text = " ".join(run_cli(args, {"COLUMNS": "400"}).stdout.split())
        for code, meaning in EXIT_TABLE:
            assert f"{code} {meaning}" in text, (args, code)
    verdict_codes, error_codes = {0, 10, 11, 12}, {1, 2, 3, 130}
    assert {code for code, _ in EXIT_TABLE} == verdict_codes | error_codes
