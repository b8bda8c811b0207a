"""Randomized smoothing for Wasserstein certificates (Levine & Feizi 2020)."""

from wsattack.smoothing.certifier import ABSTAIN, Certificate, SmoothedClassifier
from wsattack.smoothing.noise import NOISE, LaplaceNoise, NoiseModel, WassersteinNoise, build_noise
from wsattack.smoothing.radius import laplace_radius, wasserstein_radius
from wsattack.smoothing.sequential_certifier import SequentialSmoothedClassifier

__all__ = [
    "ABSTAIN",
    "NOISE",
    "Certificate",
    "LaplaceNoise",
    "NoiseModel",
    "SequentialSmoothedClassifier",
    "SmoothedClassifier",
    "WassersteinNoise",
    "build_noise",
    "laplace_radius",
    "wasserstein_radius",
]
