"""The `prepare` stage: any dataset kind -> the common index (see attnreid.data.index)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from attnreid.data import index, market
from attnreid.errors import InputError

READERS = {"synthreid": market.scan, "market1501": market.scan}


def check_images(root: Path, paths) -> None:
    """Every image must decode; the first that does not stops the run, named."""
    for rel in tqdm(paths, desc="checking images", leave=False, mininterval=2):
        try:
            with Image.open(root / rel) as im:
                im.load()
        except (OSError, UnidentifiedImageError, SyntaxError):
            raise InputError(f"{root / rel}: unreadable or corrupt image") from None


def prepare(name: str, cfg: dict, root: str | Path, out_csv: str | Path) -> dict:
    """Scan `root` with the reader of cfg['kind'], check it, write the index; return its meta."""
    kind = cfg["kind"]
    if kind not in READERS:
        raise InputError(f"params.yaml: datasets.{name}.kind: unknown dataset kind '{kind}'")
    root = Path(root)
    df = READERS[kind](root)
    empty = [pid for pid, n in df[df.split == "train"].groupby("pid").size().items() if n == 0]
    if empty:
        raise InputError(f"{root}: identities with no training image: {empty[:5]}")
    check_images(root, df.path)
    meta = {"dataset": name, "kind": kind, "root": str(root)}
    if (root / "annotations").is_dir():
        meta["annotations"] = "annotations"
    return index.write(df, meta, out_csv)
