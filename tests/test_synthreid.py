"""synthreid: determinism, Market layout and protocol validity, annotations, variants, atomicity."""
from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attnreid.data.synthreid import SynthConfig, generate
from attnreid.data.synthreid import check, preview
from attnreid.data.synthreid.body import KEYPOINTS, Pose
from attnreid.data.synthreid.identity import sample_identity
from attnreid.data.synthreid.render import Placement, draw_person
from attnreid.data.synthreid.scene import Studio
from attnreid.data.synthreid.seeds import Stream, stream

NAME = re.compile(r"^(?P<pid>-1|\d{4})_c(?P<cam>\d)s1_(?P<frame>\d{6})_(?P<bb>\d{2})\.jpg$")
TINY = dict(num_train_ids=6, num_test_ids=6, num_cameras=4, cameras_per_id=[2, 3], images_per_id_camera=[1, 3],
            num_distractors=4, num_junk=4, occlusion_prob=0.5, partial_query=True, gt_bbox=True)
SPLITS = ("bounding_box_train", "bounding_box_test", "query", "gt_bbox", "partial_query")


def tiny(**over) -> SynthConfig:
    return SynthConfig.from_dict({**TINY, **over})


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """The tiny dataset twice (same seed), with another seed, and as `detected`."""
    base = tmp_path_factory.mktemp("synth")
    out = {}
    for key, over in {"a": {}, "a2": {}, "seed": {"seed": 7}, "det": {"box": "detected"}}.items():
        out[key] = base / key
        generate(out[key], tiny(**over))
    return out


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def shots(root: Path, split: str) -> list[dict]:
    out = []
    for p in sorted((root / split).iterdir()):
        m = NAME.match(p.name)
        assert m, f"{split}/{p.name} does not follow Market's naming"
        out.append({"name": p.name, "pid": int(m["pid"]), "cam": int(m["cam"]), "bb": int(m["bb"])})
    return out


def load(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im


def keypoints(root: Path) -> dict[str, np.ndarray]:
    with open(root / "annotations" / "keypoints.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["path"] + [f"{k}_{c}" for k in KEYPOINTS for c in "xyv"]
    return {r["path"]: np.array([[float(r[f"{k}_{c}"]) for c in "xyv"] for k in KEYPOINTS]) for r in rows}


def test_same_seed_same_bytes_other_seed_differs(made):
    a, a2 = files(made["a"]), files(made["a2"])
    assert a == a2
    assert json.loads(a["manifest.json"])["content_sha256"] != json.loads(files(made["seed"])["manifest.json"])[
        "content_sha256"]


def test_layout_names_and_counts(made):
    root = made["a"]
    manifest = json.loads((root / "manifest.json").read_text())
    assert sorted(p.name for p in root.iterdir()) == sorted([*SPLITS, "annotations", "manifest.json"])
    found = {split: shots(root, split) for split in SPLITS}
    for split, items in found.items():
        assert all(1 <= s["cam"] <= 4 for s in items)
        assert all((s["bb"] == 0) == (split in ("query", "gt_bbox", "partial_query")) for s in items), split
    c = manifest["counts"]
    assert len(found["bounding_box_train"]) == c["train_images"] and len(found["query"]) == c["query_images"]
    assert len(found["bounding_box_test"]) == c["gallery_images"] and len(found["gt_bbox"]) == c["gt_bbox_images"]
    assert sum(s["pid"] == 0 for s in found["bounding_box_test"]) == c["distractor_images"] == 4
    assert sum(s["pid"] == -1 for s in found["bounding_box_test"]) == c["junk_images"] == 4
    assert manifest["num_files"] == len(files(root)) and manifest["config"]["box"] == "labeled"


def test_identities_junk_and_distractors(made):
    root = made["a"]
    train = {s["pid"] for s in shots(root, "bounding_box_train")}
    test = {s["pid"] for s in shots(root, "bounding_box_test")} - {0, -1}
    assert len(train) == 6 and len(test) == 6 and not train & test and min(train | test) >= 1
    for split in ("bounding_box_train", "query", "gt_bbox", "partial_query"):
        assert all(s["pid"] > 0 for s in shots(root, split)), split
    assert {s["pid"] for s in shots(root, "query")} <= test


def test_every_query_is_valid_under_the_market_protocol(made):
    gallery = shots(made["a"], "bounding_box_test")
    queries = shots(made["a"], "query")
    assert len({(q["pid"], q["cam"]) for q in queries}) == len(queries)  # one per identity and camera
    for q in queries:
        same = [g for g in gallery if g["pid"] == q["pid"]]
        assert any(g["cam"] != q["cam"] for g in same), q  # a cross-camera match
        assert any(g["cam"] == q["cam"] for g in same), q  # and same-camera images the protocol drops


def test_gt_bbox_and_partial_query(made):
    root = made["a"]
    queries = {q["name"]: q for q in shots(root, "query")}
    per_pair = defaultdict(int)
    for s in shots(root, "gt_bbox"):
        per_pair[s["pid"], s["cam"]] += 1
    assert set(per_pair) == {(q["pid"], q["cam"]) for q in queries.values()}
    assert all(2 <= n <= 6 for n in per_pair.values())
    assert sorted(p.name for p in (root / "partial_query").iterdir()) == sorted(queries)
    for name in queries:
        w, h = load(root / "partial_query" / name).size
        assert (w, h) != (64, 128) and (w == 64 or h == 128)  # an upper, left or right part


def test_masks_and_keypoints(made):
    root = made["a"]
    kps = keypoints(root)
    images = [p for split in SPLITS for p in sorted((root / split).iterdir())]
    assert sorted(kps) == sorted(f"{p.parent.name}/{p.name}" for p in images)
    near, visible = 0, 0
    for p in images:
        rel = f"{p.parent.name}/{p.name}"
        mask_file = root / "annotations" / "masks" / p.parent.name / (p.stem + ".png")
        mask, size = load(mask_file), load(p).size
        assert mask.mode == "1" and mask.size == size
        m = np.asarray(mask.convert("L")) > 0
        k = kps[rel]
        on = k[:, 2] > 0
        assert np.all((k[on, 0] >= 0) & (k[on, 0] < size[0]) & (k[on, 1] >= 0) & (k[on, 1] < size[1])), rel
        assert np.all(k[~on] == 0)
        for x, y in k[k[:, 2] == 2, :2]:
            xi, yi = int(x), int(y)
            near += m[max(yi - 2, 0):yi + 3, max(xi - 2, 0):xi + 3].any()
            visible += 1
    assert visible > 500 and near / visible > 0.97


def test_detected_differs_from_labeled_only_by_the_crop(made):
    lab, det = keypoints(made["a"]), keypoints(made["det"])
    assert sorted(lab) == sorted(det)
    changed = 0
    for path in lab:
        if not path.startswith(("bounding_box_train/", "query/")):
            continue
        both = (lab[path][:, 2] > 0) & (det[path][:, 2] > 0)
        assert np.array_equal(lab[path][both, 2], det[path][both, 2])
        if both.sum() >= 3:  # the same scene: keypoints map by one scale + shift per axis
            for axis in (0, 1):
                a = np.column_stack([lab[path][both, axis], np.ones(both.sum())])
                fit, *_ = np.linalg.lstsq(a, det[path][both, axis], rcond=None)
                assert np.abs(a @ fit - det[path][both, axis]).max() < 0.05, path
                changed += not np.allclose(fit, [1.0, 0.0])
    assert changed > 10
    cfg_l, cfg_d = tiny(), tiny(box="detected")
    canvas = [Studio(c).scene(3, 2, stream(c.seed, Stream.SCENE, 3, 2, 100)).canvas.tobytes() for c in (cfg_l, cfg_d)]
    assert canvas[0] == canvas[1]


@pytest.mark.parametrize("yaw, view", [(0, "front"), (90, "left"), (180, "back"), (270, "right")])
def test_backpack_only_from_behind_and_bag_only_from_its_side(yaw, view):
    ident = dataclasses.replace(sample_identity(np.random.default_rng(0), SynthConfig()), backpack=(200, 0, 0),
                                bag=(0, 0, 200), bag_side="left")
    canvas = Image.new("RGBA", (100, 160), (128, 128, 128, 0))
    person = draw_person(canvas, ident, Pose(yaw), Placement(cx=50, top=10, scale=140))
    assert ("backpack" in person.layers) == (view == "back")
    assert ("strap" in person.layers) == (view in ("left", "right"))
    assert ("bag" in person.layers) == (view == "left")
    left, right = person.keypoints[KEYPOINTS.index("left_shoulder"), 0], person.keypoints[
        KEYPOINTS.index("right_shoulder"), 0]
    if view in ("front", "back"):  # the person's left is on the image right when seen from the front
        assert (left > right) == (view == "front")
    v = person.visibility(canvas)
    face = [KEYPOINTS.index(k) for k in ("nose", "left_eye", "right_eye")]
    assert (v[face] == 1).all() if view == "back" else v[KEYPOINTS.index("nose")] == 2


def test_config_errors_name_the_key():
    where = "datasets.X.synth"
    with pytest.raises(ValueError, match=r"^params\.yaml: datasets\.X\.synth\.colour: unknown key$"):
        SynthConfig.from_dict({"colour": 1}, where=where)
    with pytest.raises(ValueError, match=r"^params\.yaml: datasets\.X\.synth\.num_cameras: expected an integer"):
        SynthConfig.from_dict({"num_cameras": "6"}, where=where)
    with pytest.raises(ValueError, match=r"synth\.partial_query: expected true/false"):
        SynthConfig.from_dict({"partial_query": 1}, where=where)
    with pytest.raises(ValueError, match=r"synth\.cameras_per_id: must be"):
        SynthConfig.from_dict({"cameras_per_id": [1, 3]}, where=where)
    with pytest.raises(ValueError, match=r"synth\.box: must be one of labeled\|detected"):
        SynthConfig.from_dict({"box": "tight"}, where=where)
    assert SynthConfig.from_dict({"occlusion_prob": 0}).occlusion_prob == 0.0


def _fail_after(monkeypatch, n: int) -> None:
    real = Studio.shoot
    calls = iter(range(10 ** 6))

    def shoot(self, *args):
        if next(calls) == n:
            raise RuntimeError("simulated failure")
        return real(self, *args)

    monkeypatch.setattr(Studio, "shoot", shoot)


def test_failure_leaves_nothing_half_written(tmp_path, monkeypatch):
    cfg = tiny(partial_query=False, gt_bbox=False)
    out = tmp_path / "ds"
    with monkeypatch.context() as m:
        _fail_after(m, 5)
        with pytest.raises(RuntimeError, match="simulated"):
            generate(out, cfg)
    assert list(tmp_path.iterdir()) == []
    out.mkdir()
    (out / "old.txt").write_text("previous dataset")
    with monkeypatch.context() as m:
        _fail_after(m, 5)
        with pytest.raises(RuntimeError):
            generate(out, cfg)
    assert [p.name for p in tmp_path.iterdir()] == ["ds"] and (out / "old.txt").exists()
    generate(out, cfg)  # success replaces the old folder
    assert [p.name for p in tmp_path.iterdir()] == ["ds"] and not (out / "old.txt").exists()
    assert (out / "manifest.json").is_file()


def test_check_and_preview(made, tmp_path, capsys):
    dist = np.array([[0.1, 0.2, 0.3, 0.4]])
    cmc, mean_ap, n = check.market_eval(dist, np.array([1]), np.array([1]), np.array([1, -1, 2, 1]),
                                        np.array([1, 2, 2, 2]))
    assert n == 1 and cmc[0] == 0.0 and cmc[1] == 1.0 and mean_ap == pytest.approx(0.5)  # same-cam and junk skipped
    assert check.main([str(made["a"])]) == 0 and "rank-1" in capsys.readouterr().out
    assert preview.main([str(made["a"]), str(tmp_path / "p.png")]) == 0
    assert load(tmp_path / "p.png").size[0] > 64
