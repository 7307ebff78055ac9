"""How close each model's spatial attention is to its CAM on test images (beyond the CAM-guided
paper, which only shows examples): the paper's attention loss, Eq. (5), per image (the model's
`attention_mse`, models/camguided.py: CAM of the top-1 class, since test identities have no class),
averaged over cam_spread's test images, mean ± std over seeds, as bars and a table. A model trained
without the loss (the Baseline) shows what the supervision changes. Reads checkpoints and the index.
"""
from __future__ import annotations

import torch

from attnreid.errors import InputError
from attnreid.viz.cam_spread import measure_by_model, plot

MEASURES = (("mse", "MSE(CAM, A_s)"),)
STAGE = 4  # the CAM and A_s are of the stage-4 map


@torch.no_grad()
def mean_attention_mse(model, data, dev, batch_size: int = 64) -> dict[int, dict[str, float]]:
    """{STAGE: {"mse": mean over the images of `data` of the per-image attention MSE}}."""
    if not hasattr(model, "attention_mse"):
        raise InputError(f"cam_mse: model {type(model).__name__} has no spatial attention (no `attention_mse`)")
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    total, n = 0.0, 0
    for batch in loader:
        x = batch["img"].to(dev)
        total += float(model.attention_mse(x).sum())
        n += len(x)
    return {STAGE: {"mse": total / max(n, 1)}}


def draw(figure, grid, out_png: str) -> None:
    plot(figure, grid, measure_by_model(figure, grid, mean_attention_mse), MEASURES, out_png)
