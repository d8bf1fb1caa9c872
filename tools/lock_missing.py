"""Print the lines of a pip lock whose distribution is not there yet.

"There" is this interpreter's installed distributions (install.sh --system-site-packages, on
hosts that bring their own torch/transformers), or with `--have FILE` the names listed in a
`pip freeze` / one-name-per-line file of another host (install.sh --download-wheels).
Standard library only: it runs before anything is installed.

usage: python lock_missing.py LOCK [--have FILE]
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name(spec: str) -> str:
    return _norm(re.split(r"[=<>!~;\[ ]", spec, maxsplit=1)[0])


def main(lock: str, have_file: str | None) -> None:
    if have_file is None:
        have = {_norm(d.metadata["Name"]) for d in importlib.metadata.distributions() if d.metadata["Name"]}
    else:
        have = {_name(line.strip()) for line in Path(have_file).read_text(encoding="utf-8").splitlines() if line.strip()}
    for line in Path(lock).read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec and _name(spec) not in have:
            print(spec)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[2] if len(args) == 3 and args[1] == "--have" else None)
