"""Errors a user can act on.

Anything raised as `UserError` reaches the terminal as one line (what is wrong and how to
fix it) with a non-zero exit code and no traceback; everything else is a bug in the toolkit.
"""

from __future__ import annotations

# Exit codes shared by every command, so shell scripts can tell outcomes apart.
EXIT_OK = 0
EXIT_EVAL_FAILED = 1  # the evaluation ran but some task/score failed
EXIT_BAD_INPUT = 2  # settings, data or environment are wrong; nothing long was started
EXIT_NOT_COMPARABLE = 3  # compare: the two runs did not see the same inputs


class UserError(Exception):
    """A problem the user can fix; `str(error)` is the one line shown to them."""

    exit_code: int = EXIT_BAD_INPUT

    def __init__(self, message: str, exit_code: int | None = None, details: str = "") -> None:
        # One line only: the CLI prints exactly this, so keep it free of newlines.
        super().__init__(" ".join(message.split()))
        # Optional supporting text (e.g. the tail of a log), printed after the line.
        self.details = details
        if exit_code is not None:
            self.exit_code = exit_code


class EvaluationFailed(UserError):
    """The run finished but at least one dataset has no valid score."""

    exit_code = EXIT_EVAL_FAILED
