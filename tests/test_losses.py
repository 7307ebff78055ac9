import torch

from attnreid.models.losses import batch_hard_triplet


def _loop(feat, pids, margin):
    terms = []
    for a in range(len(pids)):
        d = [(feat[a] - feat[j]).norm().item() for j in range(len(pids))]
        pos = [d[j] for j in range(len(pids)) if j != a and pids[j] == pids[a]]
        neg = [d[j] for j in range(len(pids)) if pids[j] != pids[a]]
        if pos and neg:
            terms.append(max(0.0, margin + max(pos) - min(neg)))
    return sum(terms) / len(terms)


def test_batch_hard_triplet_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(12, 5, generator=g)
    pids = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4])  # id 4 has no positive: left out
    assert abs(batch_hard_triplet(feat, pids, 0.3).item() - _loop(feat, pids, 0.3)) < 1e-5


def test_batch_hard_triplet_zero_when_separated_and_grad_finite():
    feat = torch.tensor([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [10.0, 0.0]], requires_grad=True)
    loss = batch_hard_triplet(feat, torch.tensor([0, 0, 1, 1]), 0.3)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(feat.grad).all()


def test_anchors_without_a_positive_or_negative_add_nothing_and_no_nan_gradient():
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(5, 3, generator=g, requires_grad=True)
    pids = torch.tensor([0, 0, 1, 1, 2])  # anchor 4 has no positive
    soft = batch_hard_triplet(feat, pids, None)
    d = torch.cdist(feat.detach(), feat.detach())
    want = torch.stack([torch.nn.functional.softplus(d[a][pids == pids[a]].max() - d[a][pids != pids[a]].min())
                        for a in range(4)]).mean()
    assert torch.allclose(soft, want, atol=1e-5)
    soft.backward()
    assert torch.isfinite(feat.grad).all()
    one_id = torch.randn(4, 3, generator=g, requires_grad=True)  # no anchor has a negative
    loss = batch_hard_triplet(one_id, torch.zeros(4, dtype=torch.long), 0.3)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(one_id.grad, torch.zeros(4, 3))


def test_batch_hard_triplet_traces_as_one_graph():
    # no data-dependent branch or shape: on a GPU such a step would wait for the device (a host sync)
    traced = torch.compile(batch_hard_triplet, fullgraph=True, backend="eager")
    feat, pids = torch.randn(8, 4), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    assert torch.allclose(traced(feat, pids, 0.3), batch_hard_triplet(feat, pids, 0.3))
