"""Training batches from the decoded images: gather a batch's rows, move them, augment them.

One epoch's batches are the sampler's (a function of (seed, epoch)); batch b is gathered from
the image cache (data/cache.py), moved to the training device and augmented there
(data/augment.py) with draws seeded by (seed, epoch, b); on the CPU without loader workers the
augmentation reads the batch's rows in the cache itself (data/augment_cpu.py). Loader workers
(`train.workers`) only gather uint8 rows from the memory-mapped cache into pinned memory; they draw
nothing, so a run is the same for any number of workers and a resumed epoch continues exactly. On CUDA the whole cache
goes to the GPU when it takes under half the free memory (then no worker is needed).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image

from attnreid.data.augment import BatchAugment
from attnreid.errors import InputError

GPU_SHARE = 0.5  # the most of the free GPU memory the image cache may take


def pose_targets(labels, label_rows, paths, sizes: np.ndarray, height: int, width: int):
    """Pseudo-label masks (uint8 [N, H, W], nearest resize) and keypoints (float [N, 17, 3], pixel
    centres scaled: x' = (x + 0.5) * W / w - 0.5) of images of original `sizes` [N, 2] at the input size."""
    masks = np.empty((len(label_rows), height, width), np.uint8)
    kps = np.array(labels.keypoints[label_rows], dtype=np.float32, copy=True)
    for n, (r, (h0, w0)) in enumerate(zip(label_rows, sizes.tolist())):
        m = labels.masks[r]
        if m.shape != (h0, w0):
            raise InputError(f"masks.npz: the mask of {paths[n]} is {m.shape}, its image {(h0, w0)}")
        masks[n] = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((width, height), Image.NEAREST)) > 127
        kps[n, :, 0] = (kps[n, :, 0] + 0.5) * width / w0 - 0.5
        kps[n, :, 1] = (kps[n, :, 1] + 0.5) * height / h0 - 0.5
    return torch.from_numpy(masks), torch.from_numpy(kps)


class _Rows(torch.utils.data.Dataset):
    """Item i = the uint8 rows of one batch (a list of dataset indices), for loader workers."""

    def __init__(self, images: np.ndarray, rows: np.ndarray):
        self.images, self.rows = images, rows

    def __getitem__(self, idx: list[int]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.images[self.rows[idx]]))


class TrainBatches:
    """Batches of one training split: dicts img (float [B, 3, H, W]), pid, camid, index (and
    mask, keypoints with pseudo-labels), on `dev`. `images` is the cache array, `rows` the cache
    row of each dataset item; `pose` the (masks, keypoints) of each item or None."""

    def __init__(self, images: np.ndarray, rows: np.ndarray, pids: torch.Tensor, camids: torch.Tensor, sampler,
                 cfg: dict, seed: int, dev: torch.device, pose=None):
        self.sampler, self.seed, self.dev, self.workers = sampler, seed, torch.device(dev), cfg["workers"]
        self.augment = BatchAugment(cfg)
        self.pids, self.camids = pids.to(self.dev), camids.to(self.dev)
        self.pose = None if pose is None else tuple(t.to(self.dev) for t in pose)
        self.on_device = self.dev.type == "cuda" and images.nbytes < GPU_SHARE * torch.cuda.mem_get_info(self.dev)[0]
        if self.on_device:
            self.images = torch.from_numpy(np.ascontiguousarray(images[np.unique(rows)])).to(self.dev)
            self.rows = torch.as_tensor(np.searchsorted(np.unique(rows), rows), device=self.dev)
        else:
            self.images, self.rows = images, rows
        self.in_place = self.dev.type == "cpu" and not self.workers  # augmentation reads rows in the cache
        if self.in_place:
            with warnings.catch_warnings():  # a read-only memory map: the augmentation only reads it
                warnings.simplefilter("ignore", UserWarning)
                self.cache = torch.from_numpy(np.asarray(images))
        self._images_out, self._turn = [None, None], 0  # epoch(overwrite=True)'s two arrays

    def __len__(self) -> int:
        return len(self.sampler)

    def _raw(self, order: list[list[int]]):
        """uint8 rows of each batch of `order`, on the device."""
        if self.on_device:
            for idx in order:
                yield self.images[self.rows[self._index(idx)]]
            return
        cuda = self.dev.type == "cuda"
        if self.workers:
            loader = torch.utils.data.DataLoader(_Rows(self.images, self.rows), sampler=order, batch_size=None,
                                                 num_workers=self.workers, pin_memory=cuda,
                                                 generator=torch.Generator())  # leaves torch's global RNG alone
            for raw in loader:
                yield raw.to(self.dev, non_blocking=True)
            return
        for idx in order:
            raw = _Rows(self.images, self.rows)[idx]
            yield (raw.pin_memory() if cuda else raw).to(self.dev, non_blocking=True)

    def _order(self, epoch: int, start: int) -> list[list[int]]:
        self.sampler.set_epoch(epoch)
        return list(self.sampler)[start:]

    def raw_epoch(self, epoch: int, start: int = 0):
        """(batch index, dataset indices, uint8 rows on the device) of an epoch from batch `start` on:
        the epoch before augmentation (all the host does when the cell trains on a GPU)."""
        order = self._order(epoch, start)
        yield from zip(range(start, start + len(order)), order, self._raw(order))

    def epoch(self, epoch: int, start: int = 0, overwrite: bool = False):
        """(batch index, batch) of an epoch from batch `start` on. `overwrite`: on the CPU the batches'
        images take turns in two arrays, so a batch's are overwritten when the batch after next is
        drawn -- for the training loop, which holds one batch at a time: a fresh float array per
        batch costs more in page faults than its augmentation (benchmarks/RESULTS.md). Off, every
        batch is new."""
        turns = overwrite and self.dev.type == "cpu"
        if self.in_place:
            batches = ((b, idx, None) for b, idx in enumerate(self._order(epoch, start), start))
        else:
            batches = self.raw_epoch(epoch, start)
        for b, idx, raw in batches:
            slot = self._turn
            batch = self.batch(raw, idx, epoch, b, self._images_out[slot] if turns else None)
            if turns:
                self._images_out[slot], self._turn = batch["img"], 1 - slot
            yield b, batch

    def _index(self, idx: list[int]) -> torch.Tensor:
        """`idx` as a tensor on the device, copied without a host sync (`torch.as_tensor(idx,
        device=...)` waits for the device's queue to drain)."""
        return torch.as_tensor(idx).to(self.dev, non_blocking=True)

    def batch(self, raw: torch.Tensor | None, idx: list[int], epoch: int, b: int,
              out: torch.Tensor | None = None) -> dict:
        """Batch b of an epoch from its uint8 rows (`raw`; None: read in place from the cache, CPU
        without loader workers); its images written into `out` when given (CPU)."""
        i = self._index(idx)
        masks, kps = (None, None) if self.pose is None else (self.pose[0][i], self.pose[1][i])
        images, rows = (self.cache, torch.as_tensor(self.rows[idx])) if raw is None else (raw, None)
        img, masks, kps = self.augment(images, self.seed, epoch, b, masks, kps, out, rows)
        out = {"img": img, "pid": self.pids[i], "camid": self.camids[i], "index": i}
        if self.pose is not None:
            out.update(mask=masks.float(), keypoints=kps)
        return out

    def __iter__(self):
        return (batch for _, batch in self.epoch(self.sampler.epoch))
