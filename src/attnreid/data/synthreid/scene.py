"""Cameras and shots: background, viewpoint, lighting, occluders, and the crop of the box.

A shot is rendered on a canvas SS times the crop resolution (for anti-aliasing) that holds the
nominal person box plus a margin, so `detected` crops can shift/rescale into background or cut
the body. Everything about the scene comes from the shot's scene stream (seed, identity, camera,
frame); the crop has its own stream, so labeled and detected datasets show identical scenes.

Lighting: each camera has a colour gain (brightness x cast, spread set by illumination_jitter),
times a per-image brightness flicker; it is applied to the colours of the person and of the
occluders as they are drawn. The camera's background strip stays neutral, muted and varied along
its length: with camera-tinted backgrounds a global colour histogram matches the camera rather
than the person (measured: rank-1 near 0 %), which is not the difficulty wanted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from attnreid.data.synthreid.body import Pose
from attnreid.data.synthreid.config import SynthConfig
from attnreid.data.synthreid.identity import Identity, sample_identity
from attnreid.data.synthreid.render import OCCLUDER, Placement, draw_person, lit
from attnreid.data.synthreid.seeds import Stream, stream

SS = 2
CROP_MODES = ("labeled", "detected", "hand", "junk")  # labeled = the nominal box, no randomness
HAND_JITTER = 0.03
SATURATION = 0.3  # of background clutter colours
OBJECT_COLORS = ((90, 90, 95), (150, 40, 40), (40, 60, 120), (200, 200, 190), (60, 90, 60), (170, 140, 60))


@dataclass(frozen=True)
class Geometry:
    """Canvas layout in canvas pixels (SS x the saved size): canvas size and the nominal box."""

    width: int
    height: int
    canvas: tuple[int, int]
    box: tuple[float, float, float, float]

    @classmethod
    def of(cls, cfg: SynthConfig) -> Geometry:
        mx, my = round(0.6 * cfg.width), round(0.3 * cfg.height)
        canvas = (SS * (cfg.width + 2 * mx), SS * (cfg.height + 2 * my))
        box = (SS * mx, SS * my, SS * (mx + cfg.width), SS * (my + cfg.height))
        return cls(cfg.width, cfg.height, canvas, tuple(float(v) for v in box))


@dataclass(frozen=True)
class Camera:
    """Preferred body yaw seen by the camera, its colour gain, optical resolution (fraction of the
    saved size it really resolves), sensor noise (a tile at the saved resolution, 128 + noise) and
    wide background strip (RGBA; alpha = label channel, 0 = background)."""

    yaw: float
    gain: np.ndarray
    resolution: float
    noise: Image.Image
    background: Image.Image


@dataclass(frozen=True)
class Scene:
    """A rendered RGBA canvas (alpha = part labels), keypoints (17, 3) in canvas pixels, and its
    camera and noise offset for the crop."""

    canvas: Image.Image
    keypoints: np.ndarray
    camera: Camera
    noise_at: tuple[int, int]


@dataclass(frozen=True)
class Crop:
    """A saved image: RGB crop, binary person mask ('1'), keypoints (17, 3) as x, y, v."""

    image: Image.Image
    mask: Image.Image
    keypoints: np.ndarray


def _muted(rng: np.random.Generator, lo: float, hi: float, saturation: float) -> tuple[int, int, int]:
    """A random colour pulled towards its grey level (saturation 0 = grey, 1 = unchanged)."""
    base = rng.uniform(lo, hi, 3)
    return tuple(int(v) for v in base.mean() + (base - base.mean()) * saturation)


def _background(rng: np.random.Generator, size: tuple[int, int], clutter: float) -> Image.Image:
    """A street strip: wall panels above a floor (near-grey, brightness varying along the strip),
    smooth blotches, muted clutter rectangles/poles/rails and grain; returned as RGBA, alpha 0."""
    w, h = size
    horizon = int(h * rng.uniform(0.55, 0.75))
    arr = np.empty((h, w, 3), np.uint8)
    x = 0
    while x < w:
        step = int(rng.uniform(0.2, 0.8) * h)
        arr[:horizon, x:x + step] = _muted(rng, 60, 210, 0.1)
        arr[horizon:, x:x + step] = _muted(rng, 50, 180, 0.1)
        x += step
    img = Image.fromarray(arr)
    grid = (h // 40 + 2, w // 40 + 2)
    blotch = 128.0 + rng.normal(0.0, 20.0 * clutter, (*grid, 1)) + rng.normal(0.0, 6.0 * clutter, (*grid, 3))
    blotch = blotch.clip(0, 255).astype(np.uint8)
    img = ImageChops.add(img, Image.fromarray(blotch).resize(size, Image.BICUBIC), offset=-128)
    draw = ImageDraw.Draw(img)
    per_length = w / h
    for _ in range(round(per_length * (1 + 6 * clutter))):
        x, y = rng.uniform(0, w), rng.uniform(-0.1 * h, horizon)
        bw, bh = rng.uniform(0.05, 0.35) * h, rng.uniform(0.05, 0.35) * h
        color = _muted(rng, 20, 235, SATURATION)
        if rng.random() < 0.4:
            draw.rectangle((x, y, x + bw, y + bh), outline=color, width=int(rng.integers(2, 6)))
        else:
            draw.rectangle((x, y, x + bw, y + bh), fill=color)
    for _ in range(round(per_length * (0.5 + 2 * clutter))):
        color = _muted(rng, 20, 200, SATURATION)
        if rng.random() < 0.5:
            x = rng.uniform(0, w)
            draw.line((x, 0, x, horizon + rng.uniform(0, 0.2) * h), fill=color, width=int(rng.integers(3, 12)))
        else:
            y = rng.uniform(0, h)
            draw.line((0, y, w, y + rng.uniform(-0.05, 0.05) * h), fill=color, width=int(rng.integers(2, 6)))
    tile = rng.normal(128.0, 8.0 * clutter, (128, 128)).clip(0, 255).astype(np.uint8)
    grain = Image.fromarray(np.tile(tile, (h // 128 + 1, w // 128 + 1))[:h, :w]).convert("RGB")
    img = ImageChops.add(img, grain, offset=-128)
    img.putalpha(0)
    return img


def make_cameras(cfg: SynthConfig, geo: Geometry) -> list[Camera]:
    """Cameras c1..cN: preferred views cycle front/back/left/right in a seeded order."""
    rng = stream(cfg.seed, Stream.CAMERA)
    order = rng.permutation(4)
    j = cfg.illumination_jitter
    cams = []
    for c in range(cfg.num_cameras):
        yaw = 90.0 * order[c % 4] + rng.normal(0.0, 10.0)
        gain = rng.uniform(1 - 0.25 * j, 1 + 0.15 * j) * (1 + rng.uniform(-0.1 * j, 0.1 * j, 3))
        resolution = 1.0 - cfg.camera_blur * rng.uniform(0.0, 1.0)
        noise = rng.normal(128.0, rng.uniform(2.0, 6.0), (2 * cfg.height, 2 * cfg.width, 3))
        size = (16 * geo.canvas[0], int(1.15 * geo.canvas[1]))
        cams.append(Camera(yaw=float(yaw), gain=gain, resolution=resolution, noise=Image.fromarray(noise.clip(0, 255).astype(np.uint8)),
                           background=_background(rng, size, cfg.background_clutter)))
    return cams


class Studio:
    """Renders shots for one config: cameras and identities (cached)."""

    def __init__(self, cfg: SynthConfig):
        self.cfg, self.geo = cfg, Geometry.of(cfg)
        self.cameras = make_cameras(cfg, self.geo)
        self._identities: dict[int, Identity] = {}

    def identity(self, ident: int) -> Identity:
        if ident not in self._identities:
            rng = stream(self.cfg.seed, Stream.IDENTITY, ident)
            self._identities[ident] = sample_identity(rng, self.cfg)
        return self._identities[ident]

    def shoot(self, ident: int, cam: int, frame: int, mode: str) -> Crop:
        """Render identity `ident` in camera `cam` (1-based) at `frame`, cropped per `mode`."""
        seed = self.cfg.seed
        scene = self.scene(ident, cam, stream(seed, Stream.SCENE, ident, cam, frame))
        if mode == "labeled":
            return self.cut(scene, self.geo.box)
        rng = stream(seed, Stream.CROP, ident, cam, frame, CROP_MODES.index(mode))
        return self.cut(scene, crop_box(mode, self.geo, rng, self.cfg.box_jitter))

    def scene(self, ident: int, cam: int, rng: np.random.Generator) -> Scene:
        """The full canvas of one shot; every random choice comes from `rng`, in a fixed order."""
        cfg, geo, camera = self.cfg, self.geo, self.cameras[cam - 1]
        who = self.identity(ident)
        flip = 180.0 if rng.random() < 0.15 else 0.0
        pose = Pose(yaw=camera.yaw + flip + rng.normal(0.0, cfg.view_jitter), phase=rng.uniform(0, 2 * np.pi),
                    leg_swing=cfg.pose_jitter * rng.uniform(0.1, 0.4), arm_swing=cfg.pose_jitter * rng.uniform(0.1, 0.35))
        x0, y0, x1, y1 = geo.box
        bw, bh, pj = x1 - x0, y1 - y0, cfg.place_jitter
        scale = bh * 0.92 * who.height * (1 + rng.uniform(-pj, 0.5 * pj))
        place = Placement(cx=(x0 + x1) / 2 + rng.uniform(-pj, pj) * bw,
                          top=y0 + (bh - scale) / 2 + rng.uniform(-0.5 * pj, 0.5 * pj) * bh, scale=scale)
        bg = camera.background
        ox, oy = rng.integers(0, bg.width - geo.canvas[0] + 1), rng.integers(0, bg.height - geo.canvas[1] + 1)
        canvas = bg.crop((int(ox), int(oy), int(ox) + geo.canvas[0], int(oy) + geo.canvas[1]))
        self._clutter(canvas, rng)
        light = tuple(camera.gain * rng.uniform(1 - 0.15 * cfg.illumination_jitter, 1 + 0.15 * cfg.illumination_jitter))
        person = draw_person(canvas, who, pose, place, light)
        if rng.random() < cfg.occlusion_prob:
            self._occlude(canvas, place, light, rng)
        v = person.visibility(canvas)
        noise_at = (int(rng.integers(0, cfg.height)), int(rng.integers(0, cfg.width)))
        return Scene(canvas, np.column_stack([person.keypoints, v]), camera, noise_at)

    def _clutter(self, canvas: Image.Image, rng: np.random.Generator) -> None:
        """Transient background objects (signs, bins) behind the person (label 0)."""
        draw, (w, h) = ImageDraw.Draw(canvas), self.geo.canvas
        for _ in range(int(rng.poisson(1.5 * self.cfg.background_clutter))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            ow, oh = rng.uniform(0.05, 0.25) * w, rng.uniform(0.03, 0.2) * h
            draw.rectangle((x, y, x + ow, y + oh), fill=(*_muted(rng, 20, 235, SATURATION), 0))

    def _occlude(self, canvas: Image.Image, place: Placement, light: tuple[float, ...],
                 rng: np.random.Generator) -> None:
        """An object over the lower part or one side of the box, or a neighbouring pedestrian."""
        x0, y0, x1, y1 = self.geo.box
        bw, bh = x1 - x0, y1 - y0
        kind = int(rng.integers(3))
        if kind == 2:
            side = rng.choice((-1.0, 1.0))
            yaw = 90.0 * rng.integers(4) + rng.normal(0.0, 20.0)
            near = Placement(cx=place.cx + side * rng.uniform(0.3, 0.55) * bw,
                             top=place.top + rng.uniform(0.0, 0.1) * bh, scale=place.scale * rng.uniform(1.0, 1.15))
            other = sample_identity(rng, self.cfg)
            draw_person(canvas, other, Pose(yaw, rng.uniform(0, 2 * np.pi), 0.3, 0.25), near, light, OCCLUDER)
            return
        color = lit(OBJECT_COLORS[int(rng.integers(len(OBJECT_COLORS)))], light)
        w, h = self.geo.canvas
        if kind == 0:
            rect = (x0 - 0.3 * bw, y0 + rng.uniform(0.55, 0.85) * bh, x1 + 0.3 * bw, h)
        elif rng.random() < 0.5:
            rect = (0, y0 + rng.uniform(0.0, 0.5) * bh, x0 + rng.uniform(0.25, 0.45) * bw, h)
        else:
            rect = (x1 - rng.uniform(0.25, 0.45) * bw, y0 + rng.uniform(0.0, 0.5) * bh, w, h)
        draw = ImageDraw.Draw(canvas)
        draw.rectangle(rect, fill=(*color, OCCLUDER))
        draw.rectangle((rect[0], rect[1], rect[2], rect[1] + 0.04 * bh), fill=(*(int(v * 0.6) for v in color), OCCLUDER))

    def cut(self, scene: Scene, box: tuple[float, float, float, float]) -> Crop:
        """Resample the crop `box` of the canvas to the saved size, add sensor noise, move the keypoints."""
        size = (self.geo.width, self.geo.height)
        x0, y0 = math.floor(box[0]), math.floor(box[1])
        region = scene.canvas.crop((x0, y0, math.ceil(box[2]), math.ceil(box[3])))
        lab = np.asarray(region.getchannel("A"))
        person_mask = Image.fromarray(((lab - 1) < OCCLUDER - 1).view(np.uint8) * 255)
        local = (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
        soft = _resample(person_mask, local, size)
        res = scene.camera.resolution
        if res < 1.0:  # what the camera resolves, shown at the saved size
            small = (max(1, round(size[0] * res)), max(1, round(size[1] * res)))
            img = _resample(region.convert("RGB"), local, small).resize(size, Image.BILINEAR)
        else:
            img = _resample(region.convert("RGB"), local, size)
        ny, nx = scene.noise_at
        img = ImageChops.add(img, scene.camera.noise.crop((nx, ny, nx + size[0], ny + size[1])), offset=-128)
        mask = Image.fromarray(np.asarray(soft) >= 128)
        kps = scene.keypoints.copy()
        kps[:, 0] = (kps[:, 0] - box[0]) * size[0] / (box[2] - box[0])
        kps[:, 1] = (kps[:, 1] - box[1]) * size[1] / (box[3] - box[1])
        return Crop(img, mask, clear_outside(kps, size))


def _resample(im: Image.Image, box: tuple[float, float, float, float], size: tuple[int, int]) -> Image.Image:
    """Area-average `box` of the canvas down to `size` (an exact SS x SS reduce for the nominal box)."""
    if box[2] - box[0] == SS * size[0] and box[3] - box[1] == SS * size[1] and all(float(v).is_integer() for v in box):
        return im.reduce(SS, box=tuple(int(v) for v in box))
    return im.resize(size, Image.BOX, box=box)


def clear_outside(kps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Set x = y = v = 0 (COCO 'not labelled') for keypoints outside [0, w) x [0, h) or with v = 0."""
    inside = (kps[:, 0] >= 0) & (kps[:, 0] < size[0]) & (kps[:, 1] >= 0) & (kps[:, 1] < size[1]) & (kps[:, 2] > 0)
    out = kps.copy()
    out[~inside] = 0.0
    return out


def crop_box(mode: str, geo: Geometry, rng: np.random.Generator, jitter: float) -> tuple[float, float, float, float]:
    """Crop in canvas pixels around the nominal box (the labeled crop): detected/hand = shifted and
    rescaled by up to `jitter`/HAND_JITTER; junk = a smaller box pushed half a box away (mostly
    background, a sliver of the person). Kept inside the canvas."""
    x0, y0, x1, y1 = geo.box
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if mode == "junk":
        if rng.random() < 0.7:
            cx += rng.choice((-1.0, 1.0)) * rng.uniform(0.45, 0.6) * w
        else:
            cy += rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 0.45) * h
        s = rng.uniform(0.6, 0.9)
        w, h = w * s, h * s
    else:
        j = jitter if mode == "detected" else HAND_JITTER
        cx += rng.uniform(-j, j) * w
        cy += rng.uniform(-0.5 * j, 0.5 * j) * h
        s, aspect = 1 + rng.uniform(-0.5 * j, j), 1 + rng.uniform(-0.3 * j, 0.3 * j)
        w, h = w * s * aspect, h * s / aspect
    cw, ch = geo.canvas
    w, h = min(w, cw), min(h, ch)
    cx, cy = min(max(cx, w / 2), cw - w / 2), min(max(cy, h / 2), ch - h / 2)
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)

