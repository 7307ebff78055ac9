"""DAAF: keypoint groupings, Gaussian targets, HAB/PAB shapes and channel split, the shared decoder,
the inference network's size, the joint image/mask/keypoint transform, the tables' grids, the
pseudo-label plumbing, and a training step on synthreid with oracle pseudo-labels."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from attnreid import models, papers
from attnreid.data.augment import FLIP_ORDER
from attnreid.errors import InputError
from attnreid.grid import Cell, Grid
from attnreid.models.branches.daaf import GROUPINGS, PartialBranch, gaussian_heatmaps, stripe_targets
from attnreid.pseudo import coco
from attnreid.data import index as index_io
from attnreid.viz import daaf_masks
from conftest import panel_grid, params_grid, tiny_cell_cfg


pytestmark = pytest.mark.usefixtures("one_thread")


grid = params_grid


def small_cfg(method: str, g: Grid | None = None, **train) -> dict:
    return tiny_cell_cfg(g or grid(), method, height=64, width=32, ids_per_batch=2, imgs_per_id=4, **train)


def fake_batch(n=8, h=64, w=32) -> dict:
    torch.manual_seed(0)
    kps = torch.rand(n, coco.K, 3) * torch.tensor([w, h, 1.0])
    kps[0, 3] = torch.tensor([float("nan"), float("nan"), 0.0])
    return {"img": torch.randn(n, 3, h, w), "pid": torch.arange(n) // 2,
            "mask": (torch.rand(n, h, w) > 0.5).float(), "keypoints": kps}


@pytest.mark.parametrize("m", sorted(GROUPINGS))
def test_groupings_partition_the_keypoints_and_survive_a_flip(m):
    groups = GROUPINGS[m]
    assert len(groups) == m
    assert sorted(k for g in groups for k in g) == list(range(coco.K))
    if m < coco.K:  # a mirrored image swaps left/right keypoints within a group, never across groups
        assert all(set(FLIP_ORDER[list(g)]) == set(g) for g in groups)


def test_gaussian_targets_peak_at_the_keypoint_and_missing_ones_have_none():
    kps = torch.full((1, coco.K, 3), float("nan"))
    kps[..., 2] = 0
    kps[0, 0] = torch.tensor([5.0, 9.0, 1.0])
    kps[0, 1] = torch.tensor([2.0, 3.0, 0.0])  # confidence 0: missing even with coordinates
    maps, present = gaussian_heatmaps(kps, 16, 8, sigma=1.5)
    assert maps.shape == (1, coco.K, 16, 8) and present[0].tolist() == [True] + [False] * (coco.K - 1)
    assert maps[0, 0, 9, 5] == pytest.approx(1.0) and int(maps[0, 0].argmax()) == 9 * 8 + 5
    assert maps[0, 0, 9, 6] == pytest.approx(np.exp(-1 / (2 * 1.5 ** 2)))
    assert torch.count_nonzero(maps[0, 1:]) == 0 and torch.isfinite(maps).all()


def test_stripe_targets_show_one_stripe_each():
    img = torch.randn(2, 3, 12, 4)
    t = stripe_targets(img, 6).view(2, 6, 3, 12, 4)
    for p in range(6):
        assert torch.equal(t[:, p, :, 2 * p:2 * p + 2], img[:, :, 2 * p:2 * p + 2])
        assert torch.count_nonzero(t[:, p].sum(1).sum(-1)) == 2 * 2  # only its own 2 rows are non-zero


@pytest.mark.parametrize("m", sorted(GROUPINGS))
def test_pab_splits_the_channels_into_groups(m):
    """2048 channels: floor(2048 / M) per group (6 -> 341, 2 unused); group g reads only its channels."""
    outputs = [len(g) for g in GROUPINGS[m]]
    pab = PartialBranch(2048, outputs, width=4).eval()
    assert pab.group_channels == 2048 // m and len(pab.heads) == m
    f4 = torch.randn(1, 2048, 2, 1)
    with torch.no_grad():
        base = pab(f4, (32, 16))
        assert base.shape == (1, coco.K, 32, 16)
        edges = np.cumsum([0] + outputs)
        for g in (0, m - 1):
            bumped = f4.clone()
            bumped[:, g * pab.group_channels:(g + 1) * pab.group_channels] += 1
            diff = (pab(bumped, (32, 16)) - base).abs().sum((0, 2, 3))
            assert (diff[edges[g]:edges[g + 1]] > 0).all()
            assert diff[:edges[g]].sum() == 0 and diff[edges[g + 1]:].sum() == 0
        if m * pab.group_channels < 2048:  # the left-over channels feed nothing
            bumped = f4.clone()
            bumped[:, m * pab.group_channels:] += 1
            assert torch.equal(pab(bumped, (32, 16)), base)


def test_shared_decoder_is_one_module():
    shared = PartialBranch(512, [3, 2, 4, 2, 2, 2], shared=True, width=8)
    indep = PartialBranch(512, [3, 2, 4, 2, 2, 2], shared=False, width=8)
    assert len(shared.decoders) == 1 and len(indep.decoders) == 6
    n_dec = sum(p.numel() for p in shared.decoders.parameters())
    assert sum(p.numel() for p in indep.decoders.parameters()) == 6 * n_dec
    assert shared.decoders[0][0].in_channels == 512 // 6 == 85  # ResNet-18: 6 groups of 85


@pytest.mark.parametrize("method,base", [("daaf-trinet", "daaf-trinet-base"), ("daaf-bot", "daaf-bot-base")])
def test_branches_shapes_and_inference_model_is_the_base_network(method, base):
    g = grid("paper")
    cfg, base_cfg = small_cfg(method, g), small_cfg(base, g)
    model, plain = models.build(cfg, 4), models.build(base_cfg, 4)

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(model.inference_model()) == count(plain) < count(model)
    assert {p.data_ptr() for p in model.backbone.parameters()} <= {p.data_ptr() for p in model.base.parameters()}
    x = torch.randn(8, 3, 64, 32)
    model.train()
    out = model(x)
    assert out["hab"].shape == (8, 1, 64, 32) and out["pab"].shape == (8, coco.K, 64, 32)
    plain.load_state_dict(model.inference_model().state_dict())
    model.eval(), plain.eval()
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))  # the exported network is the base network, weights included


def test_loss_is_the_papers_objective():
    """L = L_r + 0.003 L_h + 0.003 L_p; Eq. 2 / 4: squared error summed over pixels, averaged over N (x K)."""
    cfg = small_cfg("daaf-trinet", grid("paper"))
    model = models.build(cfg, 4).train()
    batch = fake_batch()
    out = model(batch["img"])
    terms = {k: v.item() for k, v in model.losses(out, batch).items()}
    out = {k: v.detach() for k, v in out.items()}
    assert set(terms) == {"triplet", "hab", "pab"}
    want_h = ((out["hab"][:, 0] - batch["mask"]) ** 2).sum((1, 2)).mean()
    assert terms["hab"] == pytest.approx(0.003 * float(want_h), rel=1e-5)
    h, w = batch["img"].shape[2:]
    maps, present = gaussian_heatmaps(batch["keypoints"], h, w, 0.03125 * h)
    order = [k for grp in GROUPINGS[6] for k in grp]
    per = ((out["pab"] - maps[:, order]) ** 2).sum((2, 3)) * present[:, order]
    assert terms["pab"] == pytest.approx(0.003 * float(per.sum() / per.numel()), rel=1e-5)


def test_variants_build_from_params():
    g = grid("paper")
    want = {"daaf-trinet-hab": (True, None, None), "daaf-trinet-pab": (False, 6, 1),
            "daaf-trinet-pab-nogroup": (False, 1, 1), "daaf-trinet-pab-stripes": (False, 6, 1),
            "daaf-trinet-pab-indep": (False, 6, 6), "daaf-trinet-pab-g17": (False, 17, 1)}
    for method, (hab, groups, decoders) in want.items():
        m = models.build(small_cfg(method, g), 4)
        assert (m.hab is not None, m.pab and m.pab.groups, m.pab and len(m.pab.decoders)) == (hab, groups, decoders)
    stripes = models.build(small_cfg("daaf-trinet-pab-stripes", g), 4).train()
    assert stripes(torch.randn(8, 3, 64, 32))["pab"].shape == (8, 18, 64, 32)
    assert not models.needs_pseudo_labels(small_cfg("daaf-trinet-pab-stripes", g))
    assert models.needs_pseudo_labels(small_cfg("daaf-trinet-hab", g))
    with pytest.raises(InputError, match="args.grouping"):
        models.build({**small_cfg("daaf-trinet", g), "args": {"grouping": 5}}, 4)


def test_table_grids_expand_to_their_cells():
    g = grid("paper")
    t2 = g.table_cells("daaf/table2")
    assert len(t2) == 4 * 4 and {c.dataset for c in t2} == {"market1501", "cuhk03-labeled", "cuhk03-detected", "dukemtmc"}
    assert {c.method for c in t2} == {"daaf-trinet-base", "daaf-trinet", "daaf-bot-base", "daaf-bot"}
    sizes = {"daaf/table4": 4, "daaf/table5": 4, "daaf/table6": 5, "daaf/table7": 4}
    for tid, n in sizes.items():
        cells = g.table_cells(tid)
        assert len(cells) == n and {c.dataset for c in cells} == {"market1501"}, tid
        assert len({g.config_digest(c) for c in cells}) == n
    trinet = g.cell_config(Cell("market1501", "daaf-trinet", 0))["train"]
    bot = g.cell_config(Cell("market1501", "daaf-bot", 0))["train"]
    assert (trinet["optimizer"], trinet["lr"], trinet["ids_per_batch"], trinet["imgs_per_id"]) == ("adam", 1e-3, 18, 4)
    assert (bot["last_stride"], bot["lr"], bot["random_erasing"], bot["label_smoothing"]) == (1, 1e-3, 0.5, 0.1)
    for tid in sizes:
        assert tid in g.params["tables"]


def _dot_image(h=40, w=20):
    img = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), bool)
    kps = coco.missing()
    for k, (x, y) in {5: (3, 10), 6: (16, 10), 15: (5, 35)}.items():  # left/right shoulder, left ankle
        img[y - 1:y + 2, x - 1:x + 2] = (255, 40 * k % 255, 0)
        mask[y - 1:y + 2, x - 1:x + 2] = True
        kps[k] = (x, y, 1.0)
    return Image.fromarray(img), mask, kps


def _cached_batch(n: int, h: int = 80, w: int = 40):
    """n copies of the dot image as the cache holds it (bicubic to h x w), with its mask and
    keypoints brought to that size by the training code (data.batches.pose_targets)."""
    from attnreid.data.batches import pose_targets
    from attnreid.pseudo.masks import PackedMasks
    from attnreid.pseudo.store import Labels

    img, mask, kps = _dot_image()
    labels = Labels(["a.jpg"], kps[None], PackedMasks.pack([mask]))
    masks, keypoints = pose_targets(labels, [0] * n, ["a.jpg"] * n, np.array([[img.height, img.width]] * n), h, w)
    raw = torch.from_numpy(np.array(img.resize((w, h), Image.BICUBIC))).expand(n, h, w, 3).contiguous()
    return raw, masks, keypoints


@pytest.mark.parametrize("pad", [0, 6])
def test_batched_augmentation_moves_masks_and_keypoints_with_each_image(pad):
    from attnreid.data.augment import BatchAugment

    cfg = {"flip": 0.5, "pad": pad, "random_erasing": 0.0, "normalize": "imagenet"}
    raw, masks, kps = _cached_batch(32)
    x, m, k = BatchAugment(cfg)(raw, seed=0, epoch=1, batch=2, masks=masks, keypoints=kps)
    assert x.shape == (32, 3, 80, 40) and m.shape == (32, 80, 40) and k.shape == (32, coco.K, 3)
    flipped = k[:, 16, 2] > 0  # the left ankle became the right one
    assert 0 < int(flipped.sum()) < 32
    for b in range(32):
        visible = torch.nonzero(k[b, :, 2]).flatten().tolist()
        assert visible == ([5, 6, 16] if flipped[b] else [5, 6, 15])
        for j in visible:
            xx, yy = (int(round(float(v))) for v in k[b, j, :2])
            if 0 <= xx < 40 and 0 <= yy < 80:
                assert m[b, yy, xx] == 1 and x[b, 0, yy, xx] > 1.5, (b, j)  # the (red) dot and the mask under it
        ankle = float(k[b, 16 if flipped[b] else 15, 0])
        assert (ankle > 20 - pad) if flipped[b] else (ankle < 20 + pad)  # a mirrored left ankle lies on the right
        assert torch.isnan(k[b, 0, :2]).all() and k[b, 0, 2] == 0
    erased = dict(cfg, random_erasing=1.0)
    x2, m2, k2 = BatchAugment(erased)(raw, seed=0, epoch=1, batch=2, masks=masks, keypoints=kps)
    assert torch.equal(m2, m) and torch.equal(k2.nan_to_num(), k.nan_to_num())  # erasing touches the image only
    assert not torch.equal(x2, x)


@pytest.fixture(scope="module")
def synth_with_oracle(tmp_path_factory):
    """A tiny synthreid dataset, its index, and its oracle pseudo-labels."""
    from attnreid.data.datasets import prepare
    from attnreid.data.synthreid import SynthConfig, generate
    from attnreid.pseudo.run import run

    base = tmp_path_factory.mktemp("daaf")
    synth = {"num_train_ids": 3, "num_test_ids": 2, "num_cameras": 2, "cameras_per_id": [2, 2],
             "images_per_id_camera": [2, 2], "num_distractors": 1, "num_junk": 1}
    generate(base / "raw", SynthConfig.from_dict(synth))
    index = base / "prepared" / "index.csv"
    prepare("synth-market", {"kind": "synthreid", "synth": synth}, base / "raw", index)
    g = grid()
    run("synth-market", index, base / "pseudo", g.params["pseudo_labels"])
    return index, base / "pseudo"


def test_training_step_with_both_branches_on_synthreid(synth_with_oracle):
    from attnreid.engine.optim import build_optimizer
    from attnreid.engine.train import train_data

    index, pseudo = synth_with_oracle
    cfg = small_cfg("daaf-trinet")
    data, _, loader, _ = train_data(cfg, str(index), str(pseudo))
    batch = next(iter(loader))
    assert batch["mask"].shape == (8, 64, 32) and batch["keypoints"].shape == (8, coco.K, 3)
    assert 0.05 < float(batch["mask"].mean()) < 0.9 and (batch["keypoints"][..., 2] > 0).any()
    model = models.build(cfg, data.num_classes).train()
    opt = build_optimizer(model, cfg["train"], pretrained=False)
    terms = model.losses(model(batch["img"]), batch)
    assert set(terms) == {"triplet", "hab", "pab"} and all(torch.isfinite(v) for v in terms.values())
    before = model.hab.head.weight.detach().clone()
    opt.zero_grad()
    sum(terms.values()).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    opt.step()
    assert not torch.equal(before, model.hab.head.weight)


def test_models_without_pseudo_labels_get_plain_batches_and_none_backend_is_refused(synth_with_oracle, tmp_path):
    from attnreid.engine.train import train_data

    index, pseudo = synth_with_oracle
    _, _, loader, _ = train_data(small_cfg("daaf-trinet-base"), str(index), None)
    assert set(next(iter(loader))) == {"img", "pid", "camid", "index"}
    (tmp_path / "provenance.json").write_text(json.dumps({"backend": "none"}))
    with pytest.raises(InputError, match=r"^params.yaml: pseudo_labels.backend: none, but methods.daaf-trinet "):
        train_data(small_cfg("daaf-trinet"), str(index), str(tmp_path))
    with pytest.raises(InputError, match="--pseudo"):
        train_data(small_cfg("daaf-trinet"), str(index), None)


def test_branch_figures_draw_on_a_tiny_dataset(synth_with_oracle, tmp_path, monkeypatch, saved_figures):
    """Figs. 7, 8, 9 from the checkpoint of an untrained DAAF-TriNet and oracle pseudo-labels: the panels
    the data given calls for (query picks, PAB's groups), each map in [0, 1]."""
    import shutil

    from attnreid import viz
    from attnreid.engine import checkpoint

    index, pseudo = synth_with_oracle
    monkeypatch.chdir(tmp_path)
    g = grid()
    g.params["seeds"] = [0]
    stand_in = g.stand_in("market1501")
    shutil.copytree(index.parent, tmp_path / g.index(stand_in).rsplit("/", 1)[0])
    shutil.copytree(pseudo, tmp_path / g.pseudo(stand_in))
    cell = Cell(stand_in, "daaf-trinet", 0)
    cfg = small_cfg("daaf-trinet", g)
    checkpoint.save(g.checkpoint(cell), {"digest": g.config_digest(cell), "config": cfg,
                                         "model": models.build(cfg, 3).state_dict(), "meta": {"num_classes": 3}})
    figures = [papers.figure(fid) for fid in ("daaf/fig7", "daaf/fig8", "daaf/fig9")]
    assert all(f.methods == ("daaf-trinet",) and len(f.datasets) == 1 for f in figures)
    for fig in figures:
        viz.draw(fig, g, str(tmp_path / f"{fig.id}.png"))
    masks, heatmaps, shuffle = saved_figures
    picks = min(daaf_masks.NUM_IMAGES, len(index_io.split(index_io.read(g.index(stand_in))[0], "query")))
    groups = len(models.build(cfg, 3).pab.heads)
    assert picks > 1 and groups > 1
    panel_grid(masks, picks, 3)                          # image, pseudo-label mask, HAB's mask
    panel_grid(heatmaps, picks, 1 + groups)              # image with keypoints, one map per group
    panel_grid(shuffle, groups, groups, lambda r, c: True)   # group i's maps through group j's 1x1 conv
