"""torch Dataset over one split of an index."""
from __future__ import annotations

import pandas as pd
import torch
from PIL import Image

from attnreid.errors import InputError


class ReIDImages(torch.utils.data.Dataset):
    """Items are dicts: img, pid (relabelled 0..N-1 when `relabel`), camid, index; with `pseudo`
    (pseudo.store.Labels covering every row's path) also mask [H, W] and keypoints [17, 3], and
    `transform` is then called as transform(image, mask, keypoints) (data.transforms.PoseTrainTransform)."""

    def __init__(self, df: pd.DataFrame, transform, relabel: bool = False, pseudo=None):
        self.df = df.reset_index(drop=True)
        self.transform = transform
        self.pseudo, self.pseudo_rows = pseudo, None
        if pseudo is not None:
            row = {p: i for i, p in enumerate(pseudo.paths)}
            absent = [p for p in self.df.path if p not in row]
            if absent:
                raise InputError(f"keypoints.csv: no pseudo-labels for {absent[0]} ({len(absent)} images)")
            self.pseudo_rows = [row[p] for p in self.df.path]
        pids = self.df.pid.to_numpy().copy()
        if relabel:
            mapping = {p: i for i, p in enumerate(sorted(set(pids.tolist())))}
            pids = [mapping[p] for p in pids]
        self.pids = torch.as_tensor(pids, dtype=torch.long)
        self.camids = torch.as_tensor(self.df.camid.to_numpy().copy(), dtype=torch.long)

    @property
    def num_classes(self) -> int:
        return int(self.pids.max()) + 1

    def __len__(self) -> int:
        return len(self.df)

    def __getitem__(self, i: int) -> dict:
        path = self.df.abspath[i]
        try:
            with Image.open(path) as im:
                img = im.convert("RGB")
        except OSError:
            raise InputError(f"{path}: unreadable or corrupt image") from None
        item = {"pid": self.pids[i], "camid": self.camids[i], "index": i}
        if self.pseudo is None:
            return {"img": self.transform(img), **item}
        r = self.pseudo_rows[i]
        mask = self.pseudo.masks[r]
        if mask.shape != (img.height, img.width):
            raise InputError(f"masks.npz: the mask of {self.df.path[i]} is {mask.shape}, its image {(img.height, img.width)}")
        img, mask, kps = self.transform(img, mask, self.pseudo.keypoints[r])
        return {"img": img, **item, "mask": mask, "keypoints": kps}
