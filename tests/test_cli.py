"""The command line as users meet it: help for users, whole lines in logs and CI."""

from __future__ import annotations

from pathlib import Path

from .conftest import assert_one_line_error, run_cli


def test_help_is_for_users() -> None:
    done = run_cli(["--help"])
    assert done.returncode == 0
    assert "benchmark-eval compare BASELINE CANDIDATE" in " ".join(done.stdout.split())
    assert "UserError" not in done.stdout and "Only this module" not in done.stdout


def test_output_outside_a_terminal_is_not_wrapped(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "run"
    done = run_cli(["compare", str(deep), str(deep)])
    assert_one_line_error(done, 2, str(deep))  # one line, however long (rich would break it at 80 columns)
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(line) > 120
