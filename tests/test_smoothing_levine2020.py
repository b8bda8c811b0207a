"""The noise models against the authors' base classifiers (needs ../shared; skipped without it).

Table 1 of Levine & Feizi (2020) reports each base classifier's accuracy under its own training
noise over the MNIST test set; a noise of the wrong scale or shape would miss it by far more
than the tolerance (the first 2,000 test images give a standard error of about 1 point).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from wsattack.data.idx import read_idx
from wsattack.models import MODELS, read_checkpoint
from wsattack.paths import shared_dir
from wsattack.smoothing import ABSTAIN, SmoothedClassifier, build_noise, wasserstein_radius

IMAGES = 2_000


@pytest.fixture(scope="module")
def shared_root() -> Path:
    root = shared_dir()
    if (
        not (root / "data" / "MNIST" / "raw").is_dir()
        or not (root / "checkpoints" / "levine2020").is_dir()
    ):
        pytest.skip(f"shared MNIST test split or levine2020 checkpoints not found under {root}")
    return root


@pytest.fixture(scope="module")
def mnist(shared_root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    raw = shared_root / "data" / "MNIST" / "raw"
    images = torch.from_numpy(read_idx(raw / "t10k-images-idx3-ubyte.gz")[:IMAGES]).float().div(255)
    labels = torch.from_numpy(read_idx(raw / "t10k-labels-idx1-ubyte.gz")[:IMAGES]).long()
    return images.unsqueeze(1), labels


def base_model(shared_root: Path, noise: str, sigma: float) -> nn.Module:
    net = MODELS.get("mnist_cnn")(1, 10, (28, 28))
    state, _ = read_checkpoint(
        shared_root / "checkpoints" / "levine2020" / f"mnist_{noise}_sigma_{sigma}.pth"
    )
    net.load_state_dict(state)
    return net.eval()


@pytest.mark.parametrize(
    ("noise", "sigma", "paper_accuracy"),
    [("wasserstein", 0.02, 79.72), ("laplace", 0.02, 67.08), ("wasserstein", 0.1, 30.26)],
)
def test_base_accuracy_under_noise_matches_table_1(
    shared_root: Path, mnist, noise, sigma, paper_accuracy
) -> None:
    images, labels = mnist
    net = base_model(shared_root, noise, sigma)
    with torch.inference_mode():
        noisy = build_noise(noise, sigma).perturb(images, torch.Generator().manual_seed(0))
        accuracy = 100 * float((net(noisy).argmax(dim=1) == labels).float().mean())
    assert accuracy == pytest.approx(paper_accuracy, abs=3.5)


def test_certify_real_images(shared_root: Path, mnist) -> None:
    images, labels = mnist
    smooth = SmoothedClassifier(
        base_model(shared_root, "wasserstein", 0.01), 10, "wasserstein", 0.01
    )
    largest = wasserstein_radius(0.05 ** (1 / 2_000), 0.01)
    for index in range(3):
        cert = smooth.certify(
            images[index], n0=100, n=2_000, generator=torch.Generator().manual_seed(index)
        )
        assert cert.prediction in (int(labels[index]), ABSTAIN)
        assert 0.0 <= cert.radius <= largest
