"""python -m attnreid.data.synthreid.check DIR [QUERY_DIR]: colour-histogram baseline on a dataset.

Each image becomes a global joint RGB histogram (8x8x8 bins, L1-normalised, square-rooted so
Euclidean distance is the Hellinger distance); queries (DIR/query, or DIR/QUERY_DIR such as
partial_query) are ranked against DIR/bounding_box_test under the Market-1501 protocol: gallery
images of the query's own identity and camera, and junk (pid -1), are skipped; distractors (0000)
stay as wrong matches. Prints rank-1/5/10 and mAP. A measure of how far global colour alone
goes: the generator's difficulty knobs should keep it well below a learned model.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

NAME = re.compile(r"^(-1|\d{4})_c(\d)s\d_\d{6}_\d{2}\.jpg$")


def load(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, pids and cameras of the Market-named images in `folder` (sorted by name)."""
    feats, pids, cams = [], [], []
    for path in sorted(folder.iterdir()):
        m = NAME.match(path.name)
        if not m:
            continue
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB")) >> 5
        idx = (rgb[..., 0].astype(np.int64) * 64 + rgb[..., 1] * 8 + rgb[..., 2]).ravel()
        hist = np.bincount(idx, minlength=512).astype(np.float64)
        feats.append(np.sqrt(hist / hist.sum()))
        pids.append(int(m.group(1)))
        cams.append(int(m.group(2)))
    return np.array(feats), np.array(pids), np.array(cams)


def market_eval(dist: np.ndarray, q_pids: np.ndarray, q_cams: np.ndarray, g_pids: np.ndarray,
                g_cams: np.ndarray, max_rank: int = 10) -> tuple[np.ndarray, float, int]:
    """CMC (ranks 1..max_rank), mAP and the number of valid queries (with a cross-camera match)."""
    cmc, aps = np.zeros(max_rank), []
    for i in range(len(q_pids)):
        order = np.argsort(dist[i], kind="stable")
        pid, cam = g_pids[order], g_cams[order]
        keep = (pid != -1) & ~((pid == q_pids[i]) & (cam == q_cams[i]))
        hits = np.flatnonzero(pid[keep] == q_pids[i])
        if hits.size == 0:
            continue
        cmc[hits[0]:] += 1
        aps.append(np.mean(np.arange(1, hits.size + 1) / (hits + 1)))
    n = len(aps)
    return cmc / max(n, 1), float(np.mean(aps)) if n else 0.0, n


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    root = Path(argv[0])
    qf, qp, qc = load(root / (argv[1] if len(argv) == 2 else "query"))
    gf, gp, gc = load(root / "bounding_box_test")
    dist = np.sqrt(np.maximum((qf ** 2).sum(1)[:, None] + (gf ** 2).sum(1)[None] - 2 * qf @ gf.T, 0.0))
    cmc, mean_ap, n = market_eval(dist, qp, qc, gp, gc)
    print(f"colour-histogram baseline: {n} queries x {len(gp)} gallery: rank-1 {cmc[0]:.1%}  "
          f"rank-5 {cmc[4]:.1%}  rank-10 {cmc[9]:.1%}  mAP {mean_ap:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
