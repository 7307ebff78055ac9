"""Draw one stylised pedestrian on an RGBA canvas and return its keypoints.

The canvas's alpha channel is not transparency but a part-label map: every shape writes its
colour and its part id in one draw call. Body parts are flat PIL shapes sorted back to front by
their depth for the yaw (painter's algorithm), so the person mask is `1 <= label < OCCLUDER` and
a keypoint is self-occluded when a part drawn later covers it.
View-dependent accessories follow the PFSA argument literally: the backpack is drawn only in
back views (a thin strap in side views, nothing from the front); the side bag only in the view of
its own side. Carried accessories count as part of the person mask.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from attnreid.data.synthreid.body import HEAD_RX, HEAD_RY, HEAD_Y, HIP_Y, KEYPOINTS, Body, Pose, build_body, view_of
from attnreid.data.synthreid.identity import RGB, Identity

SIDES = ("left", "right")
PARTS = ("hair_back", "backpack", "strap", "bag", "torso", "pelvis", "skirt", "neck", "head", "hair") + tuple(
    f"{side}_{limb}" for side in SIDES for limb in ("upper_arm", "forearm", "hand", "thigh", "shin", "shoe"))
PART_ID = {name: i + 1 for i, name in enumerate(PARTS)}
OCCLUDER = 255
HEAD_DEPTH = 10.0  # the head group is always drawn last


@dataclass(frozen=True)
class Placement:
    """Where the person stands on the canvas: body-axis x, y of the top of the head, px per height."""

    cx: float
    top: float
    scale: float


@dataclass(frozen=True)
class PersonRender:
    """Keypoints in continuous canvas coordinates (pixel i spans [i, i+1)) and what was drawn."""

    keypoints: np.ndarray
    hidden: np.ndarray
    own: tuple[frozenset[int], ...]
    own_rank: np.ndarray
    rank: np.ndarray
    layers: frozenset[str]

    def visibility(self, canvas: Image.Image) -> np.ndarray:
        """COCO v per keypoint on the finished canvas (occluders drawn): 0 off-canvas, 1 under an
        occluder / under another part drawn later / a face point turned away, else 2."""
        w, h = canvas.size
        v = np.zeros(len(KEYPOINTS), dtype=np.int64)
        for k, (x, y) in enumerate(self.keypoints):
            xi, yi = math.floor(x), math.floor(y)
            if not (0 <= xi < w and 0 <= yi < h):
                continue
            lab = canvas.getpixel((xi, yi))[3]
            covered = lab == OCCLUDER or (lab != 0 and lab not in self.own[k] and self.rank[lab] > self.own_rank[k])
            v[k] = 1 if covered or self.hidden[k] else 2
        return v


def _quad(a: tuple[float, float], b: tuple[float, float], wa: float, wb: float) -> list[tuple[float, float]]:
    """Quadrilateral around segment a-b with half-widths wa at a and wb at b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    n = math.hypot(dx, dy) or 1.0
    px, py = -dy / n, dx / n
    return [(a[0] + px * wa, a[1] + py * wa), (b[0] + px * wb, b[1] + py * wb),
            (b[0] - px * wb, b[1] - py * wb), (a[0] - px * wa, a[1] - py * wa)]


def _disc(p: tuple[float, float], r: float) -> tuple[float, float, float, float]:
    return (p[0] - r, p[1] - r, p[0] + r, p[1] + r)


def _shade(color: RGB, f: float) -> RGB:
    return (int(color[0] * f), int(color[1] * f), int(color[2] * f))


def lit(color: RGB, light: tuple[float, ...]) -> RGB:
    """`color` under a per-channel light gain, clipped to 255."""
    return (min(255, int(color[0] * light[0])), min(255, int(color[1] * light[1])), min(255, int(color[2] * light[2])))


class _Shapes:
    """Shapes to paint, each (depth, insertion order, part, kind, geometry, colour, extra)."""

    def __init__(self, place: Placement, yaw: float):
        self.items: list[tuple] = []
        self.place, self.yaw = place, yaw
        self.cos, self.sin = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
        self.layers: set[str] = set()

    def img(self, u: float, y: float) -> tuple[float, float]:
        return (self.place.cx + self.place.scale * u, self.place.top + self.place.scale * y)

    def at(self, p) -> tuple[tuple[float, float], float]:
        """Image position and depth of a body-frame point."""
        u, d = p[0] * self.cos - p[2] * self.sin, p[0] * self.sin + p[2] * self.cos
        return self.img(u, p[1]), d

    def add(self, depth: float, part: str, kind: str, geom, color: RGB, extra: tuple = ()) -> None:
        self.items.append((depth, len(self.items), part, kind, geom, color, extra))
        self.layers.add(part)

    def poly(self, depth: float, part: str, uv: list[tuple[float, float]], color: RGB) -> None:
        self.add(depth, part, "polygon", [self.img(u, y) for u, y in uv], color)

    def paint(self, canvas: Image.Image, light: tuple[float, ...], label_value: int | None) -> np.ndarray:
        """Paint back to front; return the last draw position of every label id (-1: not drawn)."""
        draw = ImageDraw.Draw(canvas)
        rank = np.full(256, -1, dtype=np.int64)
        lit_colors: dict[RGB, RGB] = {}
        for pos, (_, _, part, kind, geom, color, extra) in enumerate(sorted(self.items, key=lambda t: t[:2])):
            lab = label_value if label_value is not None else PART_ID[part]
            if color not in lit_colors:
                lit_colors[color] = lit(color, light)
            getattr(draw, kind)(geom, *extra, fill=(*lit_colors[color], lab))
            rank[lab] = pos
        return rank


def draw_person(canvas: Image.Image, ident: Identity, pose: Pose, place: Placement,
                light: tuple[float, ...] = (1.0, 1.0, 1.0), label_value: int | None = None) -> PersonRender:
    """Draw `ident` in `pose` at `place` under `light` (per-channel gain) on an RGBA canvas
    (alpha = part id); `label_value` paints every part with one id (a pedestrian as occluder)."""
    body = build_body(ident.width, pose)
    sc = place.scale
    view = view_of(pose.yaw)
    sh = _Shapes(place, pose.yaw)
    c, s = sh.cos, sh.sin
    wf = ident.width
    _torso(sh, ident, body, c, s)
    leg_depth = max([_leg(sh, ident, body, side, wf * sc, c, s) for side in SIDES])
    if ident.lower_type == "skirt":
        a_h = _torso_half_widths(body, c, s)[1]
        sh.poly(leg_depth + 0.001, "skirt", [(-a_h, 0.48), (a_h, 0.48), (1.35 * a_h + 0.02, 0.7),
                                             (-1.35 * a_h - 0.02, 0.7)], ident.lower)
    for side in SIDES:
        _arm(sh, ident, body, side, wf * sc)
    _head(sh, ident, body, c, s)
    _accessories(sh, ident, body, view)

    rank = sh.paint(canvas, light, label_value)
    kps, hidden, own = [], [], []
    for name in KEYPOINTS:
        (x, y), depth = sh.at(body.joints[name])
        kps.append((x + 0.5, y + 0.5))
        hidden.append(_face_hidden(name, depth))
        own.append(frozenset(PART_ID[p] for p in _own_parts(name, depth, body.chest)))
    own_rank = np.array([max(rank[i] for i in ids) for ids in own])
    return PersonRender(keypoints=np.array(kps), hidden=np.array(hidden), own=tuple(own),
                        own_rank=own_rank, rank=rank, layers=frozenset(sh.layers))


def _face_hidden(name: str, depth: float) -> bool:
    """Face points turned away from the camera (self-occluded by the head)."""
    limits = {"nose": -0.2, "left_eye": 0.1, "right_eye": 0.1, "left_ear": -0.4, "right_ear": -0.4}
    return name in limits and depth < limits[name] * HEAD_RX


def _own_parts(name: str, depth: float, chest: float) -> tuple[str, ...]:
    """Parts a keypoint lies on; torso/pelvis count only for the camera-facing shoulder/hip."""
    side, _, joint = name.partition("_")
    front = depth >= -0.3 * chest
    table = {
        "shoulder": (f"{side}_upper_arm", "strap", "neck") + (("torso",) if front else ()),
        "elbow": (f"{side}_upper_arm", f"{side}_forearm"),
        "wrist": (f"{side}_forearm", f"{side}_hand"),
        "hip": (f"{side}_thigh", "skirt") + (("torso", "pelvis") if front else ()),
        "knee": (f"{side}_thigh", f"{side}_shin", "skirt"),
        "ankle": (f"{side}_shin", f"{side}_shoe"),
    }
    return table.get(joint, ("head", "hair", "neck"))


def _torso_half_widths(body: Body, c: float, s: float) -> tuple[float, float]:
    """Projected half-widths of the torso at shoulder and hip level (body box seen at yaw)."""
    return body.sw * abs(c) + body.chest * abs(s), body.hw * abs(c) + 0.9 * body.chest * abs(s)


def _torso(sh: _Shapes, ident: Identity, body: Body, c: float, s: float) -> None:
    a_s, a_h = _torso_half_widths(body, c, s)

    def half(y: float) -> float:
        return a_s + (a_h - a_s) * (y - 0.2) / (0.53 - 0.2)

    sh.poly(0.0, "torso", [(-0.8 * a_s, 0.165), (0.8 * a_s, 0.165), (a_s, 0.2), (a_h, 0.53), (-a_h, 0.53),
                           (-a_s, 0.2)], ident.upper)
    pc = ident.pattern_color
    if ident.pattern in ("stripes", "checks"):
        band = 0.022 if ident.pattern == "stripes" else 0.01
        for y in np.arange(0.225, 0.5, 0.055 if ident.pattern == "stripes" else 0.045):
            sh.poly(0.0, "torso", [(-half(y), y), (half(y), y), (half(y + band), y + band),
                                   (-half(y + band), y + band)], pc)
    if ident.pattern == "checks":
        inner = min(a_s, a_h)
        for u in np.arange(-inner + 0.02, inner - 0.01, 0.045):
            sh.poly(0.0, "torso", [(u, 0.2), (u + 0.01, 0.2), (u + 0.01, 0.53), (u, 0.53)], pc)
    if ident.pattern == "logo" and c > 0.3:
        (x, y), _ = sh.at((0.0, 0.29, body.chest))
        sh.add(0.0, "torso", "regular_polygon", (x, y, 0.034 * sh.place.scale), pc, (4,))
        sh.layers.add("logo")
    if ident.lower_type == "skirt":
        return
    sh.poly(0.001, "pelvis", [(-a_h, 0.49), (a_h, 0.49), (a_h, 0.575), (-a_h, 0.575)], ident.lower)


def _arm(sh: _Shapes, ident: Identity, body: Body, side: str, w: float) -> None:
    (p_s, d_s), (p_e, d_e), (p_w, d_w) = (sh.at(body.joints[f"{side}_{j}"]) for j in ("shoulder", "elbow", "wrist"))
    depth = (d_s + d_e + d_w) / 3
    f = 0.85 if depth < -0.02 else 1.0
    sleeve, skin = _shade(ident.upper, f), _shade(ident.skin, f)
    arm = sleeve if ident.long_sleeves else skin
    w1, w2, w3 = 0.046 * w, 0.038 * w, 0.031 * w
    upper, fore = f"{side}_upper_arm", f"{side}_forearm"
    sh.add(depth, upper, "ellipse", _disc(p_s, w1), sleeve)
    sh.add(depth, upper, "polygon", _quad(p_s, p_e, w1, w2), arm)
    if not ident.long_sleeves:
        mid = (p_s[0] + 0.45 * (p_e[0] - p_s[0]), p_s[1] + 0.45 * (p_e[1] - p_s[1]))
        sh.add(depth, upper, "polygon", _quad(p_s, mid, w1 * 1.05, w1), sleeve)
    sh.add(depth, upper, "ellipse", _disc(p_e, w2), arm)
    sh.add(depth, fore, "polygon", _quad(p_e, p_w, w2, w3), arm)
    hand = (p_w[0] + 0.25 * (p_w[0] - p_e[0]), p_w[1] + 0.25 * (p_w[1] - p_e[1]))
    sh.add(depth, f"{side}_hand", "ellipse", _disc(hand, 0.024 * sh.place.scale), skin)


def _leg(sh: _Shapes, ident: Identity, body: Body, side: str, w: float, c: float, s: float) -> float:
    """Thigh, knee, shin and shoe of one leg at the leg's mean depth (returned)."""
    (p_h, d_h), (p_k, d_k), (p_a, d_a) = (sh.at(body.joints[f"{side}_{j}"]) for j in ("hip", "knee", "ankle"))
    depth = (d_h + d_k + d_a) / 3
    f = 0.85 if depth < -0.02 else 1.0
    lower, skin = _shade(ident.lower, f), _shade(ident.skin, f)
    leg = lower if ident.lower_type == "trousers" else skin
    w1, w2, w3 = 0.05 * w, 0.041 * w, 0.032 * w
    thigh, shin = f"{side}_thigh", f"{side}_shin"
    sh.add(depth, thigh, "polygon", _quad(p_h, p_k, w1, w2), leg)
    if ident.lower_type == "shorts":
        mid = (p_h[0] + 0.55 * (p_k[0] - p_h[0]), p_h[1] + 0.55 * (p_k[1] - p_h[1]))
        sh.add(depth, thigh, "polygon", _quad(p_h, mid, w1 * 1.1, w1 * 1.05), lower)
    sh.add(depth, thigh, "ellipse", _disc(p_k, w2), leg)
    sh.add(depth, shin, "polygon", _quad(p_k, p_a, w2, w3), leg)
    (x, y), _ = sh.at(body.joints[f"{side}_ankle"] + np.array([0.0, 0.018, 0.022]))
    rx, ry = (0.026 * abs(c) + 0.05 * abs(s)) * sh.place.scale, 0.02 * sh.place.scale
    sh.add(depth, f"{side}_shoe", "ellipse", (x - rx, y - ry, x + rx, y + ry), _shade(ident.shoes, f))
    return depth


def _head(sh: _Shapes, ident: Identity, body: Body, c: float, s: float) -> None:
    sc = sh.place.scale
    (nx, ny), _ = sh.at(body.joints["neck"])
    sh.add(HEAD_DEPTH, "neck", "polygon", _quad((nx, ny - 0.045 * sc), (nx, ny + 0.03 * sc), 0.024 * sc, 0.026 * sc),
           ident.skin)
    (hx, hy), _ = sh.at(body.joints["head"])
    rx, ry = (HEAD_RX * abs(c) + 0.056 * abs(s)) * sc, HEAD_RY * sc
    sh.add(HEAD_DEPTH, "head", "ellipse", (hx - rx, hy - ry, hx + rx, hy + ry), ident.skin)
    if ident.long_hair:
        (bx, by), depth = sh.at((0.0, HEAD_Y, -0.06))
        hw = 0.058 * sc
        sh.add(depth, "hair_back", "rounded_rectangle", (bx - hw, by, bx + hw, by + 0.2 * sc), ident.hair, (0.02 * sc,))
    hair_box = (hx - 1.06 * rx, hy - 1.06 * ry - 0.012 * sc, hx + 1.06 * rx, hy + ry - 0.012 * sc)
    if c < -0.35:
        sh.add(HEAD_DEPTH, "hair", "ellipse", hair_box, ident.hair)
    else:
        mid = math.degrees(math.atan2(-1.0, s))
        span = 180.0 + 90.0 * (1.0 - c)
        sh.add(HEAD_DEPTH, "hair", "pieslice", hair_box, ident.hair, (mid - span / 2, mid + span / 2))
    for eye in ("left_eye", "right_eye"):
        (ex, ey), depth = sh.at(body.joints[eye])
        if not _face_hidden(eye, depth):
            sh.add(HEAD_DEPTH, "head", "ellipse", _disc((ex, ey), max(0.0065 * sc, 0.6)), (40, 30, 30))


def _accessories(sh: _Shapes, ident: Identity, body: Body, view: str) -> None:
    sc = sh.place.scale
    if ident.backpack is not None and view == "back":
        (x, y), depth = sh.at((0.0, 0.33, -(body.chest + 0.035)))
        hw, top, bottom = 0.072 * ident.width * sc, y - 0.12 * sc, y + 0.13 * sc
        sh.add(depth, "backpack", "rounded_rectangle", (x - hw, top, x + hw, bottom), ident.backpack, (0.025 * sc,))
        sh.add(depth, "backpack", "rectangle", (x - 0.7 * hw, y + 0.03 * sc, x + 0.7 * hw, y + 0.1 * sc),
               _shade(ident.backpack, 0.7))
    near = 1.0 if view == "left" else -1.0
    if ident.backpack is not None and view in ("left", "right"):
        (a, _), (b, _) = sh.at((near * body.sw * 0.6, 0.18, -0.2 * body.chest)), sh.at((near * body.sw * 0.5, 0.4,
                                                                                       -0.9 * body.chest))
        sh.add(0.01, "strap", "polygon", _quad(a, b, 0.011 * sc, 0.011 * sc), ident.backpack)
    if ident.bag is not None and view == ident.bag_side:
        (x, y), depth = sh.at((near * (body.hw + 0.03), HIP_Y + 0.03, 0.01))
        (sx, sy), _ = sh.at((near * body.sw * 0.7, 0.18, 0.0))
        sh.add(depth, "bag", "polygon", _quad((sx, sy), (x, y - 0.05 * sc), 0.008 * sc, 0.008 * sc), ident.bag)
        sh.add(depth, "bag", "rounded_rectangle", (x - 0.055 * sc, y - 0.05 * sc, x + 0.055 * sc, y + 0.09 * sc),
               ident.bag, (0.012 * sc,))
