"""Image transforms: resize, flip, pad + random crop, ImageNet normalisation, random erasing."""
from __future__ import annotations

from torchvision import transforms as T

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def train_transform(cfg: dict) -> T.Compose:
    """cfg is a cell's `train` section (height, width, flip, pad, random_erasing)."""
    size = (cfg["height"], cfg["width"])
    steps = [T.Resize(size, interpolation=T.InterpolationMode.BICUBIC)]
    if cfg["flip"] > 0:
        steps.append(T.RandomHorizontalFlip(cfg["flip"]))
    if cfg["pad"] > 0:
        steps += [T.Pad(cfg["pad"]), T.RandomCrop(size)]
    steps += [T.ToTensor(), T.Normalize(MEAN, STD)]
    if cfg["random_erasing"] > 0:
        steps.append(T.RandomErasing(p=cfg["random_erasing"], value="random"))
    return T.Compose(steps)


def test_transform(height: int, width: int) -> T.Compose:
    return T.Compose([T.Resize((height, width), interpolation=T.InterpolationMode.BICUBIC),
                      T.ToTensor(), T.Normalize(MEAN, STD)])
