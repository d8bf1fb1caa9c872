"""The docs say what is: the settings page is the code's, no history words, and the shell blocks
marked runnable run (on the shared data) and print what the docs show after them."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest

from benchmark_eval.paths import REPO_ROOT

from .conftest import shared_datasets

#: Words that tell how the code came to be instead of what it is: numbered work steps and
#: issues of this project as history, figures as they were "before". (Trackers of other
#: projects, "vLLM #5234", are references, not history.)
HISTORY = re.compile("|".join([
    r"\bsessions? \d+", r"\b(?<!vLLM )(?<!vllm-ascend )issues? #?\d+", r"\bwas [\d.,]+\s?\S* before\b", r"\bno longer\b",
    r"\bused to\b", r"\bpreviously\b", r"\bbefore (this|the|that) (change|session|issue|fix)", r"\bthe old (code|version|way)\b",
    r"\bsince (session|issue|commit)\b", r"\bwhen [^.]{0,30}\bwas filed\b"]), re.IGNORECASE)

#: A shell block the docs mark as runnable: `<!-- runnable -->` on the line before its fence.
RUNNABLE = re.compile(r"<!-- runnable -->\n```bash\n(?P<code>.*?)\n```\n(?:```\n(?P<output>.*?)\n```)?", re.DOTALL)


def _prose_files() -> list[Path]:
    """README, docs (not the reports compare wrote), code, benchmark and tool scripts."""
    globs = ["README.md", "docs/**/*.md", "benchmark_eval/**/*.py", "benchmark_eval/**/*.j2", "benchmarks/*.py",
             "tools/*.py", "*.sh", "*.py", "docs/examples/**/*.sh", "configs/**/*.yaml"]
    return sorted({p for g in globs for p in REPO_ROOT.glob(g) if p.name != "report.md"})


def test_no_history_words_in_docs_code_or_scripts() -> None:
    found = [f"{path.relative_to(REPO_ROOT)}:{number}: {match.group(0)!r}"
             for path in _prose_files()
             for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             for match in HISTORY.finditer(line)]
    assert not found, "history words (say what is; git keeps the history):\n" + "\n".join(found)


def test_the_history_check_finds_what_it_is_for() -> None:
    for text in ("measured in session 14", "as issue 17 asked", "the run was 12.3 s before", "it no longer waits"):
        assert HISTORY.search(text), text
    for text in ("vLLM #5234 asks for it", "before the first request", "a run folder from before a field existed"):
        assert not HISTORY.search(text), text


def test_the_settings_page_is_generated_from_the_declarations() -> None:
    spec = importlib.util.spec_from_file_location("settings_reference", REPO_ROOT / "tools" / "settings_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == module.render(), "docs/settings.md is out of date: run .venv/bin/python tools/settings_reference.py"
    assert "`service_port`" in page and "`--noise-floor`" in page and "`--datasets`" in page


def _runnable_blocks() -> list[tuple[str, str, str | None]]:
    blocks = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for match in RUNNABLE.finditer(path.read_text(encoding="utf-8")):
            blocks.append((path.name, match.group("code"), match.group("output")))
    return blocks


def test_docs_have_runnable_blocks() -> None:
    assert len(_runnable_blocks()) >= 2


@pytest.mark.parametrize("where,code,output", _runnable_blocks(), ids=lambda v: v if isinstance(v, str) and v.endswith(".md") else "")
def test_a_runnable_doc_block_runs_and_prints_what_the_doc_shows(where: str, code: str, output: str | None) -> None:
    """Run as written from the checkout, with the docs' data root (/data/opencompass) being the shared data."""
    script = code.replace("/data/opencompass", str(shared_datasets()))
    env = {**os.environ, "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{where}: {code}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    for line in (output or "").splitlines():
        assert line.strip() in done.stdout, f"{where}: the doc shows {line!r}; the command printed:\n{done.stdout[-3000:]}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_docs_resolves() -> None:
    pages = [REPO_ROOT / "README.md", *sorted(REPO_ROOT.glob("docs/**/*.md"))]
    broken = []
    for page in pages:
        if page.name == "report.md":
            continue
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (page.parent / target).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target}")
            elif anchor and path.suffix == ".md":
                headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)}
                if anchor not in headings:
                    broken.append(f"{page.relative_to(REPO_ROOT)}: {target}#{anchor}")
    assert not broken, "links that lead nowhere:\n" + "\n".join(broken)
