"""A single-node SLURM on localhost for tests: Debian's packages, five daemons started by hand, stopped by PID.

`LocalSlurm(folder)` is a context manager: it writes slurm.conf, gres.conf and slurmdbd.conf (templates
next to this file) into /etc/slurm, where job steps look for them, starts munged, mariadbd, slurmdbd,
slurmctld and slurmd, and on exit cancels every job, stops each daemon by its PID and removes the
files it wrote. Database, state, logs and PID files live in `folder`, so a run leaves nothing behind.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = ("slurm-wlm", "munge", "slurmdbd", "mariadb-server")
ETC = Path("/etc/slurm")
CONFIGS = ("slurm.conf", "gres.conf", "slurmdbd.conf")
MARK = "# attnreid test cluster"       # every config file this module writes starts with it
MYSQL_SOCKET = Path("/run/mysqld/mysqld.sock")   # where slurmdbd's client library looks for "localhost"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
STARTUP_S = 60


class Unavailable(Exception):
    """SLURM cannot be brought up on this machine; the message is one line saying why."""


def missing_packages() -> list[str]:
    """The Debian packages of PACKAGES not installed here."""
    if shutil.which("dpkg-query") is None:
        raise Unavailable("no dpkg-query: not a Debian system")
    missing = []
    for pkg in PACKAGES:
        res = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in res.stdout:
            missing.append(pkg)
    return missing


def ensure_packages() -> None:
    """Install the missing PACKAGES with apt-get (root only), without letting their scripts start daemons."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise Unavailable(f"not root, so cannot apt-get install {' '.join(missing)}")
    if shutil.which("apt-get") is None:
        raise Unavailable(f"no apt-get to install {' '.join(missing)}")
    policy = Path("/usr/sbin/policy-rc.d")      # exit 101: maintainer scripts must not start services
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for cmd in (["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]):
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            if res.returncode != 0:
                raise Unavailable(f"{' '.join(cmd)} failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
    finally:
        if own_policy:
            policy.unlink()


def run(*cmd: str, timeout: float = 30) -> str:
    """stdout of a SLURM/munge/MariaDB client command; raises CalledProcessError on failure."""
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout).stdout


def _mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise Unavailable("no MemTotal in /proc/meminfo")


class LocalSlurm:
    """One-node cluster named by slurm.conf; `host` is its node, `folder` holds everything it writes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.host = socket.gethostname().split(".")[0]
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.state = self.folder / "state"
        self.written: list[Path] = []

    def __enter__(self) -> "LocalSlurm":
        try:
            self._write_configs()
            self._start_munge()
            self._start_mariadb()
            self._start("slurmdbd", ["slurmdbd", "-D"], lambda: run("sacctmgr", "-n", "list", "cluster"))
            self._start("slurmctld", ["slurmctld", "-D"], lambda: "UP" in run("scontrol", "ping"))
            self._start("slurmd", ["slurmd", "-D"], self._node_idle)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- configuration -------------------------------------------------------------------------------
    def _write_configs(self) -> None:
        if os.geteuid() != 0:
            raise Unavailable("not root: the test cluster writes /etc/slurm and runs its daemons as root")
        for name in CONFIGS:
            dst = ETC / name
            if dst.exists() and not dst.read_text().startswith(MARK):
                raise Unavailable(f"{dst} exists and is not ours: this machine has a real SLURM setup")
        for sub in ("slurmctld", "slurmd", "mysql"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        values = {"host": self.host, "state": self.state, "cpus": os.cpu_count(), "mem_mb": int(_mem_total_mb() * 0.9)}
        ETC.mkdir(parents=True, exist_ok=True)
        for name in CONFIGS:
            dst = ETC / name
            dst.write_text((HERE / name).read_text().format(**values))
            dst.chmod(0o600 if name == "slurmdbd.conf" else 0o644)   # slurmdbd refuses a readable one
            self.written.append(dst)

    # -- daemons -------------------------------------------------------------------------------------
    def _start(self, name: str, cmd: list[str], ready, **popen) -> None:
        """Start `cmd` in foreground (its PID is the daemon's); wait until `ready()` neither raises nor is False."""
        log = open(self.folder / f"{name}.out", "w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen)
        log.close()
        self.procs.append((name, proc))
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {self.tail(name)}")
            try:
                if ready() is not False:
                    return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {STARTUP_S} s: {self.tail(name)}")
            time.sleep(0.5)

    def _start_munge(self) -> None:
        MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
        self._start("munged", ["munged", "-F", "--force"], lambda: run("munge", "-n"), user="munge", group="munge")

    def _start_mariadb(self) -> None:
        datadir = self.state / "mysql"
        run("mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
            "--auth-root-authentication-method=socket", "--skip-test-db", timeout=120)
        MYSQL_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        self._start("mariadbd", ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={MYSQL_SOCKET}",
                                 f"--pid-file={self.state}/mariadbd.pid", "--skip-networking", "--user=root",
                                 "--innodb-use-native-aio=0"],
                    lambda: run("mariadb", f"--socket={MYSQL_SOCKET}", "-e", "select 1"))

    def _node_idle(self) -> bool:
        return run("sinfo", "-h", "-N", "-o", "%T").strip() == "idle"

    def tail(self, name: str, lines: int = 15) -> str:
        """The last lines a daemon wrote (its stdout, then its own log file if it has one)."""
        text = ""
        for path in (self.folder / f"{name}.out", self.state / f"{name}.log"):
            if path.exists():
                text += path.read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """Cancel every job, stop each daemon by its PID (newest first), remove the config files written."""
        if any(name == "slurmctld" for name, _ in self.procs):
            self._cancel_jobs()
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        for path in self.written:
            path.unlink(missing_ok=True)
        self.written.clear()

    def _cancel_jobs(self) -> None:
        try:
            run("scancel", "--user", "root")
            deadline = time.monotonic() + 30
            while run("squeue", "-h", "-t", "PD,R,CG,S").strip() and time.monotonic() < deadline:
                time.sleep(0.5)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            pass
