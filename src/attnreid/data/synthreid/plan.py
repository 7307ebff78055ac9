"""Which images exist: identities split into train/test, tracklets per camera, query/gallery/gt_bbox.

Pids 1..N are shuffled into the train and test halves (Market has gaps too). Each identity is
seen by `cameras_per_id` cameras with a tracklet of `images_per_id_camera` frames each. A test
identity picks 1..k query cameras; each query camera's tracklet has >= 2 frames, one of which
becomes the query (box index 00, hand-drawn as in Market) and the rest stay in the gallery, so
every query has same-camera gallery images (discarded by the protocol) and, as every identity
has >= 2 cameras, cross-camera matches. gt_bbox holds, per query identity and camera, the query
frame plus up to 5 other frames of that tracklet (2-6 images, fewer when the tracklet is short),
re-cropped by hand (bb 00), as Market's gt_bbox; it serves multi-query evaluation. Distractors
(pid 0000) and junk (pid -1) are new persons in random cameras/frames, gallery only. Every
identity's plan uses its own random stream, so turning gt_bbox on or resizing the distractor set
leaves the other images unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnreid.data.synthreid.config import SynthConfig
from attnreid.data.synthreid.seeds import Stream, stream

TRAIN, GALLERY, QUERY, GT_BBOX, PARTIAL = "bounding_box_train", "bounding_box_test", "query", "gt_bbox", "partial_query"
DISTRACTOR_PID, JUNK_PID = 0, -1
EXTRA_IDENT = {DISTRACTOR_PID: 1_000_000, JUNK_PID: 2_000_000}  # identity keys of the extra persons


@dataclass(frozen=True)
class Shot:
    """One image: directory, Market name fields, identity index (scene key) and crop mode."""

    split: str
    pid: int
    cam: int
    frame: int
    bb: int
    ident: int
    mode: str

    @property
    def name(self) -> str:
        pid = "-1" if self.pid < 0 else f"{self.pid:04d}"
        return f"{pid}_c{self.cam}s1_{self.frame:06d}_{self.bb:02d}.jpg"

    @property
    def path(self) -> str:
        return f"{self.split}/{self.name}"


@dataclass(frozen=True)
class Plan:
    shots: tuple[Shot, ...]
    train_pids: tuple[int, ...]
    test_pids: tuple[int, ...]


def _tracklet(rng: np.random.Generator, n: int) -> list[int]:
    """n increasing frame numbers, 6-40 frames apart."""
    return [int(v) for v in rng.integers(1, 150_000) + np.cumsum(rng.integers(6, 41, n))]


def make_plan(cfg: SynthConfig) -> Plan:
    rng = stream(cfg.seed, Stream.SPLIT)
    perm = rng.permutation(cfg.num_train_ids + cfg.num_test_ids) + 1
    train = tuple(sorted(int(p) for p in perm[:cfg.num_train_ids]))
    test = tuple(sorted(int(p) for p in perm[cfg.num_train_ids:]))
    shots: list[Shot] = []
    for pid in train:
        for cam, frames, _ in _tracks(cfg, pid, test=False):
            shots += [Shot(TRAIN, pid, cam, f, 1, pid, cfg.box) for f in frames]
    for pid in test:
        shots += _test_shots(cfg, pid)
    shots += _extras(cfg, DISTRACTOR_PID, cfg.num_distractors, cfg.box)
    shots += _extras(cfg, JUNK_PID, cfg.num_junk, "junk")
    return Plan(tuple(shots), train, test)


def _tracks(cfg: SynthConfig, pid: int, test: bool) -> list[tuple[int, list[int], bool]]:
    """(camera, tracklet frames, is a query camera) for each camera that sees `pid`."""
    rng = stream(cfg.seed, Stream.TRACKS, pid)
    k = int(rng.integers(cfg.cameras_per_id[0], cfg.cameras_per_id[1] + 1))
    cams = sorted(int(c) + 1 for c in rng.choice(cfg.num_cameras, k, replace=False))
    counts = rng.integers(cfg.images_per_id_camera[0], cfg.images_per_id_camera[1] + 1, k)
    query = set(int(c) for c in rng.choice(cams, int(rng.integers(1, k + 1)), replace=False)) if test else set()
    return [(cam, _tracklet(rng, max(int(n), 2) if cam in query else int(n)), cam in query)
            for cam, n in zip(cams, counts)]


def _test_shots(cfg: SynthConfig, pid: int) -> list[Shot]:
    """Gallery, query and (optionally) gt_bbox shots of one test identity."""
    shots = []
    for cam, frames, is_query in _tracks(cfg, pid, test=True):
        q = int(stream(cfg.seed, Stream.QUERY, pid, cam).integers(len(frames))) if is_query else -1
        shots += [Shot(GALLERY, pid, cam, f, 1, pid, cfg.box) for i, f in enumerate(frames) if i != q]
        if not is_query:
            continue
        shots.append(Shot(QUERY, pid, cam, frames[q], 0, pid, cfg.box))
        if cfg.gt_bbox:
            rng = stream(cfg.seed, Stream.GT_BBOX, pid, cam)
            others = [f for i, f in enumerate(frames) if i != q]
            extra = rng.permutation(others)[:int(rng.integers(2, 7)) - 1]
            shots += [Shot(GT_BBOX, pid, cam, int(f), 0, pid, "hand") for f in sorted([frames[q], *extra])]
    return shots


def _extras(cfg: SynthConfig, pid: int, n: int, mode: str) -> list[Shot]:
    """n gallery images of pid 0000 (distractors) or -1 (junk), each a new person; the box index
    is bumped when two land on the same camera and frame, as in Market."""
    rng = stream(cfg.seed, Stream.EXTRAS, pid + 1)
    taken: set[tuple[int, int, int]] = set()
    shots = []
    for k in range(n):
        cam, frame, bb = int(rng.integers(1, cfg.num_cameras + 1)), int(rng.integers(1, 200_000)), 1
        while (cam, frame, bb) in taken:
            bb += 1
        taken.add((cam, frame, bb))
        shots.append(Shot(GALLERY, pid, cam, frame, bb, EXTRA_IDENT[pid] + k, mode))
    return shots
