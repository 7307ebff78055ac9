"""COCO-17 mappings on hand-made landmark sets, the mask codec and the label files."""
from __future__ import annotations

import numpy as np
import pytest

from attnreid.pseudo import coco, store
from attnreid.pseudo.masks import PackedMasks


def _numbered(layout: str) -> np.ndarray:
    """Landmark j of `layout` at (j, 100 + j) with confidence 0.5: its index can be read back."""
    n = len(coco.LAYOUTS[layout])
    return np.column_stack([np.arange(n), 100 + np.arange(n), np.full(n, 0.5)]).astype(np.float32)


def _source(kps: np.ndarray) -> list[int | None]:
    return [None if c == 0 else int(x) for x, c in zip(kps[:, 0], kps[:, 2])]


def test_mediapipe33_to_coco():
    got = _source(coco.to_coco(_numbered("mediapipe33"), "mediapipe33"))
    assert got == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]


def test_matlab14_to_coco_leaves_the_face_missing():
    kps = coco.to_coco(_numbered("matlab14"), "matlab14")
    # head top (0) and neck (1) are not COCO points; the face is missing, not invented
    assert _source(kps) == [None] * 5 + [5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
    assert np.isnan(kps[:5, :2]).all() and (kps[:5, 2] == 0).all()


def test_openpose18_to_coco():
    got = _source(coco.to_coco(_numbered("openpose18"), "openpose18"))
    assert got == [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]


def test_missing_source_points_stay_missing_and_batches_map():
    pts = np.stack([_numbered("openpose18")] * 3)
    pts[1] = coco.mark_missing(pts[1], np.arange(18) == 0)  # image 1 has no nose
    kps = coco.to_coco(pts, "openpose18")
    assert kps.shape == (3, 17, 3)
    assert kps[1, 0, 2] == 0 and np.isnan(kps[1, 0, 0]) and kps[0, 0, 2] == 0.5
    with pytest.raises(ValueError, match="openpose18"):
        coco.to_coco(pts[:, :17], "openpose18")


def test_skeleton_is_symmetric_and_in_range():
    assert all(0 <= a < coco.K and 0 <= b < coco.K for a, b in coco.SKELETON)
    assert len(set(coco.SKELETON)) == len(coco.SKELETON) == 19


def test_masks_round_trip_any_size(tmp_path):
    rng = np.random.default_rng(0)
    masks = [rng.random((7, 5)) > 0.5, np.zeros((128, 64), bool), rng.random((3, 9)) > 0.2]
    packed = PackedMasks.pack(masks)
    packed.save(tmp_path / "m.npz", ["a", "b", "c"])
    back, paths = PackedMasks.load(tmp_path / "m.npz")
    assert paths == ["a", "b", "c"]
    for m, b in zip(masks, (back[i] for i in range(3))):
        assert b.dtype == bool and np.array_equal(m, b)
    assert back.area()[1] == 0 and back.bits.nbytes <= sum(-(-m.size // 8) for m in masks)


def test_store_round_trip_marks_missing(tmp_path):
    kps = coco.missing((2,))
    kps[0, 5] = (10.25, 20.5, 0.9)
    labels = store.Labels(["x/a.jpg", "x/b.jpg"], kps, PackedMasks.pack([np.eye(4, dtype=bool)] * 2))
    store.write(tmp_path, labels)
    header = (tmp_path / "keypoints.csv").read_text().splitlines()
    assert header[0].split(",")[:4] == ["path", "nose_x", "nose_y", "nose_c"]
    assert header[2].startswith("x/b.jpg,,,0.000,")  # missing: empty x, y and c = 0
    back = store.read(tmp_path)
    assert back.paths == labels.paths
    np.testing.assert_allclose(back.keypoints, kps, atol=1e-3)
    assert np.array_equal(back.masks[1], np.eye(4, dtype=bool))
