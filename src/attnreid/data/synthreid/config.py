"""SynthConfig: every knob of the synthetic re-ID generator, with defaults and validation."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

BOX_MODES = ("labeled", "detected")


class ConfigError(ValueError):
    """A bad value for one knob; `key` names it so callers can prefix where it came from."""

    def __init__(self, key: str, msg: str):
        super().__init__(f"{key}: {msg}")
        self.key, self.msg = key, msg


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the procedural Market-1501-style dataset (defaults = the "default" profile scale).

    Sizes
      seed                  master seed; identical config -> bit-identical dataset.
      num_train_ids         identities in bounding_box_train (pids 1..train+test <= 9999, shuffled).
      num_test_ids          identities in query + bounding_box_test (disjoint from train).
      num_cameras           cameras c1..cN (<= 9, one digit as in Market).
      cameras_per_id        [lo, hi] cameras each identity is seen by (lo >= 2: cross-camera matches).
      images_per_id_camera  [lo, hi] images per (identity, camera) tracklet; query cameras get >= 2.
      num_distractors       pid-0000 gallery images of persons outside the id set.
      num_junk              pid -1 gallery images (bad detections: mostly background).
      height, width         saved crop size in pixels (Market: 128 x 64).
      jpeg_quality          JPEG quality of the saved crops.
    Variants
      box                   labeled (tight crops) | detected (shifted/rescaled crops, as CUHK03).
      box_jitter            max shift (fraction of the box side) and scale change of detected crops.
      partial_query         also write partial_query/ (upper/left/right parts of each query).
      gt_bbox               also write gt_bbox/ (2-6 hand-drawn-like crops per query identity+camera).
    Difficulty
      palette_size          colours per clothing/shoe attribute (fewer -> more shared colours);
                            capped by the palettes (14 upper, 12 lower, 8 shoe colours).
      backpack_prob         fraction of identities carrying a backpack (visible from behind only).
      bag_prob              fraction carrying a side bag (visible from that side only).
      occlusion_prob        chance an image has an occluder (object or another pedestrian).
      background_clutter    0..1: background blotches/grain and number of clutter shapes.
      camera_blur           0..1: each camera resolves a fraction 1 - camera_blur * U(0, 1) of the
                            saved size (downsampled, shown upsampled): small details (shoes,
                            patterns, logo) blur away in some cameras, colours stay.
      illumination_jitter   0..1: per-camera light on persons/occluders: brightness -25%..+15% and
                            colour cast +-10% per channel at 1, times a +-15% per-image flicker.
      view_jitter           std (degrees) of body orientation around the camera's preferred view.
      pose_jitter           0..1: amplitude of leg/arm swing.
      place_jitter          max scale change / shift (fraction of the box) of the person in the box.
    """

    seed: int = 0
    num_train_ids: int = 150
    num_test_ids: int = 150
    num_cameras: int = 6
    cameras_per_id: tuple[int, int] = (3, 6)
    images_per_id_camera: tuple[int, int] = (2, 7)
    num_distractors: int = 300
    num_junk: int = 200
    height: int = 128
    width: int = 64
    jpeg_quality: int = 90
    box: str = "labeled"
    box_jitter: float = 0.12
    partial_query: bool = False
    gt_bbox: bool = False
    palette_size: int = 8
    backpack_prob: float = 0.3
    bag_prob: float = 0.25
    occlusion_prob: float = 0.2
    background_clutter: float = 0.6
    camera_blur: float = 0.5
    illumination_jitter: float = 0.3
    view_jitter: float = 20.0
    pose_jitter: float = 1.0
    place_jitter: float = 0.06

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _coerce(f.name, f.type, getattr(self, f.name)))
        self._check_ranges()

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "synth") -> SynthConfig:
        """Build from a params.yaml mapping; errors read 'params.yaml: <where>.<key>: <problem>'."""
        if not isinstance(d, dict):
            raise ValueError(f"params.yaml: {where}: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"params.yaml: {where}.{key}: unknown key")
        try:
            return cls(**d)
        except ConfigError as exc:
            raise ValueError(f"params.yaml: {where}.{exc.key}: {exc.msg}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ranges as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def _check_ranges(self) -> None:
        def need(key: str, ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(key, f"must be {what}, got {getattr(self, key)!r}")

        for key in ("num_train_ids", "num_test_ids", "height", "width", "palette_size"):
            need(key, getattr(self, key) >= 1, ">= 1")
        need("seed", self.seed >= 0, ">= 0")
        for key in ("num_distractors", "num_junk"):
            need(key, 0 <= getattr(self, key) <= 100_000, "in 0..100000")
        need("num_test_ids", self.num_train_ids + self.num_test_ids <= 9999, "<= 9999 - num_train_ids (4-digit pids)")
        need("height", self.height >= 16, ">= 16")
        need("width", self.width >= 8, ">= 8")
        need("num_cameras", 2 <= self.num_cameras <= 9, "in 2..9")
        lo, hi = self.cameras_per_id
        need("cameras_per_id", 2 <= lo <= hi <= self.num_cameras, "[lo, hi] with 2 <= lo <= hi <= num_cameras")
        lo, hi = self.images_per_id_camera
        need("images_per_id_camera", 1 <= lo <= hi <= 1000, "[lo, hi] with 1 <= lo <= hi <= 1000")
        need("jpeg_quality", 1 <= self.jpeg_quality <= 100, "in 1..100")
        need("box", self.box in BOX_MODES, f"one of {'|'.join(BOX_MODES)}")
        need("box_jitter", 0.0 <= self.box_jitter <= 0.3, "in [0, 0.3]")
        need("place_jitter", 0.0 <= self.place_jitter <= 0.15, "in [0, 0.15]")
        need("view_jitter", 0.0 <= self.view_jitter <= 90.0, "in [0, 90]")
        for key in ("backpack_prob", "bag_prob", "occlusion_prob", "background_clutter", "camera_blur",
                    "illumination_jitter", "pose_jitter"):
            need(key, 0.0 <= getattr(self, key) <= 1.0, "in [0, 1]")


def _coerce(key: str, type_name: str, value: Any) -> Any:
    """Check `value` against the field's annotation; ints are accepted for floats, lists for ranges."""
    def bad(expected: str) -> ConfigError:
        return ConfigError(key, f"expected {expected}, got {type(value).__name__} {value!r}")

    if type_name == "bool":
        if not isinstance(value, bool):
            raise bad("true/false")
        return value
    if type_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if type_name == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if type_name == "str":
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if type_name == "tuple[int, int]":
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in value)):
            raise bad("[lo, hi] integers")
        return (value[0], value[1])
    raise AssertionError(f"unhandled field type {type_name}")
