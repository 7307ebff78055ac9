"""synthreid: a seeded procedural pedestrian dataset in the Market-1501 layout, with masks and keypoints."""
from __future__ import annotations

from attnreid.data.synthreid.config import SynthConfig
from attnreid.data.synthreid.generate import generate

__all__ = ["SynthConfig", "generate"]
