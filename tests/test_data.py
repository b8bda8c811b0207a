"""Datasets: synthetic images, the MNIST IDX path, subsets and the missing-data message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from wsattack.data import build_dataset, synthetic_images
from wsattack.data.idx import read_idx, write_idx
from wsattack.errors import ConfigError, DataNotFoundError


def _mnist_cfg(root, **kw):
    base = {
        "name": "mnist",
        "root": str(root),
        "download": False,
        "split": "test",
        "limit": None,
        "indices": None,
    }
    return OmegaConf.create({**base, **kw})


def test_synthetic_is_deterministic_sparse_and_in_range():
    a, b = (
        synthetic_images(64, channels=3, height=20, width=24, seed=3),
        synthetic_images(64, 3, 20, 24, seed=3),
    )
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (64, 3, 20, 24)
    assert a.images.min() >= 0 and a.images.max() <= 1
    assert (a.images == 0).float().mean() > 0.5  # mostly exact zeros, like MNIST
    assert (a.images.flatten(1).sum(1) > 0).all()
    assert not torch.equal(a.images, synthetic_images(64, 3, 20, 24, seed=4).images)


def test_synthetic_is_learnable_by_nearest_class_mean():
    train, test = synthetic_images(500, seed=0), synthetic_images(200, seed=1)
    means = torch.stack([train.images[train.labels == c].mean(0) for c in range(10)])
    pred = torch.cdist(test.images.flatten(1), means.flatten(1)).argmin(1)
    assert (pred == test.labels).float().mean() > 0.6


def test_idx_round_trip_and_mnist_test_split_alone(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = np.arange(12, dtype=np.uint8) % 10
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels)
    assert np.array_equal(read_idx(raw / "t10k-images-idx3-ubyte.gz"), images)
    data = build_dataset(_mnist_cfg(tmp_path))
    assert data.images.shape == (12, 1, 28, 28) and data.images.dtype == torch.float32
    assert torch.allclose(data.images[3, 0], torch.from_numpy(images[3]).float() / 255)
    assert data.labels.tolist() == labels.tolist()


def test_subset_by_indices_list_file_and_limit(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(10, dtype=np.uint8))
    assert build_dataset(_mnist_cfg(tmp_path, indices=[7, 2, 5])).labels.tolist() == [7, 2, 5]
    (tmp_path / "idx.txt").write_text("4, 9\n1")
    picked = build_dataset(_mnist_cfg(tmp_path, indices=str(tmp_path / "idx.txt"), limit=2))
    assert picked.labels.tolist() == [4, 9] and picked.indices.tolist() == [4, 9]
    assert len(build_dataset(_mnist_cfg(tmp_path, limit=3))) == 3
    with pytest.raises(ConfigError, match="indices"):
        build_dataset(_mnist_cfg(tmp_path, indices=[10]))


def test_missing_data_says_where_it_looked_and_how_to_fix(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(_mnist_cfg(tmp_path / "nowhere"))
    message = str(err.value)
    assert (
        str(tmp_path / "nowhere") in message
        and "dataset.download=true" in message
        and "dataset.root=" in message
    )


def test_non_image_tensor_is_rejected():
    from wsattack.data import ImageData

    with pytest.raises(ConfigError, match="not an image dataset"):
        ImageData(
            "tabular", torch.zeros(5, 3), torch.zeros(5, dtype=torch.long), torch.arange(5), 2
        )


def test_shared_mnist_test_split_loads(shared):
    data = build_dataset(_mnist_cfg(shared / "data"))
    assert len(data) == 10_000 and data.labels[:5].tolist() == [7, 2, 1, 0, 4]
