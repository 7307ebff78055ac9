"""COCO-17 keypoints: names, skeleton, and the maps from other detectors' layouts.

A keypoint array is (17, 3) float: x, y in pixels of the image and a confidence c in [0, 1].
A missing keypoint is (NaN, NaN, 0): a layout without a COCO point (the MATLAB-14 set has no
face points) leaves it missing rather than inventing it. numpy only: the mediapipe worker,
which runs in its own environment, imports this module too.
"""
from __future__ import annotations

import numpy as np

NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
         "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
         "left_knee", "right_knee", "left_ankle", "right_ankle")
K = len(NAMES)

# Limbs as in the COCO keypoint annotations (0-based).
SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
            (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))

# Each source layout listed in its own order; COCO points come from the entries named like them.
MEDIAPIPE_33 = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
                "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
                "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
                "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
                "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
                "left_foot_index", "right_foot_index")
# layumi/market1501_body_point: the 14 points of the LSP/CPM order (head top and neck are not COCO).
MATLAB_14 = ("head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
             "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle")
# OpenPose COCO-18. (pose-gan's LABELS list swaps the eye/ear sides; its limb table and the data agree
# with OpenPose: index 14 is the right eye, 16 the right ear.)
OPENPOSE_18 = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
               "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
               "right_eye", "left_eye", "right_ear", "left_ear")
LAYOUTS = {"mediapipe33": MEDIAPIPE_33, "matlab14": MATLAB_14, "openpose18": OPENPOSE_18}


def source_index(layout: str) -> np.ndarray:
    """For each COCO keypoint, its index in `layout`, or -1 where the layout lacks it."""
    names = LAYOUTS[layout]
    return np.array([names.index(n) if n in names else -1 for n in NAMES])


def to_coco(points: np.ndarray, layout: str) -> np.ndarray:
    """Map (..., L, 3) points (x, y, c; missing = NaN/NaN/0) of `layout` to (..., 17, 3) COCO."""
    points = np.asarray(points, dtype=np.float32)
    src = source_index(layout)
    if points.shape[-2] != len(LAYOUTS[layout]) or points.shape[-1] != 3:
        raise ValueError(f"{layout}: expected (..., {len(LAYOUTS[layout])}, 3) points, got {points.shape}")
    out = np.full(points.shape[:-2] + (K, 3), np.nan, np.float32)
    out[..., 2] = 0.0
    have = src >= 0
    out[..., have, :] = points[..., src[have], :]
    return out


def missing(shape: tuple[int, ...] = ()) -> np.ndarray:
    """An all-missing keypoint array of shape (*shape, 17, 3)."""
    out = np.full(tuple(shape) + (K, 3), np.nan, np.float32)
    out[..., 2] = 0.0
    return out


def mark_missing(kps: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Return kps with the keypoints selected by the boolean `where` (kps.shape[:-1]) set missing."""
    out = np.array(kps, dtype=np.float32, copy=True)
    out[where] = (np.nan, np.nan, 0.0)
    return out
