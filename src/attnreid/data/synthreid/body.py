"""Body geometry: joint positions of a walking pose in a 3-D body frame.

Body frame, in units of the person's height: x = the person's LEFT, y = down from the top of the
head (sole at ~1), z = forward. Yaw 0 shows the front, 90 the person's left side (facing image
left), 180 the back, 270 the right side; render.py projects with image u = x cos(yaw) - z sin(yaw)
and depth towards the camera = x sin(yaw) + z cos(yaw).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
             "left_knee", "right_knee", "left_ankle", "right_ankle")
VIEWS = ("front", "left", "back", "right")

HEAD_Y, HEAD_RX, HEAD_RY = 0.068, 0.05, 0.066
SHOULDER_Y, HIP_Y = 0.185, 0.52
UPPER_ARM, FOREARM, THIGH, SHIN = 0.17, 0.155, 0.235, 0.225


def view_of(yaw: float) -> str:
    """Quantise a yaw (degrees) into front / left / back / right (90-degree sectors)."""
    return VIEWS[int(((yaw % 360.0) + 45.0) // 90.0) % 4]


@dataclass(frozen=True)
class Pose:
    """yaw in degrees; phase of the walking cycle (radians); leg/arm swing amplitudes (radians)."""

    yaw: float
    phase: float = 0.0
    leg_swing: float = 0.0
    arm_swing: float = 0.0


@dataclass(frozen=True)
class Body:
    """Joint positions (3-D, body frame) of a person of shoulder/hip half-widths `sw`/`hw`."""

    joints: dict[str, np.ndarray]
    sw: float
    hw: float
    chest: float


def _limb(start: np.ndarray, length: float, angle: float, out: float) -> np.ndarray:
    """End of a limb hanging from `start`, swung forward by `angle`, splayed sideways by `out` (x)."""
    return start + length * np.array([out, np.cos(angle), np.sin(angle)])


def build_body(width: float, pose: Pose) -> Body:
    """Joints of the 17 COCO keypoints plus head/neck anchors for a body of relative `width`."""
    sw, hw = 0.105 * width, 0.07 * width
    j: dict[str, np.ndarray] = {
        "head": np.array([0.0, HEAD_Y, 0.0]),
        "nose": np.array([0.0, HEAD_Y + 0.01, HEAD_RX]),
        "neck": np.array([0.0, 0.16, 0.0]),
    }
    for side, sx in (("left", 1.0), ("right", -1.0)):
        step = pose.leg_swing * np.sin(pose.phase) * sx
        arm = -pose.arm_swing * np.sin(pose.phase) * sx
        j[f"{side}_eye"] = np.array([0.022 * sx, HEAD_Y - 0.006, 0.042])
        j[f"{side}_ear"] = np.array([HEAD_RX * sx, HEAD_Y, -0.005])
        j[f"{side}_shoulder"] = np.array([sw * sx, SHOULDER_Y, 0.0])
        j[f"{side}_elbow"] = _limb(j[f"{side}_shoulder"], UPPER_ARM, arm, 0.1 * sx)
        j[f"{side}_wrist"] = _limb(j[f"{side}_elbow"], FOREARM, arm + 0.25, 0.03 * sx)
        j[f"{side}_hip"] = np.array([hw * sx, HIP_Y, 0.0])
        j[f"{side}_knee"] = _limb(j[f"{side}_hip"], THIGH, step, 0.0)
        j[f"{side}_ankle"] = _limb(j[f"{side}_knee"], SHIN, step + 0.8 * min(step, 0.0), 0.0)
    return Body(joints=j, sw=sw, hw=hw, chest=0.055 * width)
