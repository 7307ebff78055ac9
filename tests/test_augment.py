"""Batched augmentation (data/augment.py) against torchvision's per-image transforms it replaces:
the same flip rate, crop offsets, erasing rate, box sizes, positions and values; draws are a
function of (seed, epoch, batch); the cache holds the pixels torchvision's Resize makes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats
from torchvision import transforms as T

from attnreid.data import augment, augment_cpu
from attnreid.data.augment import BatchAugment

pytestmark = pytest.mark.usefixtures("one_thread")

H, W, N = 64, 32, 4000


def cfg(**kw) -> dict:
    return {"flip": 0.0, "pad": 0, "random_erasing": 0.0, "normalize": "imagenet", **kw}


def ramp(n: int) -> torch.Tensor:
    """n images whose pixel value is its column (0..W-1): the flip and crop read back from it."""
    cols = torch.arange(W, dtype=torch.uint8) + 1
    return cols[None, None, :, None].expand(n, H, W, 3).contiguous()


def test_flip_rate_and_crop_offsets_match_the_per_image_transforms():
    x, _, _ = BatchAugment(cfg(flip=0.5))(ramp(N), seed=0, epoch=0, batch=0)
    first = x[:, 0, 0, 0]
    flipped = (first != first.min()).float()  # column W-1 first
    torch.manual_seed(0)
    per_image = T.RandomHorizontalFlip(0.5)
    ref = [per_image(torch.arange(2.0)[None])[0, 0] == 1 for _ in range(N)]
    assert abs(flipped.mean() - 0.5) < 0.03 and abs(float(np.mean(ref)) - float(flipped.mean())) < 0.04

    pad = 4
    raw = ramp(N)
    x, _, _ = BatchAugment(cfg(pad=pad))(raw, seed=0, epoch=0, batch=1)
    # pixel value = source column + 1, 0 in the zero padding: the first non-padding output column z
    # shows source column v - 1, so the crop's left offset in the padded image is pad + v - 1 - z
    vals = torch.round((x[:, 0, H // 2] * 0.229 + 0.485) * 255).long()
    z = (vals > 0).long().argmax(1)
    offsets = pad + vals.gather(1, z[:, None])[:, 0] - 1 - z
    torch.manual_seed(0)
    padded = torch.zeros(1, H + 2 * pad, W + 2 * pad)
    ref = [T.RandomCrop.get_params(padded, (H, W))[1] for _ in range(N)]
    assert sorted(set(offsets.tolist())) == sorted(set(ref)) == list(range(2 * pad + 1))
    counts = np.bincount(offsets.numpy(), minlength=2 * pad + 1)
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform, as RandomCrop


def _torchvision_boxes(n: int, p: float):
    """(erased?, h, w, top, left) of torchvision's RandomErasing(p, value='random') on n images."""
    torch.manual_seed(0)
    er = T.RandomErasing(p=p, value="random")
    img = torch.zeros(3, H, W)
    out = []
    for _ in range(n):
        if torch.rand(1) < er.p:
            i, j, h, w, _ = er.get_params(img, er.scale, er.ratio, None)
            out.append((h < H, h, w, i, j))
        else:
            out.append((False, 0, 0, 0, 0))
    return np.array(out, dtype=float)


def test_erasing_boxes_have_torchvisions_distributions():
    ours = augment.erasing_boxes(N, H, W, 0.5, augment.generator(0, 0, 0)).numpy()
    ref = _torchvision_boxes(N, 0.5)
    on, ref_on = ours[:, 2] > 0, ref[:, 0] > 0
    assert abs(on.mean() - ref_on.mean()) < 0.04 and abs(on.mean() - 0.5) < 0.04
    top, left, h, w = ours[on].T
    area = h * w / (H * W)
    assert area.min() >= 0.015 and area.max() <= 0.35 and (h < H).all() and (w < W).all()
    aspect = h / w
    assert aspect.min() >= 0.25 and aspect.max() <= 3.6
    assert (top + h <= H).all() and (left + w <= W).all() and top.min() == 0 and left.min() == 0
    for ours_v, ref_v in ((h, ref[ref_on, 1]), (w, ref[ref_on, 2]), (top, ref[ref_on, 3]), (left, ref[ref_on, 4])):
        assert stats.ks_2samp(ours_v, ref_v).pvalue > 1e-3


def test_erased_values_are_standard_normal_and_only_inside_the_box():
    raw = torch.full((64, H, W, 3), 128, dtype=torch.uint8)
    aug = BatchAugment(cfg(random_erasing=1.0))
    x, _, _ = aug(raw, seed=3, epoch=0, batch=0)
    boxes = augment.erasing_boxes(64, H, W, 1.0, augment.generator(3, 0, 0))
    plain = augment.normalize(raw[:1], "imagenet")[0]
    inside = torch.zeros(64, H, W, dtype=torch.bool)
    for b, (i, j, h, w) in enumerate(boxes.tolist()):
        inside[b, i:i + h, j:j + w] = True
    vals = x.permute(0, 2, 3, 1)[inside]
    assert torch.equal(x.permute(0, 2, 3, 1)[~inside], plain.permute(1, 2, 0).expand(64, H, W, 3)[~inside])
    assert abs(float(vals.mean())) < 0.02 and abs(float(vals.std()) - 1) < 0.02
    assert stats.kstest(vals.flatten()[:5000].numpy(), "norm").pvalue > 1e-3


def test_draws_are_a_function_of_seed_epoch_and_batch():
    aug = BatchAugment(cfg(flip=0.5, pad=4, random_erasing=0.5))
    raw = torch.randint(0, 255, (16, H, W, 3), dtype=torch.uint8)
    a, b = aug(raw, 0, 1, 2)[0], aug(raw, 0, 1, 2)[0]
    assert torch.equal(a, b)
    for other in ((1, 1, 2), (0, 2, 2), (0, 1, 3)):
        assert not torch.equal(a, aug(raw, *other)[0]), other


@pytest.mark.parametrize("how", ["imagenet", "symmetric"])
def test_normalisation_matches_to_tensor_and_normalize(how):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8))
    want = T.Compose([T.ToTensor(), T.Normalize(*augment.NORMALIZE[how])])(img)
    got = augment.normalize(torch.from_numpy(np.array(img))[None], how)
    assert torch.allclose(got[0], want, atol=1e-5) and got.is_contiguous()  # NCHW on the CPU


@pytest.mark.parametrize("pad", [0, 5])
def test_the_cpu_per_image_path_equals_the_whole_batch_path(pad):
    raw = torch.randint(0, 256, (12, H, W, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    masks = torch.randint(0, 2, (12, H, W), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    which = torch.arange(12) % 3 == 0
    top, left = torch.randint(0, 2 * pad + 1, (2, 12), generator=torch.Generator().manual_seed(2))
    imgs, want_m, _ = augment.flip(raw, masks, None, which, W)
    if pad:
        imgs, want_m, _ = augment.pad_crop(imgs, want_m, None, pad, top, left)
    chw, got_m = augment.geometry_per_image(raw, masks, which, pad, top, left)
    assert torch.equal(chw, imgs.permute(0, 3, 1, 2)) and torch.equal(got_m, want_m)
    assert torch.equal(augment.geometry_per_image(raw, None, which, pad, top, left)[0], chw)
    for how in ("imagenet", "symmetric"):
        want = augment.normalize(imgs, how)
        assert torch.allclose(augment.to_float(chw, how), want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pad", [0, 5])
def test_the_compiled_cpu_loop_equals_the_eager_path_bit_for_bit(pad):
    if not augment_cpu.available():
        pytest.skip(f"compiled CPU augmentation: {augment_cpu.backend()}")
    g = torch.Generator().manual_seed(4)
    cache = torch.randint(0, 256, (20, H, W, 3), dtype=torch.uint8, generator=g)
    rows = torch.randperm(20, generator=g)[:12]
    masks = torch.randint(0, 2, (12, H, W), dtype=torch.uint8, generator=g)
    which = torch.arange(12) % 3 == 0
    top, left = torch.randint(0, 2 * pad + 1, (2, 12), generator=g)
    boxes = augment.erasing_boxes(12, H, W, 0.7, g)
    chw, want_m = augment.geometry_per_image(cache[rows], masks, which, pad, top, left)
    for how in ("imagenet", "symmetric"):
        scale, shift = (v.flatten().tolist() for v in augment.scale_shift(how))
        want = augment.to_float(chw, how)
        out = torch.full((12, 3, H, W), float("nan"))
        got, got_m = augment_cpu.augment(cache, rows, masks, which, pad, top, left, scale, shift, out=out)
        assert got is out and torch.equal(got, want) and torch.equal(got_m, want_m)
        erased, none = augment_cpu.augment(cache[rows], None, None, which, pad, top, left, scale, shift, boxes,
                                           *augment.box_noise(boxes, 3, torch.Generator().manual_seed(9)))
        assert none is None and torch.equal(erased, augment.erase(want, boxes, torch.Generator().manual_seed(9)))


def test_without_a_compiler_the_eager_path_gives_the_same_batch(monkeypatch):
    aug = BatchAugment(cfg(flip=0.5, pad=4, random_erasing=0.5))
    cache = torch.randint(0, 256, (24, H, W, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))
    rows = torch.randperm(24, generator=torch.Generator().manual_seed(7))[:16]
    masks = torch.randint(0, 2, (16, H, W), dtype=torch.uint8, generator=torch.Generator().manual_seed(6))
    x, m, _ = aug(cache, 0, 1, 2, masks, rows=rows)
    monkeypatch.setattr(augment_cpu, "_kernel", lambda: "CalledProcessError: no compiler")
    assert augment_cpu.backend() == "eager (CalledProcessError: no compiler)"
    for x_eager, m_eager, _ in (aug(cache, 0, 1, 2, masks, rows=rows), aug(cache[rows], 0, 1, 2, masks)):
        assert torch.equal(x, x_eager) and torch.equal(m, m_eager)


class FixedOrder:
    """A batch sampler stand-in: the same batches every epoch."""

    def __init__(self, batches):
        self.batches, self.epoch = batches, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


def test_overwriting_batches_take_turns_in_two_arrays_and_hold_the_same_pixels():
    from attnreid.data.batches import TrainBatches

    images = np.random.default_rng(0).integers(0, 256, (16, H, W, 3), dtype=np.uint8)
    order = FixedOrder([list(range(i, i + 4)) for i in range(0, 16, 4)])
    ids = torch.zeros(16, dtype=torch.long)
    batches = TrainBatches(images, np.arange(16), ids, ids, order, cfg(flip=0.5, pad=2, random_erasing=0.5, workers=0),
                           0, torch.device("cpu"))
    fresh = [batch["img"] for _, batch in batches.epoch(3)]
    held = []
    for b, batch in batches.epoch(3, overwrite=True):
        assert torch.equal(batch["img"], fresh[b])  # batch b is intact until batch b + 2 is drawn
        held.append(batch["img"])
    if augment_cpu.available():  # the eager path makes a new array each time
        assert held[0] is held[2] and held[1] is held[3] and held[0] is not held[1]
        assert not torch.equal(held[0], fresh[0])  # overwritten by batch 2, as documented


def test_a_build_killed_midway_leaves_no_lock_that_stalls_the_next(tmp_path, monkeypatch):
    # torch's JIT builder waits for ever while its lock file exists; a killed build leaves it behind
    from torch.utils import cpp_extension

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    build = augment_cpu.build_directory()
    build.mkdir(parents=True)
    (build / "lock").touch()
    seen = []
    monkeypatch.setattr(cpp_extension, "load_inline", lambda name, build_directory, **kw:
                        seen.append((name, (Path(build_directory) / "lock").exists())) or "module")
    assert augment_cpu._kernel.__wrapped__() == "module" and seen == [(build.name, False)]
