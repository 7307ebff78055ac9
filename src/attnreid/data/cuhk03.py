"""CUHK03 from the raw release: `cuhk-03.mat` (MATLAB v7.3) -> images on disk -> index rows.

The release (Li et al. CVPR 2014) holds, for `labeled` and `detected` boxes, 5 camera pairs of
persons x 10 shots (shots 1-5 from view 1, 6-10 from view 2; empty cells where a person has
fewer). The images are written once under `<root>/images_<variant>/` as
`{pair}_{person:03d}_{view}_{shot:02d}.png`, the names the CUHK03-NP protocol files list, and
the folder appears only when complete. pid = 1000 * pair + person; camid = view (1 or 2).

Two protocols:
- new (CUHK03-NP, Zhong et al. CVPR 2017): `cuhk03_new_protocol_config_<variant>.mat` beside
  cuhk-03.mat gives 767 train / 700 test identities with fixed query and gallery images.
- classic: the mat's `testsets` holds 20 random splits of 100 test identities (1,367 train).
  We evaluate single-shot on one of them (`split`, default 0): per test identity, the query is
  its first image from view 1 and the gallery its first image from view 2.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from attnreid.atomic import atomic_path
from attnreid.errors import InputError

MAT = "cuhk-03.mat"
NAME = re.compile(r"^(?P<pair>[1-5])_(?P<person>\d{3})_(?P<cam>[12])_(?P<shot>\d{2})\.png$")
NP_SPLITS = {"train": "train_idx", "query": "query_idx", "gallery": "gallery_idx"}


def protocol_file(root: Path, variant: str) -> Path:
    return root / f"cuhk03_new_protocol_config_{variant}.mat"


def _open(root: Path):
    import h5py

    path = root / MAT
    if not path.is_file():
        raise InputError(f"{path}: not found (place cuhk03_release's {MAT} in the dataset root)")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"{path}: not a readable MATLAB v7.3 file ({err})") from None


def images_dir(root: str | Path, variant: str) -> str:
    """Write the variant's images out of cuhk-03.mat once; return their folder, relative to root."""
    root = Path(root)
    folder = f"images_{variant}"
    if (root / folder).is_dir():
        return folder
    with _open(root) as mat, atomic_path(root / folder) as tmp:
        tmp.mkdir()
        for pair, pair_ref in enumerate(mat[variant][0], 1):
            people = mat[pair_ref][:].T  # persons x 10 shots
            for person, shots in enumerate(tqdm(people, desc=f"{MAT} {variant} pair {pair}", leave=False), 1):
                written = 0
                for shot, ref in enumerate(shots, 1):
                    img = mat[ref][:].T
                    if img.ndim == 3 and img.size:
                        Image.fromarray(img).save(tmp / f"{pair}_{person:03d}_{1 if shot <= 5 else 2}_{shot:02d}.png")
                        written += 1
                if not written:
                    raise InputError(f"{root / MAT}: {variant} pair {pair} person {person} has no image "
                                     f"(empty identity)")
    return folder


def _row(folder: str, name: str, split: str, where: Path) -> dict:
    m = NAME.match(name)
    if not m:
        raise InputError(f"{where}: image name '{name}' does not match the CUHK03 pattern P_NNN_V_SS.png")
    rec = {k: int(v) for k, v in m.groupdict().items()}
    return {"path": f"{folder}/{name}", "pid": 1000 * rec["pair"] + rec["person"], "camid": rec.pop("cam"),
            "split": split, **rec}


def scan_np(root: str | Path, variant: str) -> pd.DataFrame:
    """CUHK03-NP from cuhk-03.mat and the protocol file of `variant`."""
    from scipy.io import loadmat

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root does not exist")
    config = protocol_file(root, variant)
    if not config.is_file():
        raise InputError(f"{config}: not found (place the CUHK03-NP protocol file from "
                         f"github.com/zhunzhong07/person-re-ranking, evaluation/data/CUHK03/, beside {MAT})")
    try:
        proto = loadmat(config)
        files = [str(np.ravel(f)[0]) for f in proto["filelist"].ravel()]
        splits = {s: proto[key].ravel().astype(int) - 1 for s, key in NP_SPLITS.items()}
    except (ValueError, KeyError, OSError, IndexError) as err:
        raise InputError(f"{config}: not a CUHK03-NP protocol file ({err})") from None
    folder = images_dir(root, variant)
    rows = [_row(folder, files[i], split, config) for split, idx in splits.items() for i in idx]
    return pd.DataFrame(rows)


def scan_classic(root: str | Path, variant: str, split: int) -> pd.DataFrame:
    """CUHK03 classic split `split` of cuhk-03.mat's testsets, single-shot (see module doc)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root does not exist")
    with _open(root) as mat:
        refs = mat["testsets"][0]
        if not 0 <= split < len(refs):
            raise InputError(f"{root / MAT}: has {len(refs)} test splits; split {split} is out of range")
        test = {1000 * int(pair) + int(person) for pair, person in mat[refs[split]][:].T}
    folder = images_dir(root, variant)
    df = pd.DataFrame([_row(folder, f.name, "train", root / folder) for f in sorted((root / folder).iterdir())])
    is_test = df.pid.isin(test)
    first = df[is_test].sort_values("shot").groupby(["pid", "camid"]).head(1)
    for split_name, view in (("query", 1), ("gallery", 2)):
        picked = first[first.camid == view]
        missing = sorted(test - set(picked.pid))
        if missing:
            raise InputError(f"{root / MAT}: test identity {missing[0]} has no view-{view} image "
                             f"({len(missing)} such; empty identity for the {split_name})")
        df.loc[picked.index, "split"] = split_name
    return df[~is_test | df.split.isin(["query", "gallery"])].reset_index(drop=True)
