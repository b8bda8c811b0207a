"""Attacking a smoothed classifier (Levine & Feizi 2020, section 6.2) on a small synthetic model."""

from __future__ import annotations

import pytest
import torch
from conftest import train_tiny_classifier

from wsattack.attacks import WassersteinPGD
from wsattack.data import synthetic_images
from wsattack.smoothing import ABSTAIN, SmoothedClassifier
from wsattack.smoothing.attackable import HardVoteJudge, SmoothedSoftmax
from wsattack.smoothing.noise import build_noise

SIGMA = 0.02


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A mnist_cnn trained on 16x16 synthetic images under the smoothing noise."""
    noise = build_noise("wasserstein", SIGMA)
    run = tmp_path_factory.mktemp("train")
    return train_tiny_classifier(run, epochs=6, transform=lambda m, x, y: noise.perturb(x))


def test_surrogate_is_differentiable_and_close_to_the_vote(model):
    data = synthetic_images(8, height=16, width=16, seed=1)
    surrogate = SmoothedSoftmax(model, build_noise("wasserstein", SIGMA), samples=64)
    x = data.images.clone().requires_grad_(True)
    log_probs = surrogate(x)
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(8), atol=1e-5)
    log_probs[:, 0].sum().backward()
    assert x.grad.abs().sum() > 0
    judge = HardVoteJudge(
        SmoothedClassifier(model, 10, "wasserstein", SIGMA), n=500, alpha=0.05, batch_size=500
    )
    votes = judge(data.images)
    agree = (votes == log_probs.argmax(1)) | (votes == ABSTAIN)
    assert agree.float().mean() >= 0.75


def test_attack_never_breaks_inside_the_certified_radius(model):
    data = synthetic_images(12, height=16, width=16, seed=2)
    smoothed = SmoothedClassifier(model, 10, "wasserstein", SIGMA)
    torch.manual_seed(1)
    certs = [smoothed.certify(x, n0=100, n=2000, alpha=0.01, batch_size=1000) for x in data.images]
    judge = HardVoteJudge(smoothed, n=2000, alpha=0.01, batch_size=1000)
    attack = WassersteinPGD(
        SmoothedSoftmax(model, smoothed.noise, samples=32),
        eps0=0.002,
        growth=1.5,
        every=1,
        max_iter=12,
        p=1,
        kernel_size=5,
        judge=judge,
    )
    result = attack(data.images, data.labels)
    certified = [
        i for i, c in enumerate(certs) if c.prediction == int(data.labels[i]) and c.radius > 0
    ]
    assert certified, "no image was certified: the check would be empty"
    assert result.success.any(), "the attack broke nothing: the check would be empty"
    for i in certified:
        assert result.eps_found[i] >= certs[i].radius, (
            i,
            float(result.eps_found[i]),
            certs[i].radius,
        )
