"""The pseudo_labels stage on a tiny dataset in synthreid's annotation format: backends none,
oracle, import and torchvision (with stand-in models), the quality report, and clean failures."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from attnreid.data import index as index_io
from attnreid.errors import InputError
from attnreid.pseudo import coco, imported, quality, store
from attnreid.pseudo.run import run

H, W = 32, 16
CFG = {"backend": "oracle",
       "oracle": {"noise_px": 0.0, "drop_prob": 0.0, "seed": 0},
       "mediapipe": {"python": ".venv-mediapipe/bin/python", "upscale": 2, "pad": 0.75, "min_confidence": 0.3},
       "torchvision": {"min_score": 0.5, "device": "cpu"},
       "import": {"keypoints": [], "masks_from": "oracle"}}
FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}


def cfg(**over) -> dict:
    out = copy.deepcopy(CFG)
    for k, v in over.items():
        out[k] = {**out[k], **v} if isinstance(v, dict) else v
    return out


def write_synth(root: Path, n: int = 6) -> Path:
    """n images (a box-shaped person), synthreid's annotations/keypoints.csv + masks, and an index."""
    rng = np.random.default_rng(0)
    rows, ann = [], []
    for i in range(n):
        split = ("train", "query", "gallery")[i % 3]
        rel = f"{FOLDERS[split]}/{1 + i // 3:04d}_c{1 + i % 2}s1_{i:06d}_01.jpg"
        mask = np.zeros((H, W), bool)
        mask[4 + i % 2:30, 3:13] = True
        img = rng.integers(0, 60, (H, W, 3), dtype=np.uint8)
        img[mask] = 200
        for base, arr in ((root, img), (root / "annotations" / "masks", mask.astype(np.uint8) * 255)):
            f = base / (rel if base == root else Path(rel).with_suffix(".png"))
            f.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(f)
        xyv = np.column_stack([3 + 10 * rng.random(17), 5 + 24 * rng.random(17), rng.choice([1, 2], 17)])
        xyv[i % 17] = 0  # one unlabelled keypoint per image
        rows.append({"path": rel, "pid": 1 + i // 3, "camid": 1 + i % 2, "split": split})
        ann.append([rel, *xyv.ravel()])
    cols = ["path"] + [f"{k}_{a}" for k in coco.NAMES for a in "xyv"]
    pd.DataFrame(ann, columns=cols).to_csv(root / "annotations" / "keypoints.csv", index=False)
    index_csv = root.parent / "prepared" / "index.csv"
    index_io.write(pd.DataFrame(rows), {"dataset": "toy", "kind": "synthreid", "root": str(root),
                                        "annotations": "annotations"}, index_csv)
    return index_csv


@pytest.fixture
def synth(tmp_path) -> Path:
    return write_synth(tmp_path / "data")


def test_params_yaml_block_drives_the_stage(synth, tmp_path):
    from attnreid import config
    from conftest import ROOT

    for profile in config.PROFILES:
        block = config.load(ROOT / "params.yaml", profile)["pseudo_labels"]
        assert set(block) == set(CFG)
    run("toy", synth, tmp_path / "p", {**block, "backend": "oracle"})
    assert store.read_json(tmp_path / "p", "provenance.json")["parameters"] == block["oracle"]
    raw = config.load_raw(ROOT / "params.yaml")
    for key, bad in (("backend", "cpn"), ("oracle", {"drop_prob": 2}), ("import", {"masks_from": "import"})):
        with pytest.raises(InputError, match=rf"pseudo_labels\.{key}"):
            config.validate({**raw, "pseudo_labels": {**raw["pseudo_labels"], key: bad}})


def test_none_writes_provenance_only(synth, tmp_path):
    out = tmp_path / "pseudo"
    run("toy", synth, out, cfg(backend="none"))
    assert sorted(p.name for p in out.iterdir()) == ["provenance.json"]
    assert store.read_json(out, "provenance.json")["backend"] == "none"


def test_oracle_is_the_ground_truth_and_says_so(synth, tmp_path):
    out = tmp_path / "pseudo"
    prov = run("toy", synth, out, cfg())
    assert sorted(p.name for p in out.iterdir()) == ["keypoints.csv", "masks.npz", "overlay.png",
                                                     "provenance.json", "quality.json"]
    assert prov["ground_truth"] is True and len(prov["source_sha256"]["keypoints.csv"]) == 64
    q = store.read_json(out, "quality.json")
    assert q["ground_truth"] is True and q["images"] == 6 and q["detection_rate"] == 1.0
    assert q["keypoint_rate"] == round(16 / 17, 4)  # the unlabelled keypoint is missing, not invented
    assert q["vs_ground_truth"]["pck@0.1"] == 1.0 and q["vs_ground_truth"]["mask_iou"] == 1.0
    labels = store.read(out)
    gt = pd.read_csv(synth.parents[1] / "data" / "annotations" / "keypoints.csv").set_index("path")
    row = gt.loc[labels.paths[2]]
    assert labels.keypoints[2, 5, 0] == pytest.approx(row.left_shoulder_x, abs=1e-3)
    assert labels.keypoints[2, 5, 2] == row.left_shoulder_v / 2
    assert np.isnan(labels.keypoints[2, 2, 0]) and labels.keypoints[2, 2, 2] == 0
    assert labels.masks[0].sum() == 26 * 10 and labels.masks[0].shape == (H, W)
    with Image.open(out / "overlay.png") as im:
        assert im.width > W and im.height > H


def test_degraded_oracle_drops_and_jitters(synth, tmp_path):
    run("toy", synth, tmp_path / "p", cfg(oracle={"noise_px": 3.0, "drop_prob": 0.5, "seed": 1}))
    q = store.read_json(tmp_path / "p", "quality.json")
    assert 0.2 < q["keypoint_rate"] < 0.7
    assert q["vs_ground_truth"]["pck@0.1"] < 0.7 and q["vs_ground_truth"]["invented"] == 0.0
    run("toy", synth, tmp_path / "q", cfg(oracle={"noise_px": 3.0, "drop_prob": 0.5, "seed": 1}))
    assert (tmp_path / "p" / "keypoints.csv").read_text() == (tmp_path / "q" / "keypoints.csv").read_text()


def test_compare_counts_misses_and_inventions(synth, tmp_path):
    run("toy", synth, tmp_path / "gt", cfg())
    truth = store.read(tmp_path / "gt")
    kps = truth.keypoints.copy()
    kps[:, 0] = truth.keypoints[:, 0] + (10.0, 0.0, 0.0)  # nose 10 px off (> 0.1 x 26 px box)
    kps[:, 3] = coco.missing()[0]  # left ear dropped
    got = quality.compare(store.Labels(truth.paths, kps, truth.masks), truth)
    labelled = (truth.keypoints[..., 2] > 0).sum()
    wrong = (truth.keypoints[:, [0, 3], 2] > 0).sum()
    assert got["pck@0.1"] == round((labelled - wrong) / labelled, 4) and got["mask_iou"] == 1.0
    assert got["pck@0.1_per_name"]["nose"] == 0.0 and got["pck@0.1_per_name"]["left_eye"] == 1.0


def test_compare_folders_and_its_table(synth, tmp_path):
    run("toy", synth, tmp_path / "gt", cfg())
    run("toy", synth, tmp_path / "noisy", cfg(oracle={"noise_px": 2.0, "drop_prob": 0.3, "seed": 0}))
    row = quality.compare_folders(tmp_path / "noisy", tmp_path / "gt")
    assert row["reference_is_ground_truth"] and row["images"] == 6 and row["mask_iou"] == 1.0
    assert row["pck@0.1"] < 1.0
    table = quality.markdown([row]).splitlines()
    assert table[0].startswith("| dataset | labels | reference |")
    assert table[2].startswith("| toy | oracle | oracle (ground truth) | 6 | 1.000 | 1.000 |")


def test_failures_are_one_line_and_leave_nothing(synth, tmp_path):
    out = tmp_path / "pseudo"
    out.mkdir()
    (out / "old.txt").write_text("kept")
    meta = json.loads(synth.with_name("meta.json").read_text())
    (Path(meta["root"]) / "annotations" / "masks" / "query").rename(tmp_path / "moved")
    with pytest.raises(InputError, match=r"ground-truth mask not found") as err:
        run("toy", synth, out, cfg())
    assert "\n" not in str(err.value) and "query" in str(err.value)
    with pytest.raises(InputError, match="pseudo_labels.backend: unknown backend 'cpn'"):
        run("toy", synth, out, cfg(backend="cpn"))
    with pytest.raises(InputError, match=r"pseudo_labels.backend mediapipe: .*nowhere/python not found"):
        run("toy", synth, out, cfg(backend="mediapipe", mediapipe={"python": str(tmp_path / "nowhere/python")}))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pseudo")] == []
    assert [p.name for p in out.iterdir()] == ["old.txt"]


def test_real_dataset_has_no_ground_truth(synth, tmp_path):
    meta_f = synth.with_name("meta.json")
    meta = json.loads(meta_f.read_text())
    del meta["annotations"]
    meta_f.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="no 'annotations'"):
        run("toy", synth, tmp_path / "p", cfg())


# -- import: published keypoint files in their own formats -----------------------------------------
def _openpose_csv(path: Path, rows: dict[str, np.ndarray]) -> None:
    """pose-gan's `name:keypoints_y:keypoints_x` file; rows: name -> (18, 2) x, y (-1 missing)."""
    lines = ["name:keypoints_y:keypoints_x"]
    for name, xy in rows.items():
        lines.append(f"{name}: {[int(v) for v in xy[:, 1]]}: {[int(v) for v in xy[:, 0]]}")
    path.write_text("\n".join(lines) + "\n")


def _layumi_pp(n: int) -> np.ndarray:
    """28 x n: 1-based x of the 14 points (= point number), then y (= 10 + point number)."""
    pts = np.arange(1, 15, dtype=float)
    return np.tile(np.concatenate([pts, 10 + pts])[:, None], (1, n))


def test_import_openpose_and_matlab(synth, tmp_path):
    df, meta = index_io.read(synth)
    names = [Path(p).name for p in df.path]
    xy = np.column_stack([np.arange(18), 20 + np.arange(18)])
    xy[1] = -1  # the neck: not COCO anyway
    xy[14] = -1  # right eye missing
    _openpose_csv(tmp_path / "op.csv", {names[0]: xy, "9999_c1s1_000001_01.jpg": xy})
    from scipy.io import savemat

    n_train = len(list((Path(meta["root"]) / "bounding_box_train").glob("*.jpg")))
    savemat(tmp_path / "market1501_14point_train.mat", {"pp": _layumi_pp(n_train)})
    kps, info = imported.keypoints(df, meta, [str(tmp_path / "op.csv")])
    assert info["covered"] == round(1 / 6, 4)
    assert kps[0, 0].tolist() == [0.5, 20.5, 1.0]  # nose; 0-based pixel -> its centre
    assert kps[0, 2, 2] == 0 and kps[0, 1].tolist() == [15.5, 35.5, 1.0]  # right eye missing, left eye kept
    assert (kps[1:, :, 2] == 0).all()

    out = tmp_path / "pseudo"
    prov = run("toy", synth, out, cfg(backend="import",
                                     **{"import": {"keypoints": [str(tmp_path / "market1501_14point_train.mat")]}}))
    assert prov["masks"]["backend"] == "oracle" and prov["masks"]["ground_truth"] is True
    labels = store.read(out)
    train = [i for i, p in enumerate(labels.paths) if p.startswith("bounding_box_train/")]
    # left shoulder = MATLAB point 6 at 1-based (6, 16) -> (5.5, 15.5); the face stays missing
    assert labels.keypoints[train[0], 5].tolist() == [5.5, 15.5, 1.0]
    assert (labels.keypoints[train[0], :5, 2] == 0).all()
    assert labels.masks[0].any()
    assert store.read_json(out, "quality.json")["keypoint_rate"] == round(len(train) * 12 / (6 * 17), 4)


def _write_mat73(path: Path, pp: np.ndarray) -> None:
    """A MATLAB 7.3 file as MATLAB writes it: a 512-byte header block, then HDF5 with `pp` transposed."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as h:
        h["pp"] = pp.T
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116) + b"\0" * 8 + b"\x00\x02IM")


def test_import_reads_matlab_73_and_checks_files(synth, tmp_path):
    df, meta = index_io.read(synth)
    n_test = len(list((Path(meta["root"]) / "bounding_box_test").glob("*.jpg")))
    f = tmp_path / "market1501_14point_gallery.mat"
    _write_mat73(f, _layumi_pp(n_test))
    kps, _ = imported.keypoints(df, meta, [str(f)])
    gallery = np.flatnonzero(df.split == "gallery")
    assert kps[gallery[0], 6].tolist() == [2.5, 12.5, 1.0]  # right shoulder = MATLAB point 3 at (3, 13)
    _write_mat73(tmp_path / "market1501_14point_query.mat", _layumi_pp(5))
    with pytest.raises(InputError, match="5 columns but .*query has 2 images"):
        imported.keypoints(df, meta, [str(tmp_path / "market1501_14point_query.mat")])
    with pytest.raises(InputError, match="also has keypoints in"):
        imported.keypoints(df, meta, [str(f), str(f)])
    with pytest.raises(InputError, match="nope.mat: imported keypoint file not found"):
        imported.keypoints(df, meta, [str(tmp_path / "nope.mat")])


# -- torchvision: stand-in models (no weights can be downloaded here) ---------------------------
def _output(n_people: int, h: int, w: int, scores, xy_shift: float = 0.0) -> dict:
    import torch

    kp = torch.zeros(n_people, 17, 3)
    kp[..., 0], kp[..., 1] = w / 2 + xy_shift, h / 2
    return {"labels": torch.tensor([1] * n_people), "scores": torch.tensor(scores, dtype=torch.float32),
            "masks": torch.ones(n_people, 1, h, w) * torch.tensor(scores)[:, None, None, None],
            "keypoints": kp, "keypoints_scores": torch.zeros(n_people, 17)}


def test_torchvision_convert_picks_the_best_person():
    from attnreid.pseudo.torchvision_backend import convert

    kps, mask = convert(_output(2, H, W, [0.6, 0.9]), _output(2, H, W, [0.9, 0.7]), (H, W), 0.5)
    assert mask.all() and kps[:, 2].tolist() == [0.5] * 17 and kps[0, 0] == W / 2
    kps, mask = convert(_output(1, H, W, [0.3]), _output(1, H, W, [0.9], xy_shift=W), (H, W), 0.5)
    assert not mask.any() and (kps[:, 2] == 0).all()  # no mask above min_score; keypoints off the image


def test_torchvision_without_weights_fails_cleanly(synth, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # an empty cache: no download tried
    with pytest.raises(InputError, match=r"maskrcnn_resnet50_fpn_coco-\w+\.pth: coco:maskrcnn weights not found .*"
                                         r"attnreid fetch-weights --only coco:maskrcnn$"):
        run("toy", synth, tmp_path / "p", cfg(backend="torchvision"))
    assert not (tmp_path / "p").exists()


def test_torchvision_stage_with_stand_in_models(synth, tmp_path, monkeypatch):
    from attnreid.pseudo import torchvision_backend as tvb

    def fake_load(builder, key, device):
        return (lambda imgs: [_output(1, *im.shape[1:], [0.9]) for im in imgs]), {"file": f"{key}.pth", "sha256": key}

    monkeypatch.setattr(tvb, "_load", fake_load)
    prov = run("toy", synth, tmp_path / "p", cfg(backend="torchvision"))
    assert prov["model_sha256"] == {"coco:maskrcnn.pth": "coco:maskrcnn", "coco:keypointrcnn.pth": "coco:keypointrcnn"}
    assert prov["ground_truth"] is False
    q = store.read_json(tmp_path / "p", "quality.json")
    assert q["detection_rate"] == 1.0 and q["vs_ground_truth"]["mask_iou"] < 1.0
