"""Write docs/settings.md, every setting of every command, from the settings declarations
(`setting(...)` in the settings and options classes): the page cannot say what the code does not.

    .venv/bin/python tools/settings_reference.py          # rewrite docs/settings.md
    .venv/bin/python tools/settings_reference.py --check  # exit 1 if the page is out of date

tests/test_docs.py runs the check in the fast tier.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "settings.md"

HEADER = """# Settings reference

Every setting of every command: its environment variable (the classic `opencompass.sh` names
where it has one), its flag, its default and what it does. A flag wins over its variable.
Generated from the settings declarations by `tools/settings_reference.py`; a fast test fails
when this page and the code disagree.
"""


def _type(annotation: Any) -> str:
    text = str(annotation) if typing.get_origin(annotation) else getattr(annotation, "__name__", str(annotation))
    return text.replace("typing.", "").replace("pathlib.", "").replace("NoneType", "None")


def _default(field: Any) -> str:
    if field.is_required():
        return "(required)"
    if field.default_factory is not None:
        return "(computed)"
    if field.default is None:
        return ""
    return f"`{field.default!r}`" if field.default == "" else f"`{field.default}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(models: list[type[BaseModel]], backends: dict[str, list[str]] | None = None) -> list[str]:
    from benchmark_eval.settings import declaration

    rows, seen = [], set()
    head = "| env var | flag | type | default |" + (" backends |" if backends else "") + " what it is |"
    rows += [head, "|" + "---|" * (head.count("|") - 1)]
    for model in models:
        for name, field in model.model_fields.items():
            declared = declaration(model, name)
            if not declared or name in seen:
                continue
            seen.add(name)
            env = ", ".join(f"`{e}`" for e in [declared.get("env"), *declared.get("also_env", [])] if e)
            flags = ", ".join(f"`{f}`" for f in declared["flags"])
            where = f" {', '.join(backends[name])} |" if backends else ""
            rows.append(f"| {env} | {flags} | {_cell(_type(field.annotation))} | {_cell(_default(field))} |{where} {_cell(declared['help'])} |")
    return rows


def render() -> str:
    from benchmark_eval.backends import all_settings_classes
    from benchmark_eval.cli.compare import CompareOptions
    from benchmark_eval.cli.data import CheckOptions, ConvertOptions
    from benchmark_eval.cli.export import ExportOptions
    from benchmark_eval.cli.importing import ImportOptions
    from benchmark_eval.cli.pack import PackOptions
    from benchmark_eval.cli.plan_signoff import PlanOptions
    from benchmark_eval.cli.prepare_demo import DemoModelOptions
    from benchmark_eval.settings import RunSettings, ServerSettings

    backends: dict[str, list[str]] = {}
    classes = all_settings_classes()
    for model in classes:
        mode = str(model.model_fields["mode"].default)
        for name in model.model_fields:
            backends.setdefault(name, []).append(mode)
    every = {name: ["all"] if len(modes) == len(classes) else modes for name, modes in backends.items()}
    lines = [HEADER, "## run (`bash opencompass.sh`, `benchmark-eval run`)", "",
             "Backends: `vllm` (a running server), `vllm_offline` (vLLM's engine), `hf` (local weights).", "",
             *_table([RunSettings, *classes], every), ""]
    commands: list[tuple[str, type[BaseModel]]] = [
        ("server start (`python vllm_api.py start`)", ServerSettings), ("compare", CompareOptions),
        ("plan-signoff", PlanOptions), ("import", ImportOptions), ("export", ExportOptions), ("pack", PackOptions),
        ("data check", CheckOptions), ("data convert", ConvertOptions), ("prepare-demo-model", DemoModelOptions)]
    for title, model in commands:
        lines += [f"## {title}", "", *_table([model]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is out of date: run .venv/bin/python tools/settings_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
