"""A single-node SLURM on localhost for tests: Debian's packages, five daemons started by hand, stopped by PID.

`LocalSlurm(folder)` is a context manager: it writes slurm.conf, gres.conf and slurmdbd.conf (templates
next to this file) into `folder`, starts munged, mariadbd, slurmdbd, slurmctld and slurmd, and on exit
cancels its jobs, stops each daemon by its PID and removes what it made. The daemons and the test's
commands find the configs through SLURM_CONF (`LocalSlurm.env`); the daemons listen on free ports and on
sockets in a private folder (munged's through `AuthInfo=socket=` and `AccountingStoragePass`, MariaDB's
through MYSQL_UNIX_PORT); database, state, logs and PID files live in `folder`. One system path is
written, where SLURM leaves no choice: Snakemake's job-step executor drops SLURM_CONF before its `srun`
inside each job, so that `srun` reads /etc/slurm/slurm.conf; a copy goes there, marked, refused where a
file not ours exists, and removed on exit. munged's key, /etc/munge/munge.key, is the package's (read).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = ("slurm-wlm", "munge", "slurmdbd", "mariadb-server")
CONFIGS = ("slurm.conf", "gres.conf", "slurmdbd.conf")
ETC = Path("/etc/slurm")             # where `srun` inside a job looks (see the module docstring)
MARK = "# attnreid test cluster"     # every config file this module writes starts with it
MUNGE_KEY = Path("/etc/munge/munge.key")   # made by the munge package's install script
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


def run(*cmd: str, timeout: float = 30, env: dict | None = None) -> str:
    """stdout of a SLURM/munge/MariaDB client command; raises CalledProcessError on failure."""
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=timeout, env=env).stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise Unavailable("no MemTotal in /proc/meminfo")


class LocalSlurm:
    """One-node cluster named by slurm.conf; `host` is its node, `folder` holds everything it writes, `env` is
    the environment its client commands (and jobs submitted with it) need."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.host = socket.gethostname().split(".")[0]
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.state = self.folder / "state"
        self.sockets: Path | None = None   # a short private folder (socket paths are limited to 107 bytes)
        self.written: list[Path] = []      # system paths written, removed on exit (newest first)
        self.env = dict(os.environ, SLURM_CONF=str(self.folder / "slurm.conf"))

    def run(self, *cmd: str, timeout: float = 30) -> str:
        """A client command against this cluster."""
        return run(*cmd, timeout=timeout, env=self.env)

    def __enter__(self) -> "LocalSlurm":
        try:
            self._write_configs()
            self._start_munge()
            self._start_mariadb()
            self._start("slurmdbd", ["slurmdbd", "-D"], lambda: self.run("sacctmgr", "-n", "list", "cluster"),
                        env=dict(self.env, MYSQL_UNIX_PORT=str(self.mysql_socket)))
            self._start("slurmctld", ["slurmctld", "-D"], lambda: "UP" in self.run("scontrol", "ping"))
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
            raise Unavailable("not root: the test cluster runs its daemons as root")
        if not MUNGE_KEY.is_file():
            raise Unavailable(f"no {MUNGE_KEY}: the munge package did not make its key")
        etc_conf = ETC / "slurm.conf"
        if etc_conf.exists() and not etc_conf.read_text().startswith(MARK):
            raise Unavailable(f"{etc_conf} exists and is not ours: this machine has a real SLURM setup")
        for sub in ("slurmctld", "slurmd", "mysql"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        self.sockets = Path(tempfile.mkdtemp(prefix="attnreid-slurm-"))
        shutil.chown(self.sockets, "munge", "munge")        # munged (user munge) makes its socket there
        values = {"host": self.host, "state": self.state, "cpus": os.cpu_count(), "mem_mb": int(_mem_total_mb() * 0.9),
                  "munge_socket": self.munge_socket, "ctld_port": _free_port(), "slurmd_port": _free_port(),
                  "dbd_port": _free_port()}
        for name in CONFIGS:
            dst = self.folder / name
            dst.write_text((HERE / name).read_text().format(**values))
            dst.chmod(0o600 if name == "slurmdbd.conf" else 0o644)   # slurmdbd refuses a readable one
        if not ETC.is_dir():
            ETC.mkdir(parents=True)
            self.written.append(ETC)
        shutil.copy(self.folder / "slurm.conf", etc_conf)
        self.written.append(etc_conf)

    @property
    def munge_socket(self) -> Path:
        return self.sockets / "munge.socket"

    @property
    def mysql_socket(self) -> Path:
        return self.sockets / "mysqld.sock"

    # -- daemons -------------------------------------------------------------------------------------
    def _start(self, name: str, cmd: list[str], ready, **popen) -> None:
        """Start `cmd` in foreground (its PID is the daemon's); wait until `ready()` neither raises nor is False."""
        log = open(self.folder / f"{name}.out", "w")
        popen.setdefault("env", self.env)
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
        files = [f"--{what}-file={self.sockets}/munged.{what}" for what in ("pid", "log", "seed")]
        self._start("munged", ["munged", "-F", "--force", f"--socket={self.munge_socket}", *files],
                    lambda: run("munge", "-n", f"--socket={self.munge_socket}"), user="munge", group="munge")

    def _start_mariadb(self) -> None:
        datadir = self.state / "mysql"
        run("mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
            "--auth-root-authentication-method=socket", "--skip-test-db", timeout=120)
        self._start("mariadbd", ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={self.mysql_socket}",
                                 f"--pid-file={self.state}/mariadbd.pid", "--skip-networking", "--user=root",
                                 "--innodb-use-native-aio=0"],
                    lambda: run("mariadb", f"--socket={self.mysql_socket}", "-e", "select 1"))

    def _node_idle(self) -> bool:
        return self.run("sinfo", "-h", "-N", "-o", "%T").strip() == "idle"

    def tail(self, name: str, lines: int = 15) -> str:
        """The last lines a daemon wrote (its stdout, then its own log file if it has one)."""
        text = ""
        for path in (self.folder / f"{name}.out", self.state / f"{name}.log"):
            if path.exists():
                text += path.read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """Cancel this cluster's jobs, stop each daemon by its PID (newest first), remove the system paths
        written and the socket folder."""
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
        for path in reversed(self.written):
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
        self.written.clear()
        if self.sockets is not None:
            shutil.rmtree(self.sockets, ignore_errors=True)
            self.sockets = None

    def _cancel_jobs(self) -> None:
        try:
            self.run("scancel", "--user", "root")     # this cluster's jobs only: its slurmctld is ours
            deadline = time.monotonic() + 30
            while self.run("squeue", "-h", "-t", "PD,R,CG,S").strip() and time.monotonic() < deadline:
                time.sleep(0.5)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            pass
