"""The `ramp` radius schedule (Hu et al. 2020: eps0 + step * t), in the attacks and the CLI."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wsattack.attacks import LinfPGD, WassersteinPGD
from wsattack.attacks.build import build_attack
from wsattack.attacks.schedules import SCHEDULES, build_schedule, ramp


def _radii(schedule, n=None):
    (stage,) = schedule
    return [stage.radius(t) for t in range(n or stage.iterations)]


def test_ramp_radii_grow_additively():
    schedule = ramp(eps0=0.02, step=0.005, max_iter=7)
    assert schedule[0].iterations == 7
    assert _radii(schedule) == pytest.approx([0.02 + 0.005 * t for t in range(7)])
    assert SCHEDULES.get("ramp") is ramp
    assert _radii(build_schedule("ramp"), 3) == pytest.approx([0.01, 0.02, 0.03])  # Hu's MNIST


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"eps0": 0}, "eps0"), ({"step": -0.1}, "step"), ({"max_iter": 0}, "max_iter")],
)
def test_ramp_rejects_non_positive_settings(kwargs, message):
    with pytest.raises(ValueError, match=f"schedule.{message} must be positive"):
        ramp(**kwargs)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval().requires_grad_(False)


@pytest.mark.parametrize("factory", [WassersteinPGD, LinfPGD])
def test_attacks_take_the_ramp_through_ramp_step(factory):
    attack = factory(_model(), schedule="ramp", eps0=0.1, ramp_step=0.05, max_iter=4)
    assert _radii(attack.schedule) == pytest.approx([0.1, 0.15, 0.2, 0.25])
    # `step` stays the ascent step of the Wasserstein attack.
    attack = WassersteinPGD(_model(), schedule="ramp", ramp_step=0.05, step="l2")
    assert _radii(attack.schedule, 2) == pytest.approx([0.3, 0.35])


def test_eps_found_follows_the_ramp():
    model = _model()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 1, 8, 8, generator=g)
    labels = model(x).argmax(1)  # the model is right on every clean image
    attack = WassersteinPGD(
        model, schedule="ramp", eps0=0.01, ramp_step=0.02, max_iter=30, p=2, kernel_size=3
    )
    result = attack(x, labels)
    fooled = result.success & (result.iterations > 0)
    assert fooled.sum() >= 3 and len(set(result.iterations[fooled].tolist())) >= 2
    # An example stops at the first radius it is fooled at: eps_found is on the ramp.
    expected = 0.01 + 0.02 * (result.iterations[fooled] - 1).double()
    torch.testing.assert_close(result.eps_found[fooled], expected)


@pytest.mark.parametrize("attack", ["wasserstein", "linf_pgd", "l2_pgd"])
def test_cli_schedule_ramp_composes_and_builds(compose, attack):
    cfg = compose("attack", [f"attack={attack}", "schedule=ramp", "schedule.ramp_step=0.02"])
    assert cfg.schedule.name == "ramp"
    assert (cfg.schedule.eps0, cfg.schedule.ramp_step, cfg.schedule.max_iter) == (0.01, 0.02, 200)
    built = build_attack(_model(), cfg.attack, cfg.schedule)
    assert isinstance(built, WassersteinPGD) == (attack == "wasserstein")
    assert built.schedule[0].iterations == 200
    assert _radii(built.schedule, 3) == pytest.approx([0.01, 0.03, 0.05])
