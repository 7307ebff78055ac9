"""python -m attnreid.data.synthreid OUT_DIR [key=value ...]: generate and report images/s.

Values are JSON (numbers, true/false, [lo, hi]); anything else is taken as a string.
"""
from __future__ import annotations

import json
import sys
import time

from attnreid.data.synthreid.config import SynthConfig
from attnreid.data.synthreid.generate import generate


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv[1:]):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    try:
        cfg = SynthConfig.from_dict(dict((k, _value(v)) for k, v in (a.split("=", 1) for a in argv[1:])),
                                    where="command line")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    wall, cpu = time.perf_counter(), time.process_time()
    manifest = generate(argv[0], cfg)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    images = manifest["counts"]["images"]
    print(json.dumps(manifest["counts"]))
    print(f"{images} images in {wall:.1f} s wall, {cpu:.1f} s CPU: {images / wall:.0f} images/s wall, "
          f"{images / cpu:.0f} images/s per CPU second")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
