"""prepare on tiny fakes of every folder/list layout: counts checked, junk dropped, bad input named."""
from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from attnreid.data import index as index_io
from attnreid.data import stats
from attnreid.data.datasets import prepare
from attnreid.errors import InputError


def img(path: Path, fmt: str | None = None, shade: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 8), (shade % 256, 40, 90)).save(path, fmt)


def publish(monkeypatch, key: str, df_counts: dict, cameras: int, digest: str | None = None) -> None:
    """Make the published statistics of `key` those of a fake, so that the real check runs on it."""
    splits = {s: dict(zip(("images", "ids"), v)) for s, v in df_counts.items()}
    monkeypatch.setitem(stats.PUBLISHED, key, stats.Published(f"fake {key}", "test", splits, cameras, digest))


def out(tmp_path) -> Path:
    return tmp_path / "prepared" / "index.csv"


# -- Market-1501 -----------------------------------------------------------------------------
MARKET_FAKE = {"train": (16, 4), "query": (8, 4), "gallery": (18, 6)}  # gallery: files, junk and distractor included


def test_market_published_counts_pass_and_junk_is_dropped(market_root, tmp_path, monkeypatch):
    publish(monkeypatch, "market1501", MARKET_FAKE, cameras=2)
    meta = prepare("m", {"kind": "market1501"}, market_root, out(tmp_path))
    df, _ = index_io.read(out(tmp_path))
    assert meta["counts"]["gallery"]["images"] == 17 and -1 not in set(df.pid) and 0 in set(df.pid)
    assert len(meta["content_sha256"]) == 64


def test_market_count_mismatch_names_every_number(market_root, tmp_path, monkeypatch):
    monkeypatch.setitem(stats.PUBLISHED, "market1501", replace(stats.PUBLISHED["market1501"], tree_sha256=None))
    with pytest.raises(InputError) as err:
        prepare("m", {"kind": "market1501"}, market_root, out(tmp_path))
    msg = str(err.value)
    assert "train images 16 != 12936" in msg and "query ids 4 != 750" in msg and "gallery images 18 != 19732" in msg
    assert "cameras 2 != 6" in msg and "datasets.m.check_counts" in msg and "\n" not in msg
    assert not out(tmp_path).exists()
    # check_counts: false (a subset) skips the published counts and digest, not the other checks
    assert prepare("m", {"kind": "market1501", "check_counts": False}, market_root, out(tmp_path))


def shell_tree_digest(root: Path) -> str:
    """The release digest by the shell recipe of `stats.tree_digest`'s docstring, independent of the module."""
    recipe = ("find bounding_box_train bounding_box_test query -type f ! -name Thumbs.db | xargs sha256sum | "
              "awk '{print $2\"\\t\"$1}' | LC_ALL=C sort | sha256sum")
    res = subprocess.run(["sh", "-c", recipe], cwd=root, capture_output=True, text=True, check=True)
    return res.stdout.split()[0]


def test_market_content_digest_is_verified(market_root, tmp_path, monkeypatch):
    publish(monkeypatch, "market1501", MARKET_FAKE, cameras=2)
    digest = shell_tree_digest(market_root)
    assert prepare("m", {"kind": "market1501"}, market_root, out(tmp_path))["content_sha256"] == digest
    publish(monkeypatch, "market1501", MARKET_FAKE, cameras=2, digest=digest)
    prepare("m", {"kind": "market1501"}, market_root, out(tmp_path))
    img(sorted((market_root / "query").iterdir())[0], "JPEG", shade=200)  # same name, other content
    with pytest.raises(InputError, match="content digest .* differs from the pinned digest"):
        prepare("m", {"kind": "market1501"}, market_root, tmp_path / "other" / "index.csv")
    assert not (tmp_path / "other").exists()


def test_market_double_extension_is_accepted(market_root, tmp_path):
    f = sorted((market_root / "bounding_box_test").glob("0008_*"))[0]
    f.rename(f.with_name(f.name + ".jpg"))
    prepare("s", {"kind": "synthreid"}, market_root, out(tmp_path))
    df, _ = index_io.read(out(tmp_path))
    assert any(p.endswith(".jpg.jpg") for p in df.path)


def test_synthreid_is_not_count_checked_but_structure_is(market_root, tmp_path):
    assert prepare("s", {"kind": "synthreid"}, market_root, out(tmp_path))["counts"]["train"]["images"] == 16
    for f in (market_root / "bounding_box_test").glob("0008_*"):
        f.unlink()
    with pytest.raises(InputError, match="1 query identities have no gallery image .*pid 8"):
        prepare("s", {"kind": "synthreid"}, market_root, out(tmp_path / "again"))
    assert not (tmp_path / "again").exists()   # nothing written: no index, no metadata, no temporary


def test_unknown_kind_option_and_missing_root(market_root, tmp_path):
    with pytest.raises(InputError, match=r"datasets.x.kind: unknown dataset kind 'cuhk05'"):
        prepare("x", {"kind": "cuhk05"}, market_root, out(tmp_path))
    with pytest.raises(InputError, match=r"datasets.x.variant: not used by kind market1501"):
        prepare("x", {"kind": "market1501", "variant": "labeled"}, market_root, out(tmp_path))
    with pytest.raises(InputError, match=f"{tmp_path / 'nope'}: dataset root does not exist"):
        prepare("x", {"kind": "dukemtmc"}, tmp_path / "nope", out(tmp_path))


# -- DukeMTMC-reID and CUHK03-NP (Market-format release) -------------------------------------
def write_split_folders(root: Path, name, ext: str, fmt: str, cams=(1, 2)) -> None:
    """ids 1-2 train, 3-4 test: 2 images per camera each, one per camera of a test id as query."""
    for pid in (1, 2, 3, 4):
        for cam in cams:
            for shot in (1, 2, 3):
                folder = "bounding_box_train" if pid <= 2 else ("query" if shot == 1 else "bounding_box_test")
                img(root / folder / f"{name(pid, cam, shot)}.{ext}", fmt, shade=pid * 10 + cam)


def test_duke_layout(tmp_path, monkeypatch):
    root = tmp_path / "DukeMTMC-reID"
    write_split_folders(root, lambda p, c, s: f"{p:04d}_c{c}_f{c * 1000 + s:07d}", "jpg", "JPEG", cams=(1, 7))
    publish(monkeypatch, "dukemtmc", {"train": (12, 2), "query": (4, 2), "gallery": (8, 2)}, cameras=2)
    meta = prepare("duke", {"kind": "dukemtmc"}, root, out(tmp_path))
    assert meta["counts"]["query"] == {"images": 4, "ids": 2}
    img(root / "query" / "0003_c1s1_000001_00.jpg", "JPEG")  # a Market name in a Duke folder
    with pytest.raises(InputError, match=r"0003_c1s1_000001_00.jpg: file name does not match the DukeMTMC-reID"):
        prepare("duke", {"kind": "dukemtmc"}, root, out(tmp_path))


def test_cuhk03_np_market_format(tmp_path, monkeypatch):
    root = tmp_path / "cuhk03-np"
    write_split_folders(root / "detected", lambda p, c, s: f"{p:04d}_c{c}_{s + 5 * (c - 1)}", "png", "PNG")
    publish(monkeypatch, "cuhk03_np/detected", {"train": (12, 2), "query": (4, 2), "gallery": (8, 2)}, cameras=2)
    cfg = {"kind": "cuhk03_np", "variant": "detected"}
    prepare("c", cfg, root, out(tmp_path))
    df, _ = index_io.read(out(tmp_path))
    assert df.path[0].startswith("detected/bounding_box_") and set(df.camid) == {1, 2}
    with pytest.raises(InputError, match=r"datasets.c.variant: expected one of \['labeled', 'detected'\]"):
        prepare("c", {"kind": "cuhk03_np"}, root, out(tmp_path))
    with pytest.raises(InputError, match=r"labeled/bounding_box_train: missing split folder"):
        prepare("c", {"kind": "cuhk03_np", "variant": "labeled"}, root, out(tmp_path))


# -- Partial-REID, Partial-iLIDS: test-only ---------------------------------------------------
@pytest.mark.parametrize("kind, probe, gallery, name", [
    ("partial_reid", "partial_body_images", "whole_body_images", "{:03d}_{:02d}.jpg"),
    ("partial_ilids", "Probe", "Gallery", "{:03d}.jpg"),
])
def test_partial_sets_are_test_only(tmp_path, monkeypatch, kind, probe, gallery, name):
    root = tmp_path / kind
    for pid in (1, 2, 3):
        img(root / probe / name.format(pid, 1), "JPEG", shade=pid)
        img(root / gallery / name.format(pid, 1), "JPEG", shade=pid + 100)
    publish(monkeypatch, kind, {"query": (3, 3), "gallery": (3, 3)}, cameras=2)
    meta = prepare("p", {"kind": kind}, root, out(tmp_path))
    df, _ = index_io.read(out(tmp_path))
    assert set(meta["counts"]) == {"query", "gallery"}
    assert set(df.camid[df.split == "query"]) == {1} and set(df.camid[df.split == "gallery"]) == {2}
    victim = root / gallery / name.format(2, 1)
    victim.write_bytes(victim.read_bytes()[:60])  # a truncated (corrupt) JPEG
    with pytest.raises(InputError, match=f"{victim}: missing, unreadable or corrupt image"):
        prepare("p", {"kind": kind}, root, tmp_path / "x" / "index.csv")
    assert not (tmp_path / "x").exists()


# -- MSMT17_V1 --------------------------------------------------------------------------------
def write_msmt(root: Path) -> None:
    lists = {"list_train.txt": ("train", [0, 1]), "list_val.txt": ("train", [0]),
             "list_query.txt": ("test", [0, 1]), "list_gallery.txt": ("test", [0, 1, 1])}
    for list_name, (folder, pids) in lists.items():
        lines = []
        for k, pid in enumerate(pids):
            cam = 3 if list_name == "list_query.txt" else 14
            rel = f"{pid:04d}/{pid:04d}_{len(list_name) + k:03d}_{cam:02d}_0113morning_{k:04d}_0.jpg"
            img(root / folder / rel, "JPEG", shade=k)
            lines.append(f"{rel} {pid}")
        (root / list_name).write_text("\n".join(lines) + "\n")


def test_msmt17_lists(tmp_path, monkeypatch):
    root = tmp_path / "MSMT17_V1"
    write_msmt(root)
    publish(monkeypatch, "msmt17", {"train": (3, 2), "query": (2, 2), "gallery": (3, 2)}, cameras=2)
    prepare("msmt", {"kind": "msmt17"}, root, out(tmp_path))
    df, _ = index_io.read(out(tmp_path))
    assert set(df.pid) == {1, 2}  # labels 0.. shifted: pid 0 means distractor in the index
    assert set(df.camid[df.split == "query"]) == {3} and df.path[0].startswith("train/0000/")
    with open(root / "list_query.txt", "a") as f:
        f.write("0002/0002_000_03_0113dusk_0001_0.jpg 2\n")
    with pytest.raises(InputError, match=r"list_query.txt:3: line does not match the MSMT17 pattern"):
        prepare("msmt", {"kind": "msmt17"}, root, out(tmp_path))
    (root / "test").rename(root / "testing")
    with pytest.raises(InputError, match=r"missing split folder 'test'"):
        prepare("msmt", {"kind": "msmt17"}, root, out(tmp_path))


def test_published_table_has_the_issue_numbers():
    p = stats.PUBLISHED
    assert p["market1501"].splits["gallery"] == {"images": 19732} and p["market1501"].cameras == 6
    assert p["cuhk03_np/labeled"].splits["gallery"]["images"] == 5328
    assert p["cuhk03_np/detected"].splits["train"]["images"] == 7365
    assert p["dukemtmc"].splits["train"] == {"images": 16522, "ids": 702}
    assert p["msmt17"].splits["gallery"]["images"] == 82161 and p["msmt17"].cameras == 15
