"""Training augmentation on whole batches, as tensor ops on the training device.

Input: uint8 images [B, H, W, 3] already resized (data/cache.py), optionally the pseudo-label
masks [B, H, W] and keypoints [B, 17, 3] at that size. Steps, in the order of the per-image
torchvision chain they replace (Resize, RandomHorizontalFlip, Pad + RandomCrop, ToTensor,
Normalize, RandomErasing):
- flip with probability `flip` (masks flip too; keypoints x -> W - 1 - x and left/right swap names);
- `pad` zero pixels on each side, then a crop at offsets drawn uniformly in [0, 2 * pad] (masks
  and keypoints move with it; a keypoint moved off the crop keeps its coordinates);
- to float and normalised (`imagenet`: ImageNet mean/std; `symmetric`: (x - mean) / 0.5, i.e.
  [-1, 1] zero-centred, SAG's);
- random erasing with probability `random_erasing`, torchvision's RandomErasing with
  value="random": up to 10 attempts of area share U(0.02, 0.33) and aspect exp(U(log 0.3, log 3.3)),
  h = round(sqrt(area * aspect)), w = round(sqrt(area / aspect)), the first with h < H and w < W
  placed uniformly and filled with N(0, 1) noise (in normalised units); the image only.
Every draw comes from a generator seeded by (cell seed, epoch, batch index) (`generator`), so a
batch's augmentation does not depend on the loader's workers or on where a run resumed. The
per-image parameters are drawn on the CPU; the erasing noise on the batch's device (so a CPU and
a CUDA run of one seed draw the same rectangles but different noise). On a GPU each step is one
whole-batch tensor op; on the CPU flip, crop and normalisation are one compiled loop
(data/augment_cpu.py) that reads each byte and writes each float once, or, where it cannot be
built, per-image views copied once as bytes (`geometry_per_image`) then converted (`to_float`);
all three give identical bits (tested).
"""
from __future__ import annotations

import numpy as np
import torch

from attnreid.data import augment_cpu
from attnreid.pseudo import coco

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
NORMALIZE = {"imagenet": (MEAN, STD), "symmetric": (MEAN, (0.5, 0.5, 0.5))}
ERASE_SCALE, ERASE_RATIO, ERASE_ATTEMPTS = (0.02, 0.33), (0.3, 3.3), 10


def _swap_side(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


FLIP_ORDER = np.array([coco.NAMES.index(_swap_side(n)) for n in coco.NAMES])  # keypoint k of a mirrored image


def seed_of(seed: int, epoch: int, batch: int) -> int:
    """A 63-bit seed from (cell seed, epoch, batch index)."""
    return int(np.random.SeedSequence([seed, epoch, batch]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def generator(seed: int, epoch: int, batch: int, device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed_of(seed, epoch, batch))


def normalize(images: torch.Tensor, how: str) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float [B, 3, H, W] normalised. On the CPU NCHW-contiguous (the bytes
    are transposed first, then converted along rows); elsewhere a channels_last view (the layout of
    the uint8 rows), `.contiguous()` gives NCHW."""
    chw = images.permute(0, 3, 1, 2)
    return to_float(chw.contiguous() if images.device.type == "cpu" else chw, how)


def scale_shift(how: str, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """float32 [3, 1, 1] each: normalised = pixel * scale - shift, i.e. (pixel / 255 - mean) / std.
    Made on the CPU and copied without a host sync (`torch.tensor(..., device=...)` waits)."""
    mean, std = (torch.tensor(v, dtype=torch.float32) for v in NORMALIZE[how])
    return tuple(t[:, None, None].to(device, non_blocking=True) for t in (1.0 / (255.0 * std), mean / std))


def to_float(chw: torch.Tensor, how: str) -> torch.Tensor:
    """uint8 [B, 3, H, W] -> float32 in the same memory layout, (x / 255 - mean) / std: a
    conversion, then an in-place scale and shift (a fused op with a uint8 input is ~3x slower on
    the CPU). On the CPU image by image, so that the scale and shift find the image still in the
    core's cache and the batch's float array crosses memory once (bench_engine.py: +10-15%)."""
    scale, shift = scale_shift(how, chw.device)
    if chw.device.type != "cpu":
        return chw.to(torch.float32).mul_(scale).sub_(shift)
    x = torch.empty_like(chw, dtype=torch.float32)
    for xi, ci in zip(x, chw):
        xi.copy_(ci).mul_(scale).sub_(shift)
    return x


def flip(images, masks, keypoints, which: torch.Tensor, width: int):
    """Mirror the images (and masks, keypoints; any may be None) where `which` [B] bool is set."""
    if images is not None:
        images = torch.where(which.to(images.device)[:, None, None, None], images.flip(2), images)
    if masks is not None:
        masks = torch.where(which.to(masks.device)[:, None, None], masks.flip(2), masks)
    if keypoints is not None:
        mirrored = keypoints[:, torch.as_tensor(FLIP_ORDER).to(keypoints.device, non_blocking=True)].clone()
        mirrored[..., 0] = width - 1 - mirrored[..., 0]
        keypoints = torch.where(which.to(keypoints.device)[:, None, None], mirrored, keypoints)
    return images, masks, keypoints


def pad_crop(images, masks, keypoints, pad: int, top: torch.Tensor, left: torch.Tensor):
    """Zero-pad by `pad` and crop back to [H, W] at (top, left) in the padded image, as one gather
    (images [B, H, W, 3], masks [B, H, W]; any may be None)."""
    ref = images if images is not None else masks
    if ref is not None:
        b, h, w = ref.shape[:3]
        dev = ref.device
        t, l = top.to(dev), left.to(dev)
        rows = t[:, None] - pad + torch.arange(h, device=dev)  # source row of each output row
        cols = l[:, None] - pad + torch.arange(w, device=dev)
        inside = (((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :])
        bi = torch.arange(b, device=dev)[:, None, None]
        r, c = rows.clamp(0, h - 1)[:, :, None], cols.clamp(0, w - 1)[:, None, :]
        if images is not None:
            images = images[bi, r, c] * inside[..., None].to(images.dtype)
        if masks is not None:
            masks = masks[bi, r, c] * inside.to(masks.dtype)
    if keypoints is not None:
        keypoints = keypoints.clone()
        keypoints[..., 0] += (pad - left).to(keypoints)[:, None]
        keypoints[..., 1] += (pad - top).to(keypoints)[:, None]
    return images, masks, keypoints


def geometry_per_image(images: torch.Tensor, masks, which: torch.Tensor, pad: int, top: torch.Tensor,
                       left: torch.Tensor):
    """The CPU's path: flip and crop of each image (and mask; may be None) as numpy views, copied
    once into a uint8 NCHW batch ([B, H, W] for masks) -- the pixels of flip + pad_crop (tested),
    without the whole-batch gathers, which pay off on a GPU only. The bytes are moved before the
    float conversion, so the batch's float array is written once (to_float)."""
    b, h, w, _ = images.shape
    zeros_or_empty = np.zeros if pad else np.empty
    src, out = images.numpy(), zeros_or_empty((b, 3, h, w), np.uint8)
    src_m, out_m = (None, None) if masks is None else (masks.numpy(), zeros_or_empty((b, h, w), np.uint8))
    for i, f in enumerate(which.tolist()):
        t, l = (int(top[i]) - pad, int(left[i]) - pad) if pad else (0, 0)  # output (r, c) shows source (r + t, c + l)
        r0, r1, c0, c1 = max(0, -t), min(h, h - t), max(0, -l), min(w, w - l)
        view = lambda a: (a[..., ::-1] if f else a)[..., r0 + t:r1 + t, c0 + l:c1 + l]
        out[i, :, r0:r1, c0:c1] = view(src[i].transpose(2, 0, 1))
        if out_m is not None:
            out_m[i, r0:r1, c0:c1] = view(src_m[i])
    return torch.from_numpy(out), None if out_m is None else torch.from_numpy(out_m).to(masks.dtype)


def erasing_boxes(n: int, h: int, w: int, p: float, gen: torch.Generator) -> torch.Tensor:
    """[n, 4] int64 (top, left, height, width) of each image's erased rectangle, height 0 for none:
    torchvision RandomErasing's draws (see the module docstring), batched."""
    erase = torch.rand(n, generator=gen) < p
    area = h * w * torch.empty(n, ERASE_ATTEMPTS).uniform_(*ERASE_SCALE, generator=gen).double()
    log_r = torch.log(torch.tensor(ERASE_RATIO))
    aspect = torch.exp(torch.empty(n, ERASE_ATTEMPTS).uniform_(float(log_r[0]), float(log_r[1]), generator=gen)).double()
    eh, ew = torch.round(torch.sqrt(area * aspect)).long(), torch.round(torch.sqrt(area / aspect)).long()
    ok = (eh < h) & (ew < w)
    first = ok.long().argmax(1)
    eh, ew = eh.gather(1, first[:, None])[:, 0], ew.gather(1, first[:, None])[:, 0]
    u = torch.rand(n, 2, generator=gen)
    top = (u[:, 0] * (h - eh + 1)).long().clamp(max=h - eh)
    left = (u[:, 1] * (w - ew + 1)).long().clamp(max=w - ew)
    keep = erase & ok.any(1)
    return torch.stack([top, left, torch.where(keep, eh, 0), torch.where(keep, ew, 0)], 1)


def box_noise(boxes: torch.Tensor, channels: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The CPU's erasing noise, flat: each box's [channels, h, w] N(0, 1) draw in turn, and where
    each box's starts."""
    draws = [torch.randn((channels, h, w), generator=gen).flatten() for _, _, h, w in boxes.tolist() if h]
    sizes = channels * boxes[:, 2] * boxes[:, 3]
    return (torch.cat(draws) if draws else torch.empty(0)), torch.cumsum(sizes, 0) - sizes


def erase(x: torch.Tensor, boxes: torch.Tensor, noise_gen: torch.Generator) -> torch.Tensor:
    """Fill each image's box of `x` [B, C, H, W] with N(0, 1) noise. On the CPU box by box from
    `box_noise` (noise only where erased); elsewhere one masked select over a full noise tensor
    (no host sync)."""
    if x.device.type == "cpu":
        noise, starts = box_noise(boxes, x.shape[1], noise_gen)
        for b, ((i, j, h, w), at) in enumerate(zip(boxes.tolist(), starts.tolist())):
            if h:
                x[b, :, i:i + h, j:j + w] = noise[at:at + x.shape[1] * h * w].view(x.shape[1], h, w)
        return x
    top, left, h, w = boxes.to(x.device, non_blocking=True).unbind(1)
    r, c = torch.arange(x.shape[2], device=x.device), torch.arange(x.shape[3], device=x.device)
    inside = (((r[None] >= top[:, None]) & (r[None] < (top + h)[:, None]))[:, :, None]
              & ((c[None] >= left[:, None]) & (c[None] < (left + w)[:, None]))[:, None, :])
    noise = torch.randn(x.shape, generator=noise_gen, device=x.device, dtype=x.dtype)
    return torch.where(inside[:, None], noise, x)


class BatchAugment:
    """A cell's training augmentation (its `train` section: flip, pad, random_erasing, normalize)."""

    def __init__(self, cfg: dict):
        self.flip, self.pad, self.p_erase, self.normalize = cfg["flip"], cfg["pad"], cfg["random_erasing"], cfg["normalize"]

    def __call__(self, images: torch.Tensor, seed: int, epoch: int, batch: int, masks=None, keypoints=None,
                 out: torch.Tensor | None = None, rows: torch.Tensor | None = None):
        """uint8 [B, H, W, 3] (+ masks [B, H, W], keypoints [B, 17, 3]) -> (float [B, 3, H, W],
        masks, keypoints), drawn from generator(seed, epoch, batch). On a GPU the images go through
        whole-batch gathers and come out in channels_last layout; on the CPU through the compiled
        loop of data/augment_cpu.py (or, where it cannot be built, per-image views), NCHW, written
        into `out` when it is given and has the batch's shape. `rows` (CPU): the batch is these rows
        of `images` (the whole cache), read in place."""
        gen = generator(seed, epoch, batch)
        if rows is not None and not augment_cpu.available():
            images, rows = images[rows], None
        b, (h, w) = (images.shape[0] if rows is None else len(rows)), images.shape[1:3]
        which = torch.rand(b, generator=gen) < self.flip if self.flip > 0 else torch.zeros(b, dtype=torch.bool)
        top, left = (torch.randint(0, 2 * self.pad + 1, (2, b), generator=gen) if self.pad > 0
                     else torch.full((2, b), 0))
        if images.device.type != "cpu":  # copied without waiting for the device's queue (no host sync)
            which, top, left = (t.to(images.device, non_blocking=True) for t in (which, top, left))
        if self.flip > 0:
            keypoints = flip(None, None, keypoints, which, w)[2]
        if self.pad > 0:
            keypoints = pad_crop(None, None, keypoints, self.pad, top, left)[2]
        boxes = erasing_boxes(b, h, w, self.p_erase, gen) if self.p_erase > 0 else None
        if images.device.type == "cpu" and augment_cpu.available():
            scale, shift = (v.flatten().tolist() for v in scale_shift(self.normalize))
            noise = (None, None) if boxes is None else box_noise(boxes, 3, gen)
            x, masks = augment_cpu.augment(images, rows, masks, which, self.pad, top, left, scale, shift, boxes,
                                           *noise, out)
            return x, masks, keypoints
        if images.device.type == "cpu":
            chw, masks = geometry_per_image(images, masks, which, self.pad, top, left)
            x = to_float(chw, self.normalize)
        else:
            if self.flip > 0:
                images, masks, _ = flip(images, masks, None, which, w)
            if self.pad > 0:
                images, masks, _ = pad_crop(images, masks, None, self.pad, top, left)
            x = normalize(images, self.normalize)
        if boxes is not None:
            x = erase(x, boxes, gen if images.device.type == "cpu" else generator(seed, epoch, batch, images.device))
        return x, masks, keypoints
