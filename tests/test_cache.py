"""The decode-once image cache (data/cache.py): torchvision Resize's pixels, one row per index
row, a corrupt image refused with one line and nothing left, a stale cache refused."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms as T

from attnreid.cli import main as cli
from attnreid.data import cache, index as index_io
from attnreid.data.datasets import prepare
from attnreid.errors import InputError


@pytest.fixture
def prepared(market_root, tmp_path):
    index = tmp_path / "prepared" / "index.csv"
    prepare("toy", {"kind": "market1501", "check_counts": False}, market_root, index)
    return index


def test_cache_holds_torchvisions_resize_of_every_index_row(prepared, tmp_path):
    npy = tmp_path / "cache" / "toy" / "48x24.npy"
    assert cli(["cache", "--dataset", "toy", "--index", str(prepared), "--height", "48", "--width", "24",
                "--out", str(npy), "--threads", "2"]) == 0
    images = cache.load(prepared, 48, 24, npy)
    df, _ = index_io.read(prepared)
    assert isinstance(images.array, np.memmap) and images.array.shape == (len(df), 48, 24, 3)
    resize = T.Resize((48, 24), interpolation=T.InterpolationMode.BICUBIC)
    for i in (0, len(df) - 1):
        with Image.open(df.abspath[i]) as im:
            assert np.array_equal(images.array[i], np.asarray(resize(im.convert("RGB"))))
    assert images.sizes.tolist() == [[32, 16]] * len(df)
    assert np.array_equal(cache.load(prepared, 48, 24).array, images.array)  # the in-memory decode
    with pytest.raises(InputError, match="expected .* at 64x32"):
        cache.load(prepared, 64, 32, npy)
    df.drop(columns="abspath").iloc[1:].to_csv(prepared, index=False)
    with pytest.raises(InputError, match=r"its rows are not those of .*stale cache"):
        cache.load(prepared, 48, 24, npy)


def test_corrupt_image_is_named_and_nothing_is_left(prepared, tmp_path, capsys):
    df, _ = index_io.read(prepared)
    victim = df.abspath[5]
    with open(victim, "r+b") as fh:
        fh.truncate(30)
    npy = tmp_path / "cache" / "toy" / "48x24.npy"
    assert cli(["cache", "--dataset", "toy", "--index", str(prepared), "--height", "48", "--width", "24",
                "--out", str(npy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(f"{re.escape(victim)}: unreadable or corrupt image$", err[0])
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]  # no array, no json, no temporary
