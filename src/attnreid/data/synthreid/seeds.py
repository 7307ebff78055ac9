"""Named random streams: every random choice draws from `stream(seed, Stream.X, *key)`.

Keying each stream by what it decides (an identity, a shot, a crop) instead of drawing from one
sequential generator keeps images independent of each other: switching gt_bbox/partial_query on
or adding distractors leaves the other images bit-identical, and `box` changes only the crops.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    IDENTITY = 1
    CAMERA = 2
    SCENE = 3
    CROP = 4
    PARTIAL = 5
    SPLIT = 6
    TRACKS = 7
    QUERY = 8
    GT_BBOX = 9
    EXTRAS = 10


def stream(seed: int, kind: Stream, *key: int) -> np.random.Generator:
    """The generator for `kind` and `key` (non-negative ints) under the master seed."""
    return np.random.default_rng([seed, int(kind), *key])
