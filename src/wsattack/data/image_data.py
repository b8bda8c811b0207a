"""The in-memory image set every task works on: [0,1] pixels, labels and original indices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from wsattack.errors import ConfigError


@dataclass
class ImageData:
    """Images (N,C,H,W) float32 in [0,1], labels (N,) long, each row's index in the full split."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor
    num_classes: int

    def __post_init__(self):
        if self.images.dim() != 4:
            raise ConfigError(
                f"dataset {self.name!r} is not an image dataset: expected (N, C, H, W) tensors, "
                f"got shape {tuple(self.images.shape)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, rows: torch.Tensor) -> ImageData:
        return ImageData(
            self.name, self.images[rows], self.labels[rows], self.indices[rows], self.num_classes
        )

    def loader(
        self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
    ):
        """Batches of (images, labels, indices)."""
        dataset = TensorDataset(self.images, self.labels, self.indices)
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def apply_subset(data: ImageData, limit: int | None, indices) -> ImageData:
    """`indices` (a list, or a file of whitespace/comma separated integers), then `limit`."""
    if indices is not None:
        wanted = torch.as_tensor(_read_indices(indices), dtype=torch.long)
        if not len(wanted):
            raise ConfigError("dataset.indices selects no images; fix: list at least one index")
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= len(data)):
            raise ConfigError(
                f"dataset.indices must lie in [0, {len(data) - 1}] for {data.name}; fix: drop "
                f"the indices above {len(data) - 1}"
            )
        data = data.select(wanted)
    if limit is not None:
        if int(limit) <= 0:
            raise ConfigError(f"dataset.limit must be positive, got {limit}")
        data = data.select(torch.arange(min(int(limit), len(data))))
    return data


def _read_indices(indices) -> list[int]:
    if isinstance(indices, str):
        path = Path(indices)
        if not path.is_file():
            raise ConfigError(f"dataset.indices file {path} does not exist")
        text = path.read_text().replace(",", " ").split()
        try:
            return [int(t) for t in text]
        except ValueError as err:
            raise ConfigError(f"dataset.indices file {path} holds a non-integer: {err}") from err
    return [int(i) for i in indices]
