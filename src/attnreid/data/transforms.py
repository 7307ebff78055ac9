"""Image transforms: resize, flip, pad + random crop, normalisation, random erasing.

`normalize` (train key): `imagenet` subtracts the ImageNet mean pixel and divides by its std;
`symmetric` scales pixels to [-1, 1] and zero-centres them by the ImageNet mean pixel, i.e.
(x - mean) / 0.5 (the SAG paper's "range of -1 and 1 ... zero-center by mean pixel").

`PoseTrainTransform` is the training transform of an image with its pseudo-label person mask and
keypoints: the same random draws as `train_transform`, applied to all three.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from attnreid.pseudo import coco

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
NORMALIZE = {"imagenet": (MEAN, STD), "symmetric": (MEAN, (0.5, 0.5, 0.5))}


def train_transform(cfg: dict) -> T.Compose:
    """cfg is a cell's `train` section (height, width, flip, pad, normalize, random_erasing)."""
    size = (cfg["height"], cfg["width"])
    steps = [T.Resize(size, interpolation=T.InterpolationMode.BICUBIC)]
    if cfg["flip"] > 0:
        steps.append(T.RandomHorizontalFlip(cfg["flip"]))
    if cfg["pad"] > 0:
        steps += [T.Pad(cfg["pad"]), T.RandomCrop(size)]
    return T.Compose(steps + _tensor_steps(cfg))


def _tensor_steps(cfg: dict) -> list:
    """The steps after the geometric ones: to tensor, normalisation, random erasing."""
    steps = [T.ToTensor(), T.Normalize(*NORMALIZE[cfg["normalize"]])]
    if cfg["random_erasing"] > 0:
        steps.append(T.RandomErasing(p=cfg["random_erasing"], value="random"))
    return steps


def test_transform(height: int, width: int, normalize: str = "imagenet") -> T.Compose:
    """Resize and normalise; `normalize` is the cell's train.normalize."""
    return T.Compose([T.Resize((height, width), interpolation=T.InterpolationMode.BICUBIC),
                      T.ToTensor(), T.Normalize(*NORMALIZE[normalize])])


def _swap_side(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


FLIP_ORDER = np.array([coco.NAMES.index(_swap_side(n)) for n in coco.NAMES])  # keypoint k of a mirrored image


class PoseTrainTransform:
    """(image, mask [h, w] bool, keypoints [17, 3] in image pixels) -> (tensor, mask [H, W] float, keypoints).

    Resize (mask: nearest), flip (x -> W - 1 - x, and left/right keypoints swap names), pad + random
    crop, drawn from torch's RNG exactly as `train_transform` draws them, so the image tensor is the
    same for the same seed; normalisation and random erasing touch the image only. Coordinates use
    pixel centres (x + 0.5 scales with the image); a keypoint moved off the crop keeps its
    coordinates (its heatmap is cut by the border).
    """

    def __init__(self, cfg: dict):
        self.size = (cfg["height"], cfg["width"])
        self.flip, self.pad = cfg["flip"], cfg["pad"]
        self.tail = T.Compose(_tensor_steps(cfg))

    def __call__(self, img: Image.Image, mask: np.ndarray, keypoints: np.ndarray):
        (h, w), (w0, h0) = self.size, img.size
        m = Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255)
        img = TF.resize(img, self.size, interpolation=T.InterpolationMode.BICUBIC)
        m = TF.resize(m, self.size, interpolation=T.InterpolationMode.NEAREST)
        kps = np.array(keypoints, dtype=np.float32, copy=True)
        kps[:, 0] = (kps[:, 0] + 0.5) * w / w0 - 0.5
        kps[:, 1] = (kps[:, 1] + 0.5) * h / h0 - 0.5
        if self.flip > 0 and torch.rand(1) < self.flip:
            img, m = TF.hflip(img), TF.hflip(m)
            kps[:, 0] = w - 1 - kps[:, 0]
            kps = kps[FLIP_ORDER]
        if self.pad > 0:
            img, m = TF.pad(img, self.pad), TF.pad(m, self.pad)
            top, left, _, _ = T.RandomCrop.get_params(img, self.size)
            img, m = TF.crop(img, top, left, h, w), TF.crop(m, top, left, h, w)
            kps[:, 0] += self.pad - left
            kps[:, 1] += self.pad - top
        return self.tail(img), torch.from_numpy(np.asarray(m) > 127).float(), torch.from_numpy(kps)
