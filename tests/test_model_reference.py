"""Every model of params.yaml's methods computes what it computed when tests/data/model_reference.npz was
written: for a fixed seed and input, its state_dict names and shapes, its training loss terms and each
parameter's gradient norm, its eval embedding and its analysis outputs (CAMs, attention grids, DAAF's
branches). A refactor of models/ must leave them unchanged, so each paper's tables and figures are
unchanged by it.

Each model is the method's cell config on the Market stand-in shrunk to ResNet-18 from scratch (conftest's
tiny_cell_cfg), built after torch.manual_seed(0) (so its initialisation is checked too), and run on one
fixed batch of 4 images of 64x32. Large outputs are stored as fixed random projections to PROJ numbers per
image (any change to any entry moves them), so the file stays small.

Tolerance: CPU kernels (oneDNN convolutions, BLAS) may sum in another order on another CPU or library build,
so float32 results can differ in the last bits; through ResNet-18 that stays far below 1e-4 relative. An
array matches when |new - ref| <= RTOL |ref| + ATOL max(1, max |ref|): relative, with an absolute floor
scaled to the array (a projection coordinate can be near zero by cancellation). Measured: the same run on
2 threads instead of 1 moves no number by more than 2.4e-6 of its array's scale. A changed computation
moves them by far more (checked by hand when this was written: SAG's attention scaled by 1.001, or the CAM
loss without its detach, fails the models concerned).

Regenerate only for an intended change of a model's computation (never to make a refactor pass):
`PYTHONPATH=src python tests/test_model_reference.py`.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from attnreid import models
from attnreid.pseudo import coco
from conftest import params_grid, tiny_cell_cfg

REFERENCE = Path(__file__).parent / "data" / "model_reference.npz"
H, W, CLASSES, PROJ = 64, 32, 5, 8
PID = torch.tensor([0, 0, 1, 1])
ANALYSES = ("cam", "attention_grids", "branches", "attention_mse")  # the figures' calls into a model
RTOL, ATOL = 1e-4, 1e-5


@functools.cache
def grid():
    return params_grid("synthetic")


def methods() -> list[str]:
    return sorted(grid().params["methods"])


def batch() -> dict:
    g = torch.Generator().manual_seed(1)
    n = len(PID)
    kp = torch.rand(n, coco.K, 3, generator=g) * torch.tensor([W, H, 1.0])
    return {"img": torch.randn(n, 3, H, W, generator=g), "pid": PID,
            "mask": torch.rand(n, H, W, generator=g) > 0.5, "keypoints": kp}


def per_image(out) -> torch.Tensor:
    """A model output (tensor, dict, tuple) as one float64 [N, D] matrix, dict entries in key order."""
    if isinstance(out, dict):
        out = [out[k] for k in sorted(out)]
    if isinstance(out, (tuple, list)):
        return torch.cat([per_image(o) for o in out] or [torch.empty(len(PID), 0, dtype=torch.float64)], 1)
    return out.detach().to(torch.float64).reshape(len(out), -1)


def project(m: torch.Tensor) -> np.ndarray:
    """[N, D] -> [N, PROJ] by a fixed Gaussian matrix (seeded by D), scaled by 1/sqrt(D)."""
    p = torch.randn(m.shape[1], PROJ, generator=torch.Generator().manual_seed(m.shape[1]), dtype=torch.float64)
    return (m @ p / m.shape[1] ** 0.5).numpy()


def outputs(method: str) -> dict[str, np.ndarray]:
    """What the reference holds for `method` (keys `<method>:<what>`)."""
    cfg = tiny_cell_cfg(grid(), method)
    torch.manual_seed(0)
    model = models.build(cfg, CLASSES)
    b = batch()
    state = "\n".join(f"{k} {tuple(v.shape)}" for k, v in model.state_dict().items())
    model.train()
    terms = model.losses(model(b["img"]), b)
    sum(terms.values()).backward()
    grads = torch.stack([p.grad.norm() if p.grad is not None else p.new_zeros(()) for p in model.parameters()])
    model.eval()
    out = {"state": np.array(hashlib.sha256(state.encode()).hexdigest()),
           "terms": np.array(",".join(sorted(terms))),
           "loss": np.array([float(terms[k].detach()) for k in sorted(terms)]),
           "grad_norms": grads.double().numpy(),
           "embedding": project(per_image(model(b["img"])))}
    with torch.no_grad():
        for name in ANALYSES:
            if hasattr(model, name):
                out[name] = project(per_image(getattr(model, name)(b["img"])))
    return {f"{method}:{k}": v for k, v in out.items()}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE, allow_pickle=False) as f:
        return dict(f)


def test_the_reference_covers_every_method(reference):
    assert sorted({k.split(":")[0] for k in reference}) == methods()


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("method", methods())
def test_a_model_computes_what_it_computed_for_the_reference(method, reference):
    new_outputs = outputs(method)
    assert sorted(new_outputs) == sorted(k for k in reference if k.startswith(f"{method}:"))
    for key, new in new_outputs.items():
        ref = reference[key]
        if new.dtype.kind == "U":
            assert str(new) == str(ref), f"{key} changed"
        else:
            bad = np.abs(new - ref) > RTOL * np.abs(ref) + ATOL * max(1.0, float(np.abs(ref).max()))
            assert not bad.any(), f"{key}: {np.abs(new - ref).max():.3g} off (reference {ref.ravel()[:4]})"


if __name__ == "__main__":
    torch.set_num_threads(1)
    REFERENCE.parent.mkdir(exist_ok=True)
    arrays = {k: v for m in methods() for k, v in outputs(m).items()}
    np.savez_compressed(REFERENCE, **arrays)
    print(f"{REFERENCE}: {len(arrays)} arrays, {REFERENCE.stat().st_size} bytes")
