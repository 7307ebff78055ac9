"""MediaPipe Pose on a list of images; runs in .venv-mediapipe (numpy < 2), never imports torch.

`python -m attnreid.pseudo.mediapipe_worker REQUEST.json` reads {"images", "out", "upscale", "pad",
"min_confidence"}, writes `out` (npz: keypoints (N, 17, 3) + packed masks) and prints JSON lines on
stdout: {"done": i, "of": n} as it goes, then {"info": {...}} or {"error": "..."} last.

mediapipe 0.10.21's legacy `solutions.pose` with model_complexity=1 uses the pose_landmark_full and
pose_detection models shipped in the wheel, so it runs offline; its pose segmentation gives the mask.
A Market crop is too small for the pose detector: each image is up-scaled `upscale` times and padded
by `pad` times its up-scaled width on every side (grey), and the results are mapped back.
A landmark outside the image is missing; the others keep MediaPipe's visibility as confidence.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import mediapipe
import numpy as np

from attnreid.pseudo import coco
from attnreid.pseudo.masks import PackedMasks
from attnreid.pseudo.provenance import sha256, versions

MODEL_FILES = ("modules/pose_detection/pose_detection.tflite", "modules/pose_landmark/pose_landmark_full.tflite")
PAD_VALUE = 114


def say(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


class Detector:
    def __init__(self, upscale: float, pad: float, min_confidence: float):
        self.upscale, self.pad = upscale, pad
        self.pose = mediapipe.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True,
                                           min_detection_confidence=min_confidence)

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(17, 3) COCO keypoints and the boolean mask of one RGB uint8 image."""
        h, w = rgb.shape[:2]
        big = cv2.resize(rgb, (round(w * self.upscale), round(h * self.upscale)), interpolation=cv2.INTER_CUBIC)
        p = round(self.pad * big.shape[1])  # border in pixels
        canvas = cv2.copyMakeBorder(big, p, p, p, p, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
        res = self.pose.process(canvas)
        if res.pose_landmarks is None:
            return coco.missing(), np.zeros((h, w), bool)
        ch, cw = canvas.shape[:2]
        lm = np.array([(m.x * cw, m.y * ch, m.visibility) for m in res.pose_landmarks.landmark], np.float32)
        lm[:, :2] = (lm[:, :2] - p) * (w / big.shape[1], h / big.shape[0])
        kps = coco.to_coco(lm, "mediapipe33")
        outside = (kps[:, 0] < 0) | (kps[:, 0] >= w) | (kps[:, 1] < 0) | (kps[:, 1] >= h)
        seg = res.segmentation_mask[p:p + big.shape[0], p:p + big.shape[1]]
        mask = cv2.resize(seg, (w, h), interpolation=cv2.INTER_AREA) > 0.5
        return coco.mark_missing(kps, outside), mask


class BadImage(Exception):
    """An image the worker cannot read; its message names the file."""


def masks_of(images: list[str], detect: Detector, kps: list) -> Iterator[np.ndarray]:
    """Yield each image's mask (packed as they come, to keep memory flat); append its keypoints."""
    for i, path in enumerate(images):
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise BadImage(f"{path}: unreadable image")
        k, m = detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        kps.append(k)
        yield m
        if (i + 1) % 500 == 0:
            say({"done": i + 1, "of": len(images)})


def main(request_path: str) -> None:
    req = json.loads(Path(request_path).read_text())
    detect = Detector(req["upscale"], req["pad"], req["min_confidence"])
    kps: list[np.ndarray] = []
    t0 = time.perf_counter()
    masks = PackedMasks.pack(masks_of(req["images"], detect, kps))
    seconds = time.perf_counter() - t0
    np.savez(req["out"], keypoints=np.array(kps, np.float32).reshape(-1, coco.K, 3), **masks.arrays())
    root = Path(mediapipe.__file__).parent
    say({"info": {"versions": versions("mediapipe", "numpy", "protobuf", "opencv-contrib-python"),
                  "model_sha256": {Path(f).name: sha256(root / f) for f in MODEL_FILES},
                  "seconds": round(seconds, 2), "images_per_s": round(len(kps) / max(seconds, 1e-9), 2)}})


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as exc:  # the parent turns this into one line naming the backend
        say({"error": (str(exc) if isinstance(exc, BadImage) else f"{type(exc).__name__}: {exc}").splitlines()[0]})
        sys.exit(1)
