"""Print the lines of a pip lock whose distribution this interpreter does not have yet.

install.sh --system-site-packages uses it on hosts that bring their own torch/transformers
(a GPU image): those are kept, and only what is missing is installed from the lock's pins.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(lock: str) -> None:
    have = {_norm(d.metadata["Name"]) for d in importlib.metadata.distributions() if d.metadata["Name"]}
    for line in open(lock, encoding="utf-8"):
        spec = line.split("#", 1)[0].strip()
        if spec and _norm(re.split(r"[=<>!~;\[ ]", spec, maxsplit=1)[0]) not in have:
            print(spec)


if __name__ == "__main__":
    main(sys.argv[1])
