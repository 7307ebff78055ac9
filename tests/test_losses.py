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
