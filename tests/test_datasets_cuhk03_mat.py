"""CUHK03 from a tiny fake cuhk-03.mat (MATLAB v7.3 layout) and CUHK03-NP protocol file."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from attnreid.data import cuhk03, stats
from attnreid.data import index as index_io
from attnreid.data.datasets import prepare
from attnreid.errors import InputError

PEOPLE = (3, 2)  # persons in camera pairs 1 and 2
EMPTY = {(1, 3): (2, 3, 4, 5, 7, 8, 9, 10), (2, 2): (4, 5, 9, 10)}  # (pair, person) -> empty cells


def write_mat(root: Path, empty=EMPTY, testsets=((1, 2), (2, 1)), variant="detected") -> None:
    """Cells as MATLAB stores them: refs to (10 x persons) ref arrays; images transposed (3, W, H)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    with h5py.File(root / cuhk03.MAT, "w") as f:
        refs = f.create_group("#refs#")

        def put(arr):
            return refs.create_dataset(f"r{len(refs)}", data=arr).ref

        pairs = []
        for pair, n in enumerate(PEOPLE, 1):
            cells = np.empty((10, n), dtype=h5py.ref_dtype)
            for person in range(1, n + 1):
                for shot in range(1, 11):
                    blank = shot in empty.get((pair, person), ())
                    data = np.zeros(2, np.uint64) if blank else rng.integers(0, 255, (8, 4, 3), dtype=np.uint8).T
                    cells[shot - 1, person - 1] = put(data)
            pairs.append(put(cells))
        f.create_dataset(variant, data=np.array([pairs], dtype=h5py.ref_dtype))
        splits = [put(np.array([[pair, person]], dtype=float).T) for pair, person in testsets]
        f.create_dataset("testsets", data=np.array([splits], dtype=h5py.ref_dtype))


def write_protocol(root: Path, variant: str = "detected") -> None:
    """Train pair 1 persons 1-2; test pair 2 persons 1-2 (query: shot 1 and 6, gallery: the rest)."""
    files, idx = [], {"train_idx": [], "query_idx": [], "gallery_idx": []}
    for pair, person in ((1, 1), (1, 2), (2, 1), (2, 2)):
        for shot in range(1, 11):
            if shot in EMPTY.get((pair, person), ()):
                continue
            files.append(f"{pair}_{person:03d}_{1 if shot <= 5 else 2}_{shot:02d}.png")
            split = "train_idx" if pair == 1 else ("query_idx" if shot in (1, 6) else "gallery_idx")
            idx[split].append(len(files))  # 1-based, as MATLAB
    proto = {k: np.array(v, dtype=float).reshape(-1, 1) for k, v in idx.items()}
    proto["filelist"] = np.array(files, dtype=object).reshape(-1, 1)
    proto["labels"] = np.arange(1, len(files) + 1, dtype=float).reshape(-1, 1)
    savemat(cuhk03.protocol_file(root, variant), proto)


def test_np_from_mat_extracts_once_and_checks_counts(tmp_path, monkeypatch):
    root = tmp_path / "cuhk03_release"
    write_mat(root)
    write_protocol(root)
    monkeypatch.setitem(stats.PUBLISHED, "cuhk03_np/detected", stats.Published(
        "fake", "test", {"train": {"images": 20, "ids": 2}, "query": {"images": 4, "ids": 2},
                         "gallery": {"images": 12, "ids": 2}}, cameras=2))
    cfg = {"kind": "cuhk03_np_mat", "variant": "detected"}
    meta = prepare("c", cfg, root, tmp_path / "i" / "index.csv")
    df, _ = index_io.read(tmp_path / "i" / "index.csv")
    assert meta["counts"]["gallery"] == {"images": 12, "ids": 2} and set(df.pid) == {1001, 1002, 2001, 2002}
    assert df.path[0] == "images_detected/1_001_1_01.png" and set(df.camid) == {1, 2}
    (root / cuhk03.MAT).rename(root / "moved.mat")  # images are not extracted again
    assert prepare("c", cfg, root, tmp_path / "j" / "index.csv")["counts"] == meta["counts"]
    cuhk03.protocol_file(root, "detected").unlink()
    with pytest.raises(InputError, match=r"cuhk03_new_protocol_config_detected.mat: not found"):
        prepare("c", cfg, root, tmp_path / "k" / "index.csv")


def test_classic_split_is_single_shot(tmp_path):
    root = tmp_path / "cuhk03_release"
    write_mat(root)
    cfg = {"kind": "cuhk03_classic", "variant": "detected", "split": 1, "check_counts": False}
    prepare("c", cfg, root, tmp_path / "i" / "index.csv")
    df, meta = index_io.read(tmp_path / "i" / "index.csv")
    q, g = index_io.split(df, "query"), index_io.split(df, "gallery")
    assert list(q.path) == ["images_detected/2_001_1_01.png"] and list(g.path) == ["images_detected/2_001_2_06.png"]
    assert 2001 not in set(df.pid[df.split == "train"]) and meta["split"] == 1
    assert meta["counts"]["train"] == {"images": 28, "ids": 4}  # 10 + 10 + 2 (pair 1) + 6 (pair 2, person 2)
    with pytest.raises(InputError, match=r"cuhk-03.mat: has 2 test splits; split 5 is out of range"):
        prepare("c", {**cfg, "split": 5}, root, tmp_path / "j" / "index.csv")


def test_classic_published_counts_are_checked(tmp_path):
    root = tmp_path / "cuhk03_release"
    write_mat(root)
    with pytest.raises(InputError, match=r"train ids 4 != 1367; query images 1 != 100"):
        prepare("c", {"kind": "cuhk03_classic", "variant": "detected"}, root, tmp_path / "i" / "index.csv")


def test_empty_identity_stops_extraction_whole(tmp_path):
    root = tmp_path / "cuhk03_release"
    write_mat(root, empty={**EMPTY, (2, 1): range(1, 11)})
    with pytest.raises(InputError, match=r"cuhk-03.mat: detected pair 2 person 1 has no image \(empty identity\)"):
        prepare("c", {"kind": "cuhk03_classic", "variant": "detected"}, root, tmp_path / "i" / "index.csv")
    assert sorted(p.name for p in root.iterdir()) == [cuhk03.MAT]  # no half-written image folder


def test_not_a_mat_file_is_named(tmp_path):
    root = tmp_path / "cuhk03_release"
    root.mkdir()
    (root / cuhk03.MAT).write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(InputError, match=r"cuhk-03.mat: not a readable MATLAB v7.3 file"):
        prepare("c", {"kind": "cuhk03_classic", "variant": "labeled"}, root, tmp_path / "i" / "index.csv")
