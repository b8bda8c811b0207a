"""Input preprocessing that lives inside the model, so attacks always see [0,1] pixels."""

from __future__ import annotations

import torch
from torch import nn


class _StraightThroughBinarize(torch.autograd.Function):
    """Forward thresholds; backward passes the gradient through unchanged (BPDA), so gradient
    attacks can still be run against a binarized model instead of seeing a zero gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, threshold: float) -> torch.Tensor:
        return (x > threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


class Binarize(nn.Module):
    def __init__(self, threshold: float = 0.5):
        super().__init__()
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _StraightThroughBinarize.apply(x, self.threshold)


class Normalize(nn.Module):
    """Per-channel (x - mean) / std; buffers not persistent: checkpoints hold only the network."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer(
            "mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Classifier(nn.Module):
    """`net(preprocess(x))` with the preprocessing recorded for checkpoints."""

    def __init__(
        self, net: nn.Module, name: str, binarize: bool = False, normalize: dict | None = None
    ):
        super().__init__()
        self.net = net
        self.name = name
        self.preprocessing = {"binarize": bool(binarize), "normalize": normalize}
        steps: list[nn.Module] = []
        if binarize:
            steps.append(Binarize())
        if normalize:
            steps.append(Normalize(normalize["mean"], normalize["std"]))
        self.preprocess = nn.Sequential(*steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(x))

    def without_binarize(self) -> Classifier:
        """The same network (shared, not copied) and normalization, without the binarization."""
        plain = Classifier(self.net, self.name, normalize=self.preprocessing["normalize"])
        return plain.train(self.training).to(next(self.net.parameters()).device)
