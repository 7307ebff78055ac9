import numpy as np
import pytest

from attnreid.data import index as index_io
from attnreid.data.datasets import prepare
from attnreid.data.samplers import PKSampler, RandomBatchSampler
from attnreid.errors import InputError

CFG = {"kind": "market1501", "check_counts": False}


def test_prepare_market_layout(market_root, tmp_path):
    out = tmp_path / "idx" / "index.csv"
    meta = prepare("toy", CFG, market_root, out)
    df, meta2 = index_io.read(out)
    assert meta2["counts"] == meta["counts"]
    assert set(df.split) == {"train", "query", "gallery"}
    gallery = index_io.split(df, "gallery")
    assert -1 not in set(gallery.pid) and 0 in set(gallery.pid)  # junk out, distractor in
    assert meta["counts"]["train"] == {"images": 16, "ids": 4}
    assert meta["counts"]["query"]["images"] == 8


def test_bad_file_name_is_named(market_root, tmp_path):
    bad = market_root / "query" / "0005_cam1_000001_00.jpg"
    sorted((market_root / "query").iterdir())[0].rename(bad)
    with pytest.raises(InputError) as err:
        prepare("toy", CFG, market_root, tmp_path / "idx" / "index.csv")
    assert str(bad) in str(err.value) and "pattern" in str(err.value)
    assert not (tmp_path / "idx").exists() or not any((tmp_path / "idx").iterdir())


def test_missing_split_folder_and_root(market_root, tmp_path):
    import shutil

    with pytest.raises(InputError, match="dataset root does not exist"):
        prepare("toy", CFG, tmp_path / "nowhere", tmp_path / "i" / "index.csv")
    shutil.rmtree(market_root / "query")
    with pytest.raises(InputError, match="missing split folder 'query'"):
        prepare("toy", CFG, market_root, tmp_path / "i" / "index.csv")
    assert sorted(tmp_path.iterdir()) == [market_root]   # nothing written, not even the output's folder


def test_corrupt_image_is_named(market_root, tmp_path):
    victim = sorted((market_root / "bounding_box_train").iterdir())[3]
    victim.write_bytes(victim.read_bytes()[:40])
    with pytest.raises(InputError, match=victim.name):
        prepare("toy", CFG, market_root, tmp_path / "i" / "index.csv")
    assert not (tmp_path / "i" / "index.csv").exists()


def test_pk_sampler_batches_and_determinism():
    pids = np.repeat(np.arange(10), [2, 3, 4, 5, 6, 7, 8, 9, 10, 1])
    s = PKSampler(pids, p=4, k=3, seed=7)
    batches = list(s)
    assert batches and all(len(b) == 12 for b in batches)
    for b in batches:
        ids = pids[b].reshape(4, 3)
        assert (ids == ids[:, :1]).all() and len(set(ids[:, 0])) == 4
    assert batches == list(PKSampler(pids, p=4, k=3, seed=7))
    s.set_epoch(1)
    assert list(s) != batches


def test_random_sampler_covers_each_index_once():
    s = RandomBatchSampler(10, 3, seed=0)
    flat = [i for b in s for i in b]
    assert len(flat) == 9 and len(set(flat)) == 9
