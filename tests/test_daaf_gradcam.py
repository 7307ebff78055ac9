"""DAAF Figs. 5 and 6: Grad-CAM maps of embedding components (analysis/gradcam.py, viz/daaf_ham.py, viz/daaf_pam.py)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from attnreid import models, papers, viz
from attnreid.analysis.gradcam import attention_maps, component_maps, normalise
from attnreid.errors import InputError
from attnreid.viz import daaf_masks
from attnreid.viz.daaf_ham import conv1_maps
from attnreid.viz.daaf_pam import pab_groups
from conftest import panel_grid, params_grid, tiny_cell_cfg, untrained_cells

pytestmark = pytest.mark.usefixtures("one_thread")

METHODS = ("daaf-trinet-base", "daaf-trinet", "daaf-trinet-hab")  # Fig. 5: base and HAB-only; Fig. 6: DAAF


class Tiny(nn.Module):
    """conv -> ReLU -> mean over the first `seen` columns -> linear; keeps the conv output as `a`."""

    def __init__(self, components: int = 7, seen: int | None = None):
        super().__init__()
        self.conv, self.fc, self.seen = nn.Conv2d(2, 4, 3, padding=1), nn.Linear(4, components), seen

    def forward(self, img):
        self.a = self.conv(img)
        return self.fc(torch.relu(self.a)[..., :self.seen].mean((2, 3)))


def tiny(**kw) -> tuple[Tiny, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    net = Tiny(**kw).double()
    img = torch.randn(3, 2, 6, 8, dtype=torch.float64)
    return net, img, net(img)


@pytest.mark.parametrize("chunk", [1, 2, 3, 64])
def test_batched_grads_are_a_loop_of_single_grads_per_image_and_component(chunk):
    net, img, x = tiny()
    comps = [0, 2, 3, 5, 6]
    got = component_maps(net.a, x, comps, chunk)
    assert got.shape == (3, len(comps), 6, 8)
    for j, n in enumerate(comps):
        for b in range(len(img)):
            f, = torch.autograd.grad(x[b, n], net.a, retain_graph=True)
            assert torch.allclose(got[b, j], (f[b] * net.a[b]).abs().mean(0), rtol=1e-12, atol=0), (n, b)


def test_ham_is_the_mean_and_pam_averages_exactly_its_groups():
    net, img, x = tiny(components=5)
    every = component_maps(net.a, x, range(5))
    assert torch.allclose(attention_maps(net.a, x, chunk=2)[:, 0], every.mean(1), rtol=1e-12, atol=0)
    groups = [[0, 4], [1, 2, 3]]  # chunk 3 splits the members [0, 4, 1 | 2, 3] across the groups
    pam = attention_maps(net.a, x, groups, chunk=3)
    for i, g in enumerate(groups):
        assert torch.allclose(pam[:, i], every[:, g].mean(1), rtol=1e-12, atol=0), i
    with torch.no_grad():
        net.fc.weight[2] *= 1000  # component 2 dominates: L^2 grows 1000 times, its group alone changes
    x = net(img)
    big = attention_maps(net.a, x, groups, chunk=3)
    assert torch.allclose(big[:, 0], pam[:, 0], rtol=1e-12, atol=0)
    assert torch.allclose(big[:, 1], (every[:, 1] + 1000 * every[:, 2] + every[:, 3]) / 3, rtol=1e-9, atol=0)


def test_pixels_a_component_does_not_see_get_zero():
    net, img, x = tiny(seen=4)  # the output sees the left 4 of 8 columns of the conv map
    maps = torch.cat([component_maps(net.a, x, range(7)), attention_maps(net.a, x)], 1)
    assert (maps[..., 4:] == 0).all()
    assert (maps[..., :4] > 0).float().mean() > 0.5


def test_normalise_upsamples_and_scales_each_map_to_0_1():
    maps = torch.rand(2, 3, 4, 2) * torch.tensor([1.0, 50.0, 0.0])[:, None, None]
    out = normalise(maps, (8, 4))
    assert out.shape == (2, 3, 8, 4)
    assert torch.allclose(out[:, :2].amin((2, 3)), torch.zeros(2, 2))
    assert torch.allclose(out[:, :2].amax((2, 3)), torch.ones(2, 2))
    assert (out[:, 2] == 0).all()  # a constant map stays finite


def small_model(method: str):
    return models.build(tiny_cell_cfg(params_grid(), method, height=64, width=32), 3).eval()


def test_pam_groups_are_pabs_split():
    model = small_model("daaf-trinet")
    groups = pab_groups(model)
    assert len(groups) == 6 and all(len(g) == 512 // 6 for g in groups)
    f4 = torch.randn(2, 512, 2, 1)
    for part, g in zip(model.pab.split(f4), groups):
        assert torch.equal(part, f4[:, g])


def test_conv1_maps_treat_the_images_of_a_batch_independently():
    net = small_model("daaf-trinet").inference_model()
    torch.manual_seed(1)
    img = torch.randn(2, 3, 64, 32)
    both = conv1_maps(net.backbone, img, net)
    assert both.shape == (2, 1, 64, 32) and 0 <= float(both.min()) and float(both.max()) == pytest.approx(1)
    assert torch.allclose(conv1_maps(net.backbone, img[1:], net), both[1:], atol=1e-5)


@pytest.fixture
def tiny_grid(tmp_path, monkeypatch):
    """Untrained tiny cells of METHODS on a Market-layout stand-in, two query picks, no pseudo-labels
    (Figs. 5 and 6 read none)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(daaf_masks, "NUM_IMAGES", 2)
    g = params_grid()
    untrained_cells(g, METHODS, lambda m: tiny_cell_cfg(g, m, height=32, width=16))
    return g


def test_figures_1_5_and_6_draw(tiny_grid, tmp_path, saved_figures):
    """One row per query pick (2 here): the image, then each model's HAM (Fig. 5), or per DAAF model one
    map per PAB channel group (Fig. 6), or per DAAF model its HAM and one map per group (Fig. 1)."""
    ham_fig, pam_fig, both_fig = (papers.figure(fid) for fid in ("daaf/fig5", "daaf/fig6", "daaf/fig1"))
    for fig in (ham_fig, pam_fig, both_fig):
        viz.draw(fig, tiny_grid, str(tmp_path / f"{fig.id}.png"))
    ham, pam, both = saved_figures
    assert len(ham_fig.datasets) == len(pam_fig.datasets) == len(both_fig.datasets) == 1
    panel_grid(ham, 2, 1 + len(ham_fig.methods))
    groups = len(pab_groups(small_model("daaf-trinet")))
    assert groups > 1
    panel_grid(pam, 2 * len(pam_fig.methods), 1 + groups)
    panel_grid(both, 2 * len(both_fig.methods), 2 + groups)


def test_figure_6_refuses_a_model_without_pab(tiny_grid, tmp_path):
    fig = dataclasses.replace(papers.figure("daaf/fig6"), methods=("daaf-trinet-base",))
    with pytest.raises(InputError, match=r"daaf-trinet-base.*has no DAAF PAB branch$"):
        viz.draw(fig, tiny_grid, str(tmp_path / "refused.png"))
