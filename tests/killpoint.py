"""Run the attnreid CLI with one kill point, striking as a scheduler or the OOM killer would:

    python killpoint.py SPEC SIGNAL -- <attnreid arguments>

SPEC: `batch:N` (as the Nth training batch is augmented, in the training process), `save:N` (halfway through writing the Nth
checkpoint or model file into its temporary), `commit:NAME` (NAME's temporary complete, not yet
renamed onto NAME). SIGNAL: TERM, USR1, INT or KILL, which the process sends to itself.
"""
from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

TEMPORARY = re.compile(r".+\.tmp-\d+")  # attnreid.atomic's (and synthreid's) temporaries


def arm(spec: str, sig: int, setattr=setattr) -> None:
    """Patch this process so it sends itself `sig` at `spec`; `setattr` may be pytest's monkeypatch.setattr."""
    kind, arg = spec.split(":", 1)
    count = 0

    def strike_at(n: int) -> bool:
        nonlocal count
        count += 1
        return count == n

    if kind == "batch":
        from attnreid.data.batches import TrainBatches

        batch = TrainBatches.batch

        def patched_batch(self, *args):
            if strike_at(int(arg)):
                os.kill(os.getpid(), sig)
            return batch(self, *args)

        setattr(TrainBatches, "batch", patched_batch)
    elif kind == "save":
        write_bytes = Path.write_bytes

        def patched_write_bytes(self, data):
            if not (TEMPORARY.fullmatch(self.name) and strike_at(int(arg))):
                return write_bytes(self, data)
            write_bytes(self, bytes(data[: len(data) // 2]))
            os.kill(os.getpid(), sig)

        setattr(Path, "write_bytes", patched_write_bytes)
    elif kind == "commit":
        replace = os.replace

        def patched_replace(src, dst, *args, **kwargs):
            if Path(dst).name == arg and TEMPORARY.fullmatch(Path(src).name):
                os.kill(os.getpid(), sig)
            return replace(src, dst, *args, **kwargs)

        setattr(os, "replace", patched_replace)
    else:
        raise ValueError(f"unknown kill point {spec}")


def main() -> int:
    spec, sig_name, sep, *argv = sys.argv[1:]
    assert sep == "--", __doc__
    arm(spec, getattr(signal, f"SIG{sig_name}"))
    from attnreid.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
