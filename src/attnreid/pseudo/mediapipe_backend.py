"""Backend `mediapipe`: MediaPipe Pose (landmarks + pose segmentation) in its own environment.

mediapipe 0.10.21 needs numpy < 2 and protobuf < 5, so it lives in `.venv-mediapipe` (made by
`make venv` from requirements-mediapipe.txt) and runs as a subprocess (attnreid.pseudo.mediapipe_worker)
that sees only the attnreid package, not the main environment. Defaults (upscale 2, pad 0.75,
min_confidence 0.3): see params.yaml.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from attnreid.errors import InputError
from attnreid.pseudo.masks import PackedMasks
from attnreid.pseudo.store import Labels

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parents[1]


def unavailable(cfg: dict) -> str | None:
    """Why the backend cannot run here (its env is missing), or None."""
    python = Path(cfg["python"])
    if not python.is_file():
        return f"{python} not found (`make venv` creates it from requirements-mediapipe.txt)"
    return None


def label(df: pd.DataFrame, meta: dict, cfg: dict) -> tuple[Labels, dict]:
    python = Path(cfg["python"])
    if unavailable(cfg):
        raise InputError(f"pseudo_labels.backend mediapipe: {unavailable(cfg)}")
    with tempfile.TemporaryDirectory(prefix="attnreid-mediapipe-") as tmp:
        tmp = Path(tmp)
        (tmp / "attnreid").symlink_to(PACKAGE, target_is_directory=True)
        out = tmp / "result.npz"
        request = {"images": list(df.abspath), "out": str(out),
                   **{k: cfg[k] for k in ("upscale", "pad", "min_confidence")}}
        (tmp / "request.json").write_text(json.dumps(request))
        info = _run([str(python), "-m", "attnreid.pseudo.mediapipe_worker", str(tmp / "request.json")], tmp)
        with np.load(out, allow_pickle=False) as z:
            kps, masks = z["keypoints"], PackedMasks(z["bits"], z["shape"], z["offset"])
    info["python"] = str(python)
    return Labels(list(df.path), kps, masks), info


def _run(cmd: list[str], tmp: Path) -> dict:
    """Run the worker, relaying its progress; return its info or raise one line naming the backend."""
    env = {**os.environ, "PYTHONPATH": str(tmp), "PYTHONNOUSERSITE": "1", "GLOG_minloglevel": "2",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(tmp / "stderr.txt", "w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        last: dict = {}
        for line in proc.stdout:
            try:
                last = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "done" in last:
                log.info("mediapipe: %d / %d images", last["done"], last["of"])
        proc.wait()
        err.seek(0)
        tail = [ln for ln in err.read().splitlines() if ln.strip()]
    if proc.returncode == 0 and "info" in last:
        return last["info"]
    reason = last.get("error") or (tail[-1] if tail else f"worker exited with status {proc.returncode}")
    raise InputError(f"pseudo_labels.backend mediapipe: {reason}")
