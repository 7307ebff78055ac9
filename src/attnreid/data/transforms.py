"""The per-image test transform of the figures (CAM and attention maps on a few images): resize
(bicubic) and normalise, as data/cache.py and data/augment.py do for training and extraction.
`normalize` is the cell's train.normalize (see data/augment.py).
"""
from __future__ import annotations

from torchvision import transforms as T

from attnreid.data.augment import NORMALIZE


def test_transform(height: int, width: int, normalize: str = "imagenet") -> T.Compose:
    """Resize and normalise; `normalize` is the cell's train.normalize."""
    return T.Compose([T.Resize((height, width), interpolation=T.InterpolationMode.BICUBIC),
                      T.ToTensor(), T.Normalize(*NORMALIZE[normalize])])
