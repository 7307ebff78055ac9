"""torch Dataset over one split of an index, one image at a time (the figures' few images;
training, validation and extraction read the decoded cache, data/cache.py)."""
from __future__ import annotations

import pandas as pd
import torch
from PIL import Image

from attnreid.errors import InputError


class ReIDImages(torch.utils.data.Dataset):
    """Items are dicts: img (`transform` of the image), pid (relabelled 0..N-1 when `relabel`), camid, index."""

    def __init__(self, df: pd.DataFrame, transform, relabel: bool = False):
        self.df = df.reset_index(drop=True)
        self.transform = transform
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
        return {"img": self.transform(img), "pid": self.pids[i], "camid": self.camids[i], "index": i}
