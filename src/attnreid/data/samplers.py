"""Batch samplers: P identities x K images (batch-hard triplet training) and plain random.

Both draw from a numpy Generator seeded by (seed, epoch), so an epoch's order is reproducible
and a resumed run sees the same batches as an uninterrupted one.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np


class PKSampler:
    """Each epoch: every identity's images shuffled into chunks of K (repeating when fewer than K),
    chunks of P distinct identities form a batch. Yields lists of dataset indices."""

    def __init__(self, pids, p: int, k: int, seed: int):
        self.p, self.k, self.seed, self.epoch = p, k, seed, 0
        by_pid = defaultdict(list)
        for i, pid in enumerate(pids):
            by_pid[int(pid)].append(i)
        self.by_pid = dict(sorted(by_pid.items()))
        if len(self.by_pid) < p:
            raise ValueError(f"P={p} identities per batch but only {len(self.by_pid)} identities")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        chunks = {}
        for pid, idx in self.by_pid.items():
            idx = np.array(idx)
            if len(idx) < self.k:
                idx = rng.choice(idx, self.k, replace=True)
            idx = rng.permutation(idx)
            n = len(idx) // self.k
            chunks[pid] = [idx[i * self.k:(i + 1) * self.k].tolist() for i in range(n)]
        batches = []
        while len(chunks) >= self.p:
            chosen = rng.choice(sorted(chunks), self.p, replace=False)
            batch = []
            for pid in chosen:
                batch += chunks[pid].pop()
                if not chunks[pid]:
                    del chunks[pid]
            batches.append(batch)
        return batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


class RandomBatchSampler:
    """Shuffled fixed-size batches (the last incomplete one dropped)."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        for i in range(len(self)):
            yield order[i * self.batch_size:(i + 1) * self.batch_size].tolist()

    def __len__(self) -> int:
        return self.n // self.batch_size


def build(cfg: dict, pids, seed: int):
    if cfg["sampler"] == "pk":
        return PKSampler(pids, cfg["ids_per_batch"], cfg["imgs_per_id"], seed)
    return RandomBatchSampler(len(pids), cfg["batch_size"], seed)
