"""Errors a user can act on.

Anything raised as `UserError` reaches the terminal as one line (what is wrong and how to
fix it) with a non-zero exit code and no traceback; everything else is a bug in the toolkit.
"""

from __future__ import annotations

# Exit codes shared by every command, one meaning each, so a CI gate can tell a verdict from a
# mistake. Verdicts sit on codes that nothing else produces: Python exits 1 on an uncaught error,
# bash and click use 1 and 2 for their own failures.
EXIT_OK = 0  # done; compare: PASS
EXIT_INTERNAL = 1  # a bug in benchmark-eval (a traceback is shown); also Python's own uncaught errors
EXIT_BAD_INPUT = 2  # settings, data, paths or options are wrong; nothing long was started
EXIT_EVAL_FAILED = 3  # run: the evaluation ran but some dataset has no valid score
EXIT_VERDICT_FAIL = 10  # compare: FAIL, worse than the margin
EXIT_INCONCLUSIVE = 11  # compare: INCONCLUSIVE, the data cannot tell
EXIT_NOT_COMPARABLE = 12  # compare: the two runs did not see the same inputs
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT); SIGTERM is 143 (128 + the signal number)

#: code -> meaning, for the README and the CLI's help (one table, in one place).
EXIT_TABLE: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success; compare: PASS"),
    (EXIT_INTERNAL, "internal error (a bug: the traceback is shown)"),
    (EXIT_BAD_INPUT, "bad input: settings, data, paths or options (one line says what to fix)"),
    (EXIT_EVAL_FAILED, "run: some dataset has no valid score (the run folder says why; resume it)"),
    (EXIT_VERDICT_FAIL, "compare: FAIL"),
    (EXIT_INCONCLUSIVE, "compare: INCONCLUSIVE"),
    (EXIT_NOT_COMPARABLE, "compare: the runs are not comparable (their inputs differ)"),
    (EXIT_INTERRUPTED, "interrupted by Ctrl-C (143: by SIGTERM)"),
)


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
