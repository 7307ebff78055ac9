"""Backend `import`: published machine keypoints of Market-1501, mapped to COCO-17.

Two formats, told apart by the file suffix:
- .mat, layumi/market1501_body_point (market1501_14point_{train,query,gallery}.mat): variable `pp`,
  28 x N (x of the 14 MATLAB-14 points, then y; 1-based pixels), column j for the j-th image of the
  split folder's *.jpg listing in name order (junk included); MATLAB 7.3 (HDF5, needs h5py, where
  it is stored N x 28) or older (scipy).
- .csv, myeongjun2/pose-guided-human-image-generation (market-annotation-{train,test}.csv):
  `name:keypoints_y:keypoints_x`, each a list of 18 OpenPose-COCO values (0-based pixels, -1 missing),
  matched to the index by file name (it covers bounding_box_train and bounding_box_test).
Neither publishes confidences: a present keypoint gets c = 1. Coordinates become continuous
(pixel i spans [i, i+1)). Masks come from the backend named by `masks_from`.
"""
from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from attnreid.errors import InputError
from attnreid.pseudo import coco
from attnreid.pseudo.provenance import sha256

MAT_SPLITS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test",
              "test": "bounding_box_test"}


def read_matlab14(path: Path, root: Path) -> dict[str, np.ndarray]:
    """{index path: (17, 3) COCO keypoints} from one layumi .mat file."""
    split = path.stem.rsplit("_", 1)[-1]
    if split not in MAT_SPLITS:
        raise InputError(f"{path}: name must end in _train, _query or _gallery (the split it covers)")
    folder = MAT_SPLITS[split]
    pp = _load_pp(path)
    names = sorted(f.name for f in (root / folder).glob("*.jpg"))
    if pp.shape[1] != len(names):
        raise InputError(f"{path}: {pp.shape[1]} columns but {root / folder} has {len(names)} images")
    pts = np.stack([pp[:14].T - 0.5, pp[14:].T - 0.5, np.ones((len(names), 14))], axis=-1)
    kps = coco.to_coco(pts, "matlab14")
    return {f"{folder}/{n}": k for n, k in zip(names, kps)}


def _load_pp(path: Path) -> np.ndarray:
    """`pp` as 28 x N, from either MATLAB file version."""
    from scipy.io import loadmat

    try:
        pp = loadmat(path).get("pp")
    except NotImplementedError:  # MATLAB 7.3: HDF5, arrays stored transposed
        try:
            import h5py
        except ImportError:
            raise InputError(f"{path}: a MATLAB 7.3 file; reading it needs h5py (pip install h5py)") from None
        with h5py.File(path, "r") as f:
            pp = f["pp"][()].T if "pp" in f else None
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable MATLAB file ({exc})") from None
    if pp is None or pp.ndim != 2 or pp.shape[0] != 28:
        raise InputError(f"{path}: no 28 x N variable 'pp' (14 x, then 14 y per image)")
    return pp.astype(np.float32)


def read_openpose18(path: Path) -> dict[str, np.ndarray]:
    """{file name: (17, 3) COCO keypoints} from one pose-gan annotation CSV."""
    df = pd.read_csv(path, sep=":")
    if list(df.columns) != ["name", "keypoints_y", "keypoints_x"]:
        raise InputError(f"{path}: expected the header name:keypoints_y:keypoints_x")
    out = {}
    for name, ys, xs in df.itertuples(index=False):
        y, x = np.array(ast.literal_eval(ys), np.float32), np.array(ast.literal_eval(xs), np.float32)
        if len(x) != 18 or len(y) != 18:
            raise InputError(f"{path}: {name}: expected 18 x and 18 y values")
        gone = (x < 0) | (y < 0)
        pts = np.stack([x + 0.5, y + 0.5, np.ones(18, np.float32)], axis=-1)
        out[name.strip()] = coco.to_coco(coco.mark_missing(pts, gone), "openpose18")
    return out


def keypoints(df: pd.DataFrame, meta: dict, files: list[str]) -> tuple[np.ndarray, dict]:
    """(N, 17, 3) keypoints for the index rows (missing where no file covers an image) and provenance."""
    if not files:
        raise InputError("params.yaml: pseudo_labels.import.keypoints: no file listed")
    kps = coco.missing((len(df),))
    source = np.full(len(df), -1)
    row_of_path = {p: i for i, p in enumerate(df.path)}
    rows_of_name: dict[str, list[int]] = {}
    for i, p in enumerate(df.path):
        rows_of_name.setdefault(PurePosixPath(p).name, []).append(i)
    for k, f in enumerate(map(Path, files)):
        if not f.is_file():
            raise InputError(f"{f}: imported keypoint file not found (pseudo_labels.import.keypoints)")
        if f.suffix == ".mat":
            found = {row_of_path[p]: v for p, v in read_matlab14(f, Path(meta["root"])).items() if p in row_of_path}
        elif f.suffix == ".csv":
            found = {i: v for n, v in read_openpose18(f).items() for i in rows_of_name.get(n, [])}
        else:
            raise InputError(f"{f}: unknown keypoint format (.mat: MATLAB-14, .csv: OpenPose-18)")
        rows = np.array(sorted(found), dtype=int)
        twice = rows[source[rows] >= 0] if len(rows) else rows
        if len(twice):
            raise InputError(f"{f}: {df.path[twice[0]]} also has keypoints in {files[source[twice[0]]]}")
        if len(rows):
            kps[rows] = np.stack([found[i] for i in rows])
            source[rows] = k
    info = {"source_sha256": {str(f): sha256(f) for f in files},
            "covered": round(float((source >= 0).mean()), 4) if len(df) else None,
            "confidence": "not published: 1 for every present keypoint"}
    return kps, info
