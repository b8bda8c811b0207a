"""Training noise for the base models of randomized smoothing (Levine & Feizi 2020).

A `BatchTransform`: each training batch is replaced by a noisy copy drawn from a noise model
of `wsattack.smoothing`. Independent noise per image by default; `per_batch=True` draws one
unit-noise sample per minibatch and adds it, scaled by each image's own mass, to every image of
the batch (what the authors' training code does). Noise comes from the global torch RNG, whose
state the trainer checkpoints, so resumed runs draw the same noise.
"""

from __future__ import annotations

import torch

from wsattack.smoothing import NoiseModel


class NoiseTransform:
    def __init__(self, noise: NoiseModel | None = None, per_batch: bool = False):
        if noise is None:
            raise ValueError("NoiseTransform needs a noise model")
        self.noise, self.per_batch = noise, per_batch

    def __call__(self, model, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if not self.per_batch:
            return self.noise.perturb(images)
        unit = self.noise.unit_noise(
            (1, *images.shape[1:]), dtype=images.dtype, device=images.device
        )
        return images + unit * images.sum(dim=(1, 2, 3), keepdim=True)
