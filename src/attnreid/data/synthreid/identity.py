"""Identity attributes drawn from small fixed palettes, so that identities share single attributes.

Each clothing/shoe palette is cut to its first `palette_size` colours; hair and skin have their
own short natural palettes. An identity is a combination, so two people often share the red
shirt but not the trousers, and global colour statistics alone separate them poorly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnreid.data.synthreid.config import SynthConfig

RGB = tuple[int, int, int]

UPPER = ((200, 40, 45), (235, 235, 230), (35, 35, 40), (35, 50, 105), (135, 135, 140), (120, 170, 220),
         (50, 125, 70), (225, 195, 60), (230, 150, 180), (230, 120, 40), (110, 60, 140), (150, 105, 70),
         (90, 190, 180), (200, 185, 150))
LOWER = ((50, 65, 105), (30, 30, 35), (120, 120, 125), (185, 165, 120), (110, 140, 185), (225, 225, 220),
         (100, 70, 45), (35, 45, 85), (95, 100, 60), (170, 45, 50), (150, 150, 155), (60, 60, 65))
SHOES = ((25, 25, 28), (235, 235, 235), (105, 70, 40), (120, 120, 125), (190, 45, 45), (50, 80, 160),
         (200, 180, 140), (60, 130, 70))
HAIR = ((20, 18, 18), (60, 40, 25), (110, 75, 45), (200, 170, 100), (150, 150, 150), (140, 60, 30))
SKIN = ((250, 215, 185), (225, 180, 145), (195, 145, 105), (150, 105, 70), (100, 70, 50))
ACCESSORY = ((30, 30, 35), (170, 40, 40), (40, 70, 140), (110, 90, 60), (70, 110, 70), (220, 140, 40))

PATTERNS = ("plain", "stripes", "logo", "checks")
LOWER_TYPES = ("trousers", "shorts", "skirt")
SIDES = ("left", "right")


@dataclass(frozen=True)
class Identity:
    """What a person looks like; `height`/`width` scale the body in the box (~0.88-1.0, ~0.85-1.2)."""

    upper: RGB
    pattern: str
    pattern_color: RGB
    long_sleeves: bool
    lower: RGB
    lower_type: str
    hair: RGB
    long_hair: bool
    shoes: RGB
    skin: RGB
    height: float
    width: float
    backpack: RGB | None
    bag: RGB | None
    bag_side: str


def sample_identity(rng: np.random.Generator, cfg: SynthConfig) -> Identity:
    """One identity; attribute frequencies are uniform over the (cut) palettes."""
    def pick(palette: tuple[RGB, ...], limit: int | None = None) -> RGB:
        return palette[int(rng.integers(min(limit or len(palette), len(palette))))]

    k = cfg.palette_size
    upper = pick(UPPER, k)
    pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]
    pattern_color = pick(tuple(c for c in UPPER if c != upper), k)
    lower_type = LOWER_TYPES[int(rng.choice(3, p=(0.6, 0.25, 0.15)))]
    return Identity(
        upper=upper, pattern=pattern, pattern_color=pattern_color,
        long_sleeves=bool(rng.random() < 0.55),
        lower=pick(LOWER, k), lower_type=lower_type,
        hair=pick(HAIR), long_hair=bool(rng.random() < 0.35),
        shoes=pick(SHOES, k), skin=pick(SKIN),
        height=float(rng.uniform(0.88, 1.0)), width=float(rng.uniform(0.85, 1.2)),
        backpack=pick(ACCESSORY) if rng.random() < cfg.backpack_prob else None,
        bag=pick(ACCESSORY) if rng.random() < cfg.bag_prob else None,
        bag_side=SIDES[int(rng.integers(2))],
    )
