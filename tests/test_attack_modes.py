"""Attacks run the model as deployed (eval mode) and give it back as they found it; attacks and
balls show their settings."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wsattack.attacks import (
    L2PGD,
    AutoWasserstein,
    LinfPGD,
    LpBall,
    WassersteinBall,
    WassersteinFW,
    WassersteinPGD,
    WassersteinPlanPGD,
)

QUICK = {
    LinfPGD: {"radii": (0.1,), "max_iter": 3},
    L2PGD: {"radii": (1.0,), "max_iter": 3},
    WassersteinPGD: {"eps0": 0.1, "max_iter": 3, "kernel_size": 3, "sinkhorn_iters": 10},
    WassersteinFW: {"steps": 2, "kernel_size": 3, "eps_max": 0.1},
    WassersteinPlanPGD: {"steps": 2, "kernel_size": 3, "eps_max": 0.1},
    AutoWasserstein: {"fw_steps": 2, "pgd_steps": 2, "kernel_size": 3, "eps_max": 0.1},
}


def _batchnorm_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)
    )


@pytest.mark.parametrize("factory", list(QUICK), ids=lambda f: f.__name__)
def test_attack_leaves_batchnorm_statistics_and_training_mode_alone(factory):
    model = _batchnorm_model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    labels = torch.zeros(6, dtype=torch.long)
    seen = []
    hook = model[1].register_forward_hook(lambda m, i, o: seen.append(m.training))
    factory(model, **QUICK[factory])(x, labels)
    hook.remove()
    assert seen and not any(seen)  # every forward pass in eval mode
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_model_in_eval_mode_stays_there():
    model = _batchnorm_model().eval()
    LinfPGD(model, radii=(0.1,), max_iter=2)(torch.rand(2, 1, 4, 4), torch.zeros(2).long())
    assert not model.training


def test_reprs_show_the_settings():
    model = _batchnorm_model()
    assert repr(LpBall(2.0)) == "LpBall(norm=2)"
    assert repr(WassersteinBall(kernel_size=3, p=1, lam=500.0)).startswith(
        "WassersteinBall(kernel_size=3, p=1, metric='euclidean', lam=500.0,"
    )
    text = repr(
        WassersteinPGD(model, schedule="ramp", eps0=0.2, ramp_step=0.05, step="wasserstein")
    )
    assert text.startswith("WassersteinPGD(ball=WassersteinBall(kernel_size=5, p=1,")
    assert "step=WassersteinStep()" in text
    assert text.endswith("schedule=ramp(eps0=0.2, step=0.05, max_iter=200))")
    assert repr(L2PGD(model)) == (
        "L2PGD(ball=LpBall(norm=2), step=l2_step, alpha=0.1, clamp=True, "
        "schedule=fixed(radii=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0), max_iter=40))"
    )
    assert repr(WassersteinFW(model)).startswith("WassersteinFW(steps=20,")
