"""Fusion operators: every parameter trains, masks are respected, shapes are right."""
import pytest
import torch

from mmfeat.train.fusion import FUSIONS
from mmfeat.train.model import JointModel

DIMS = [7, 5, 3]


def batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(n, d, generator=g) for d in DIMS]
    mask = torch.ones(n, len(DIMS))
    mask[::3, 1] = 0  # some rows miss modality 1
    return xs, mask, torch.randint(0, 4, (n,), generator=g)


@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_every_parameter_receives_gradient(fusion):
    torch.manual_seed(0)
    model = JointModel(DIMS, 4, fusion=fusion, hidden=6, dropout=0.0)
    xs, mask, y = batch()
    torch.nn.functional.cross_entropy(model(xs, mask), y).backward()
    names = [name for name, _ in model.named_parameters()]
    assert any(name.startswith("fusion.") for name in names) or fusion in ("concat", "tensor")
    dead = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []


def test_lowrank_factors_are_registered_and_change_when_trained():
    torch.manual_seed(0)
    model = JointModel(DIMS, 4, fusion="lowrank", hidden=6, dropout=0.0)
    factors = [p for n, p in model.named_parameters() if n.startswith("fusion.factors")]
    assert len(factors) == len(DIMS)
    before = [f.detach().clone() for f in factors]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    xs, mask, y = batch()
    torch.nn.functional.cross_entropy(model(xs, mask), y).backward()
    opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, factors))


@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_a_missing_modality_has_no_influence(fusion):
    torch.manual_seed(0)
    model = JointModel(DIMS, 4, fusion=fusion, hidden=6, dropout=0.0).eval()
    xs, mask, _ = batch()
    mask[:, 2] = 0
    changed = [x.clone() for x in xs]
    changed[2] = torch.randn_like(changed[2]) * 100
    with torch.no_grad():
        torch.testing.assert_close(model(xs, mask), model(changed, mask))
        assert not torch.allclose(model(xs, torch.ones_like(mask)), model(changed, torch.ones_like(mask)))


def test_tensor_fusion_refuses_huge_products():
    with pytest.raises(ValueError, match="lowrank"):
        JointModel([10] * 4, 2, fusion="tensor", hidden=64)
