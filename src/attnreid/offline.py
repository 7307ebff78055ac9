"""No network inside a DAG job: while a job verb runs, an internet socket that connects stops it.

Compute nodes often have no internet; a job that needed it would hang or fail far from its cause,
and one that fell back silently would change what a number means. Every download is an explicit
step run before the DAG (`attnreid fetch`, `attnreid fetch-weights`), so inside a job an AF_INET /
AF_INET6 connect is an error naming the job, the address and those steps. Local sockets (AF_UNIX)
are untouched; a subprocess (the mediapipe worker) runs offline by design.
"""
from __future__ import annotations

import contextlib
import socket

from attnreid.errors import InputError

INTERNET = (socket.AF_INET, socket.AF_INET6)


@contextlib.contextmanager
def no_network(job: str):
    originals = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex")}

    def guard(name):
        def refuse(sock, address, *args, **kwargs):
            if sock.family in INTERNET:
                raise InputError(f"{job}: network access to {address} inside a job; downloads run before the "
                                 "DAG: attnreid fetch (datasets), attnreid fetch-weights (weights)")
            return originals[name](sock, address, *args, **kwargs)
        return refuse

    for name in originals:
        setattr(socket.socket, name, guard(name))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(socket.socket, name, fn)
