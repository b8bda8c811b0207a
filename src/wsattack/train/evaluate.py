"""Clean accuracy of a classifier on an image set."""

from __future__ import annotations

import torch

from wsattack.data import ImageData


@torch.inference_mode()
def predict(
    model: torch.nn.Module, images: torch.Tensor, batch_size: int, device: torch.device
) -> torch.Tensor:
    """Predicted labels (on CPU) for a tensor of images."""
    out = [
        model(images[i : i + batch_size].to(device)).argmax(1).cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def accuracy(
    model: torch.nn.Module, data: ImageData, batch_size: int, device: torch.device
) -> float:
    was_training = model.training
    model.eval()
    correct = (predict(model, data.images, batch_size, device) == data.labels).sum().item()
    model.train(was_training)
    return correct / max(len(data), 1)
