"""A REAL single-node Slurm cluster for tests: munged + slurmctld + slurmd on localhost.

Everything (key, config, state, logs, sockets) lives in a temporary folder; nothing under
/etc is touched. Debian's slurm-wlm and munge must be installed (install.sh --for-tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark_eval.server import free_port

PARTITION = "evalq"


def _config(root: Path, host: str) -> str:
    return f"""ClusterName=benchmark-eval-test
SlurmctldHost={host}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={root}/run/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=3600
ReturnToService=2
MpiDefault=none
NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextmanager
def slurm_cluster(root: Path) -> Iterator[dict[str, str]]:
    """Start the daemons; yield the env a client needs (SLURM_CONF); stop them afterwards."""
    for tool in ("munged", "slurmctld", "slurmd", "srun", "squeue", "sinfo"):
        assert shutil.which(tool), f"{tool} is missing: run bash install.sh --for-tests (Debian's slurm-wlm and munge)"
    for folder in ("state", "spool", "log", "run"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(_config(root, host))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    pids = [root / "run" / name for name in ("slurmd.pid", "slurmctld.pid", "munged.pid")]
    try:
        subprocess.run(["munged", f"--key-file={key}", f"--socket={root}/run/munge.sock", f"--pid-file={pids[2]}",
                        f"--log-file={root}/log/munged.log", f"--seed-file={root}/run/munge.seed", "--force"],
                       check=True, env=env)
        subprocess.run(["slurmctld", "-f", str(conf)], check=True, env=env)
        subprocess.run(["slurmd", "-f", str(conf)], check=True, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"slurm node never became idle: {(root / 'log' / 'slurmctld.log').read_text()[-2000:]}")
        yield {"SLURM_CONF": str(conf)}
    finally:
        for pid_file in pids:
            _stop(pid_file)


def _stop(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
