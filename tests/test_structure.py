"""The package's shape, checked from its source (ast; nothing is imported): imports go one way,
down the flow settings -> plan -> ... -> report, and the command line reads no env var by hand."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "benchmark_eval"

#: The shared bottom: records and helpers every layer may use; they import nothing above them.
BOTTOM = ["__init__", "errors", "fileio", "paths", "numbers", "console", "stops", "handoff", "results"]
#: The layers, lowest first; a subpackage (or top-level module) imports only from lower layers
#: and from the bottom. Several names in one layer may not import each other.
LAYERS: list[list[str]] = [
    ["settings"],
    ["compat"],  # OpenCompass's private symbols, behind one module
    ["plan"],
    ["data"],  # data checks and the data preflight
    ["sandbox", "workers", "server"],  # what runs model code, vLLM's engine, vLLM's server
    ["plugins"],  # OpenCompass's extension points, run inside its process
    ["backends", "runners"],
    ["run"],
    ["compare"],
    ["interop", "report"],
    ["demo"],
    ["cli"],
    ["__main__"],
]


def _unit(module: str) -> str | None:
    """benchmark_eval.x.y -> x (a subpackage or a top-level module); the package itself -> __init__."""
    parts = module.split(".")
    if parts[0] != "benchmark_eval":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every benchmark_eval module a file imports (absolute names), with its line."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(relative.parts[:-1]) if relative.name != "__init__" else list(relative.parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
            # `from pkg import name`: the submodule `name` where there is one, else pkg's attribute
            names = [module] if node.module else [f"{module}.{a.name}" if _is_module(f"{module}.{a.name}") else module for a in node.names]
            found += [(name, node.lineno) for name in names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return found


def import_graph() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> where, for every import between two units."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for module, line in _imports(path):
            target = _unit(module)
            if source and target and target != source:
                edges[(source, target)].append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return edges


def _rank(unit: str) -> int:
    if unit in BOTTOM:
        return -1
    for rank, layer in enumerate(LAYERS):
        if unit in layer:
            return rank
    raise AssertionError(f"benchmark_eval/{unit} is in no layer: add it to LAYERS in tests/test_structure.py")


def test_every_unit_has_a_layer() -> None:
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if (p.suffix == ".py" or (p / "__init__.py").exists())}
    for unit in units:
        _rank(unit)


def against_the_flow(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """Imports from a unit to one in its own layer or above it; the bottom only imports the bottom."""
    wrong = []
    for (source, target), where in sorted(edges.items()):
        if source == "__init__":  # the package's own lazy public names reach up, inside functions
            continue
        s, t = _rank(source), _rank(target)
        if (s == -1 and t != -1) or (s != -1 and t >= s):
            wrong += [f"{source} -> {target} ({w})" for w in where]
    return wrong


def test_imports_go_down_the_flow() -> None:
    wrong = against_the_flow(import_graph())
    assert not wrong, f"{len(wrong)} import(s) against the flow:\n" + "\n".join(wrong)


def test_the_check_finds_an_import_against_the_flow() -> None:
    edges = import_graph()
    assert not against_the_flow(edges)
    assert against_the_flow({**edges, ("settings", "backends"): ["settings/x.py:1"]}) == ["settings -> backends (settings/x.py:1)"]
    assert against_the_flow({("results", "compare"): ["results/x.py:1"]})  # the bottom imports nothing above it
    assert against_the_flow({("sandbox", "server"): ["sandbox/x.py:1"]})  # nor one unit its neighbour in a layer


def test_no_cycle_between_units() -> None:
    edges = import_graph()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        if source != "__init__":
            graph[source].add(target)
    state: dict[str, int] = {}

    def visit(unit: str, path: list[str]) -> None:
        state[unit] = 1
        for nxt in sorted(graph[unit]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path, unit, nxt]))
            if nxt not in state:
                visit(nxt, [*path, unit])
        state[unit] = 2

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [])


#: Modules that may read the process environment, and why. Everything else takes settings.
ENV_READERS = {
    "settings/run_settings.py": "the declarations' env vars (settings.process_env)",
    "paths.py": "BENCHMARK_EVAL_CACHE and BENCHMARK_EVAL_SERVER_STATE, where the toolkit keeps files",
    "compat/built_datasets.py": "handoff.BUILT_DATASETS_ENV, in OpenCompass's process",
    "plugins/entry.py": "handoff.WAIT_FOR_GO_ENV, in OpenCompass's process",
    "plugins/models/progress.py": "handoff.PROGRESS_ENV, in OpenCompass's process",
    "plugins/models/tokenizers.py": "handoff.PRELOAD_TOKENIZER_ENV, in OpenCompass's process",
    "plugins/models/client_process.py": "handoff.PRESTART_CLIENT_ENV, in OpenCompass's process",
    "data/check.py": "sets OpenCompass's data root around its loaders and puts the old value back",
    "runners/slurm.py": "SLURM_CONF, Slurm's own variable, which srun reads too",
}
#: A read: os.environ[...] or .get(...), os.getenv(...); copying the whole environment for a
#: child process ({**os.environ, ...}, dict(os.environ)) is not a read of a setting.
_READ = re.compile(r"os\.environ(\[|\.get\(|\.pop\(|\.setdefault\()|os\.getenv\(")


def test_no_env_read_outside_the_declarations() -> None:
    readers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _READ.search(p.read_text(encoding="utf-8")))
    assert [r for r in readers if r not in ENV_READERS] == []
    assert not any(_READ.search(p.read_text(encoding="utf-8")) or "os.environ" in p.read_text(encoding="utf-8")
                   for p in (PACKAGE / "cli").glob("*.py"))


def test_modules_are_small() -> None:
    big = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert big == {}
