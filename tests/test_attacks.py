"""Attacks on synthetic data with a small model trained here: registry-wide and Wasserstein PGD."""

from __future__ import annotations

import pytest
import torch
from conftest import train_tiny_classifier

from wsattack.attacks import ATTACKS, AttackResult, WassersteinPGD
from wsattack.attacks.verify import verify
from wsattack.data import synthetic_images

SIZE = 16


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A mnist_cnn trained for a few epochs on 16x16 synthetic blobs, and held-out images."""
    model = train_tiny_classifier(tmp_path_factory.mktemp("train"), SIZE, epochs=6)
    test = synthetic_images(64, height=SIZE, width=SIZE, seed=1)
    correct = model(test.images).argmax(1) == test.labels
    assert correct.float().mean() > 0.7
    return model, test.select(correct.nonzero().squeeze(1)[:24])


def _fast_wasserstein(model, **kw):
    args = {
        "eps0": 0.05,
        "growth": 1.3,
        "every": 3,
        "max_iter": 40,
        "kernel_size": 5,
        "p": 2,
        "lam": 1000,
        "alpha": 0.1,
    }
    return WassersteinPGD(model, **{**args, **kw})


@pytest.mark.parametrize("name", ATTACKS.names())
def test_every_attack_runs_with_defaults_and_verifies(name, trained):
    model, data = trained
    attack = ATTACKS.get(name)(model)
    result = attack(data.images[:6], data.labels[:6])
    assert isinstance(result, AttackResult)
    assert (
        result.adv.shape == data.images[:6].shape
        and result.adv.min() >= 0
        and result.adv.max() <= 1
    )
    assert torch.equal(result.success, result.eps_found < float("inf"))
    assert (verify(attack.ball, data.images[:6], result).verified == 1).all()


def test_wasserstein_examples_are_within_their_radius(trained):
    model, data = trained
    attack = _fast_wasserstein(model)
    result = attack(data.images, data.labels)
    assert result.success.float().mean() > 0.8
    check = verify(attack.ball, data.images, result)
    assert (check.verified == 1).all()
    fooled = result.success & (result.eps_found > 0)
    assert (check.exact_cost[fooled] <= result.eps_found[fooled] * (1 + 1e-3)).all()
    assert (model(result.adv[fooled]).argmax(1) != data.labels[fooled]).all()
    assert (check.mass_change <= 1e-5).all()  # clamping only ever removes mass


def test_fooled_examples_stop_early(trained):
    model, data = trained
    result = _fast_wasserstein(model, max_iter=40)(data.images, data.labels)
    early = result.success & (result.iterations < 40)
    assert early.any()
    # An example stops at the first radius it is fooled at: eps_found follows the schedule.
    expected = 0.05 * 1.3 ** ((result.iterations[early] - 1) // 3).double()
    assert torch.allclose(result.eps_found[early], expected)


def test_clean_misclassified_examples_cost_nothing(trained):
    model, data = trained
    wrong = (data.labels + 1) % 10
    result = _fast_wasserstein(model)(data.images[:4], wrong[:4])
    assert result.success.all() and (result.eps_found == 0).all() and (result.iterations == 0).all()
    assert torch.equal(result.adv, data.images[:4])


def test_targeted_mode_reaches_the_target(trained):
    model, data = trained
    targets = (data.labels + 3) % 10
    result = _fast_wasserstein(model, max_iter=80)(data.images[:12], data.labels[:12], targets[:12])
    assert result.success.float().mean() >= 0.5
    assert torch.equal(result.adv_pred[result.success], targets[:12][result.success])


def test_fixed_schedule_reports_smallest_breaking_radius(trained):
    model, data = trained
    result = WassersteinPGD(model, schedule="fixed", radii=(0.5, 0.05, 0.2), max_iter=15, p=2)(
        data.images[:8], data.labels[:8]
    )
    assert set(result.eps_found[result.success].tolist()) <= {0.05, 0.2, 0.5}


@pytest.mark.parametrize("step", ["l2", "wasserstein", "mass"])
def test_other_steps_find_examples(step, trained):
    model, data = trained
    alpha = {"l2": 0.5, "wasserstein": 0.1, "mass": 0.06}[step]
    result = _fast_wasserstein(model, step=step, alpha=alpha)(data.images[:8], data.labels[:8])
    assert result.success.float().mean() >= 0.5


def test_mass_step_scales_with_the_image_mass():
    """Hu et al. 2020's step: the largest change is alpha x the image's mass, along the gradient."""
    from wsattack.attacks.steps import mass_step

    adv = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    adv[1] *= 0.1
    grad = torch.randn(3, 1, 6, 6, generator=torch.Generator().manual_seed(1)) * 1e4
    change = mass_step(adv, grad, 0.06) - adv
    mass = adv.flatten(1).sum(1)
    torch.testing.assert_close(change.flatten(1).abs().amax(1), 0.06 * mass)
    assert bool(((change > 0) == (grad > 0)).all())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eps0": 0.0}, "eps0 must be positive"),
        ({"step": "newton"}, "unknown step 'newton'; choose from: l2, linf, mass, wasserstein"),
        ({"alpha": -1}, "alpha must be positive"),
        ({"schedule": "cosine"}, "unknown schedule 'cosine'"),
        ({"kernel_size": 4}, "odd"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message, trained):
    with pytest.raises(ValueError, match=message):
        WassersteinPGD(trained[0], **kwargs)


def test_inner_attack_leaves_the_model_alone(trained):
    model, data = trained
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _fast_wasserstein(model, max_iter=5)(data.images[:4], data.labels[:4])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
