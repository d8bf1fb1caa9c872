"""OpenCompass's dataset loaders, imported as a run needs them (part of compat: the layout of
`opencompass/datasets/__init__.py` and OpenCompass's registry class are not its public API)."""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
import re
import sys
import threading
from pathlib import Path
from typing import Any

OPENCOMPASS_VERSION = "0.5.4"

# A name bound at a module's top level: def/class, assignment, import (the last two as text to split).
_BINDINGS = re.compile(r"^(?:async\s+def|def|class)\s+(\w+)|^(\w+(?:\s*,\s*\w+)*)\s*(?::[^=\n]*)?=(?!=)"
                       r"|^import\s+([^\n#;]+)|^from\s+(\.*[\w.]*)\s+import\s+(\([^)]*\)|[^\n#;]+)", re.M)


_ALL = re.compile(r"^__all__\s*=\s*(\[[^\]]*\]|\([^)]*\))", re.M)


def _module_source(folder: Path, dotted: str) -> str:
    path = folder.joinpath(*dotted.split("."))
    return (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).read_text(encoding="utf-8")


def _star_exports(folder: Path, dotted: str) -> set[str] | None:
    """The names `from .<dotted> import *` binds, read from the source (nested relative star
    imports followed); None where the text cannot tell (`__all__`, an absolute star import)."""
    source = _module_source(folder, dotted).replace("\\\n", " ")
    if "__all__" in source:  # a star import binds exactly a literal __all__
        declared = _ALL.findall(source)
        return {str(n) for n in ast.literal_eval(declared[0])} if len(declared) == 1 and source.count("__all__") == 1 else None
    package = dotted if folder.joinpath(*dotted.split(".")).is_dir() else dotted.rpartition(".")[0]
    names: set[str] = set()
    for defined, assigned, imported, origin, listed in _BINDINGS.findall(source):
        if defined or assigned:
            names.update(n.strip() for n in (defined or assigned).split(","))
        elif imported:
            names.update(part.split(" as ")[-1].strip().split(".")[0] for part in imported.split(","))
        elif listed.strip() != "*":
            names.update(part.split(" as ")[-1].strip() for part in listed.strip("()").split(",") if part.strip())
        else:
            # `from .x import *` inside a subpackage of opencompass.datasets, one level deep
            nested = _star_exports(folder, f"{package}.{origin[1:]}") if origin.startswith(".") and not origin.startswith("..") and package else None
            if nested is None:
                return None
            names |= nested
    return {n for n in names if n and not n.startswith("_")}


def dataset_loader_index(folder: Path) -> dict[str, tuple[str, str] | None]:
    """`opencompass.datasets`'s names -> (the submodule whose binding it is, the name there), read
    from the package's `__init__.py` (`from .x import *` and `from .x import A, B`) in order, the
    last import of a name winning as it does at import. None: a name whose binding the text
    cannot settle (it is then read from the whole package)."""
    index: dict[str, tuple[str, str] | None] = {}
    for _, _, _, origin, listed in _BINDINGS.findall((folder / "__init__.py").read_text(encoding="utf-8").replace("\\\n", " ")):
        if not origin.startswith(".") or origin == ".":
            continue
        sub = origin[1:]
        if listed.strip() == "*":
            exported = _star_exports(folder, sub)
            if exported is None:  # this import may rebind any name bound before it
                index = dict.fromkeys(index)
                continue
            index.update((name, (sub, name)) for name in exported)
        else:
            for part in listed.strip("()").split(","):
                name, _, alias = part.strip().partition(" as ")
                if name:
                    index[alias.strip() or name] = (sub, name)
    return index


def lazy_dataset_loaders() -> None:
    """`opencompass.datasets` imports its 300-odd loader modules, and with them scikit-learn,
    sympy, parts of torch and more: 4 of the 7 s OpenCompass takes to import, in each of a
    run's two processes that import it (the data preflight and OpenCompass). A run needs the few
    modules its datasets name. So the package is registered without running its `__init__`;
    a name is taken from the one submodule it comes from (`dataset_loader_index`); anything else
    (a name the index cannot settle, a registry lookup by bare name) loads the whole package
    as before. The objects are OpenCompass's own, the same ones a full import binds: the
    contract test compares every name with a full import. Only for the pinned version; a no-op
    where the package is imported already."""
    import opencompass
    import opencompass.registry

    if "opencompass.datasets" in sys.modules or opencompass.__version__ != OPENCOMPASS_VERSION:
        return
    spec = importlib.util.find_spec("opencompass.datasets")
    assert spec is not None and spec.origin is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    index = functools.cache(lambda: dataset_loader_index(Path(str(spec.origin)).parent))
    lock = threading.RLock()
    whole = threading.Event()

    def load_whole() -> None:
        with lock:
            if not whole.is_set():
                whole.set()
                spec.loader.exec_module(package)  # type: ignore[union-attr]

    def __getattr__(name: str) -> Any:  # noqa: N807 (a module's own attribute hook)
        where = index().get(name)
        if where is not None and not whole.is_set():
            with contextlib.suppress(AttributeError):
                value = getattr(importlib.import_module(f"opencompass.datasets.{where[0]}"), where[1])
                setattr(package, name, value)
                return value
        load_whole()
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'opencompass.datasets' has no attribute '{name}'") from None

    setattr(package, "__getattr__", __getattr__)  # noqa: B010 (a module's attribute hook, PEP 562)
    sys.modules["opencompass.datasets"] = package
    opencompass.datasets = package
    registry = opencompass.registry.Registry
    original_get = registry.get

    def get(self: Any, key: str) -> Any:
        found = original_get(self, key)
        if found is None and not whole.is_set():  # a bare name registered by a loader not yet imported
            load_whole()
            found = original_get(self, key)
        return found

    registry.get = get
