"""The consoles everything prints through.

In a terminal rich fits its width. Anywhere else (a log file, CI, a pipe) rich would assume
80 columns and break sentences mid-line; there lines stay whole (soft wrap) and tables get
room (`_PLAIN_WIDTH`), so logs and CI output carry whole lines.
"""

from __future__ import annotations

import sys

from rich.console import Console

_PLAIN_WIDTH = 200


def make_console(stderr: bool = True) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _PLAIN_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width)
