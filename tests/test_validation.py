"""Model selection on held-out training identities (SAG section 4.3; engine/validation.py)."""
from __future__ import annotations

import json
import signal

import numpy as np
import pandas as pd
import pytest
import torch

from attnreid.data import index as index_io
from attnreid.data.datasets import prepare
from attnreid.engine import validation
from attnreid.engine.train import train
from attnreid.errors import InputError, Interrupted
from conftest import params_grid, tiny_cell_cfg, write_market
from killpoint import arm

BATCH = 8
VAL = {"ids": 0.34, "every": 1, "metric": "mAP"}  # 2 of 6 identities


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """6 training identities x 2 cameras x 4 images (64x32): 2 held out, 32 images = 4 batches to train on."""
    root = tmp_path_factory.mktemp("val")
    write_market(root / "raw", n_ids=6, cams=2, per_cam=4, size=(64, 32))
    index = root / "prepared" / "index.csv"
    prepare("toy", {"kind": "market1501", "check_counts": False}, root / "raw", index)
    return index


def cfg_of(epochs: int = 3, **val) -> dict:
    return tiny_cell_cfg(params_grid(), "baseline", epochs=epochs, milestones=[2], sampler="random",
                         batch_size=BATCH, validation={**VAL, **val})


def train_rows(toy) -> pd.DataFrame:
    return index_io.split(index_io.read(toy)[0], "train")


def test_hold_out_draws_whole_identities_with_one_query_per_camera(toy):
    rows = train_rows(toy)
    kept, val = validation.hold_out(rows, VAL, seed=0, where="toy")
    held = set(val.query.pid)
    assert len(held) == val.ids == 2 and set(val.gallery.pid) == held
    assert held.isdisjoint(kept.pid) and len(kept) + len(val.query) + len(val.gallery) == len(rows)
    assert sorted(zip(val.query.pid, val.query.camid)) == sorted({(p, c) for p in held for c in (1, 2)})
    again = validation.hold_out(rows, VAL, seed=0, where="toy")[1]
    assert again.query.equals(val.query) and again.gallery.equals(val.gallery)
    others = {frozenset(validation.hold_out(rows, VAL, seed=s, where="toy")[1].query.pid) for s in range(1, 8)}
    assert len(others | {frozenset(held)}) > 1  # the draw follows the seed
    assert validation.hold_out(rows, {**VAL, "ids": 0}, seed=0, where="toy") == (rows, None)


def test_hold_out_refusals_name_the_key(toy):
    rows = train_rows(toy)
    with pytest.raises(InputError, match=r"train\.validation\.ids: .* leaves fewer than 2"):
        validation.hold_out(rows, {**VAL, "ids": 0.9}, seed=0, where="toy")
    one_camera = rows[rows.camid == 1]
    with pytest.raises(InputError, match=r"train\.validation\.ids: .*no cross-camera query"):
        validation.hold_out(one_camera, VAL, seed=0, where="toy")


def test_scoring_is_in_eval_mode_and_leaves_the_training_rng_alone(toy, one_thread):
    from attnreid.engine.train import build_model, train_data

    cfg = cfg_of()
    data, _, _, val = train_data(cfg, str(toy))
    assert data.num_classes == 4  # the classifier never sees the held-out identities
    model, _ = build_model(cfg, data.num_classes, torch.device("cpu"))
    before = torch.get_rng_state()
    stats = validation.score(model, val, cfg["train"], torch.device("cpu"))
    assert torch.equal(before, torch.get_rng_state()) and not model.training
    assert set(stats) == {"val_mAP", "val_R1"} and all(0 <= v <= 1 for v in stats.values())


def test_due_every_n_epochs_and_after_the_last():
    assert [e + 1 for e in range(7) if validation.due({"every": 3}, e, 7)] == [3, 6, 7]


def run(cfg, toy, out):
    from attnreid.config import digest

    return train(cfg, digest(cfg), str(toy), str(out / "model.pt"), str(out / "live"), threads=1)


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_the_best_epochs_weights_become_the_model(toy, tmp_path, monkeypatch, one_thread):
    """Scores 0.2, 0.9, 0.5: the model is epoch 2's, equal to a 2-epoch run's final weights."""
    def canned(scores):
        it = iter(scores)
        return lambda *_: {"val_mAP": next(it), "val_R1": 0.0}

    monkeypatch.setattr(validation, "score", canned([0.2, 0.9, 0.5]))
    meta = run(cfg_of(3), toy, tmp_path / "three")
    assert meta["selected_epoch"] == 2 and [h["val_mAP"] for h in meta["history"]] == [0.2, 0.9, 0.5]
    assert json.loads((tmp_path / "three" / "run.json").read_text())["selected_epoch"] == 2
    assert meta["validation"] == {"ids": 2, "query": 4, "gallery": 12}
    monkeypatch.setattr(validation, "score", canned([0.2, 0.9]))
    run(cfg_of(2), toy, tmp_path / "two")
    a, b = weights(tmp_path / "three" / "model.pt")["model"], weights(tmp_path / "two" / "model.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    monkeypatch.setattr(validation, "score", canned([0.2, 0.9, 0.5]))
    last = run(cfg_of(3, ids=0), toy, tmp_path / "off")  # off: the last epoch, no held-out identity
    assert last["selected_epoch"] == 3 and last["validation"] is None and last["num_classes"] == 6


def test_a_run_stopped_after_a_validation_resumes_to_the_same_selection(toy, tmp_path, monkeypatch, one_thread):
    cfg = cfg_of(3)
    ref = run(cfg, toy, tmp_path / "ref")
    out = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        arm("batch:6", signal.SIGTERM, patch.setattr)  # epoch 2 (after epoch 1's 4 batches), batch 2
        with pytest.raises(Interrupted):
            run(cfg, toy, out)
    state = weights(out / "checkpoint.pt")
    assert state["position"] == [1, 2] and state["best"]["epoch"] == 1
    resumed = run(cfg, toy, out)
    assert resumed["selected_epoch"] == ref["selected_epoch"] and resumed["resumed_at"] == [[1, 2]]
    strip = [{k: v for k, v in h.items() if k != "imgs_per_s"} for h in ref["history"]]
    assert [{k: v for k, v in h.items() if k != "imgs_per_s"} for h in resumed["history"]] == strip
    a, b = weights(tmp_path / "ref" / "model.pt")["model"], weights(out / "model.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert np.isfinite([h["val_mAP"] for h in ref["history"]]).all()
