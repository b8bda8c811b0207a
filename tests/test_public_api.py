"""The public Python API: `from wsattack import ...` with plain arguments, and the Hydra adapters
(`build_model`, `build_dataset`) built on it."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

import wsattack
import wsattack.data.datasets as datasets_module
import wsattack.models.build as build_module
from wsattack import (
    SmoothedClassifier,
    WassersteinPGD,
    attack_smoothed,
    list_models,
    load_dataset,
    load_model,
)
from wsattack.data import build_dataset
from wsattack.errors import ConfigError
from wsattack.models import build_model, save_checkpoint
from wsattack.smoothing.attackable import HardVoteJudge, SmoothedSoftmax

DEMO = "zoo:demo_fashion_mnist_cnn"


def test_every_public_name_is_importable():
    assert sorted(wsattack.__all__) == sorted(set(wsattack.__all__))
    for name in wsattack.__all__:
        assert getattr(wsattack, name) is not None


def test_load_model_from_the_zoo_by_prefix_or_bare_name():
    model = load_model(DEMO)
    assert (model.name, model.training) == ("mnist_cnn", False)
    bare = load_model("demo_fashion_mnist_cnn")
    x = load_dataset("demo", limit=4).images
    torch.testing.assert_close(model(x), bare(x))


def test_load_model_from_a_file_reads_the_architecture_from_its_metadata(tmp_path):
    original = load_model("resnet_small", image_shape=(3, 32, 32), num_classes=4)
    save_checkpoint(tmp_path / "m.pt", original, "cifar10")
    loaded = load_model(tmp_path / "m.pt", num_classes=4)  # shape from the dataset: CIFAR-10
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), original(x))
    assert load_model(str(tmp_path / "m.pt"), num_classes=4).name == "resnet_small"


def test_load_model_errors_name_the_fix(tmp_path):
    torch.save(load_model("mnist_cnn").net.state_dict(), tmp_path / "upstream.pth")
    with pytest.raises(ConfigError, match="pass architecture= one of"):
        load_model(tmp_path / "upstream.pth")
    assert load_model(tmp_path / "upstream.pth", architecture="mnist_cnn").name == "mnist_cnn"
    with pytest.raises(ConfigError, match="is a mnist_cnn; use model=mnist_cnn"):
        load_model(DEMO, architecture="resnet18")
    with pytest.raises(ConfigError, match="unknown model 'lenet'; choose from"):
        load_model("lenet")
    with pytest.raises(ConfigError):
        load_model("outputs/missing/model.pt")  # a path, not an architecture name


def test_list_models_takes_wildcards():
    assert len(list_models("levine2020_*")) == 14
    assert list_models("*_robust") == ["wong2019_mnist_robust"]
    assert list_models() == sorted(list_models())
    assert set(list_models(pretrained=False)) == {"mnist_cnn", "resnet18", "resnet_small"}


def test_load_dataset_with_plain_arguments():
    data = load_dataset("demo", indices=[3, 1], limit=1)
    assert data.indices.tolist() == [3] and data.images.shape == (1, 1, 28, 28)
    synth = load_dataset("synthetic", split="train", train_size=5, channels=3, height=8, width=8)
    assert synth.images.shape == (5, 3, 8, 8)
    with pytest.raises(ConfigError, match=r"dataset 'demo' does not take \['root'\]"):
        load_dataset("demo", root="data")
    with pytest.raises(ConfigError, match="unknown dataset 'svhn'; choose from"):
        load_dataset("svhn")
    with pytest.raises(ConfigError, match="unknown dataset.split 'val'"):
        load_dataset("demo", split="val")


def test_the_hydra_adapters_call_the_plain_functions(monkeypatch, compose):
    cfg = compose("attack", ["dataset.limit=3"])
    calls = []

    def spy(real):
        def call(*args, **kwargs):
            calls.append((args, kwargs))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(datasets_module, "load_dataset", spy(datasets_module.load_dataset))
    monkeypatch.setattr(build_module, "load_model", spy(build_module.load_model))
    data = build_dataset(cfg.dataset)
    model = build_model(cfg.model, tuple(data.images.shape[1:]), data.num_classes)
    assert calls[0] == (("demo", "test", 3, None), {})
    assert calls[1][0] == (DEMO,) and calls[1][1]["architecture"] == "mnist_cnn"
    assert len(data) == 3 and model.name == "mnist_cnn"


def test_a_checkpoint_named_like_an_architecture_is_still_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = OmegaConf.create({"name": "mnist_cnn", "checkpoint": "mnist_cnn"})
    with pytest.raises(ConfigError):  # the missing file, not a random network
        build_model(cfg)


def test_attacking_a_smoothed_classifier_takes_one_line():
    smoothed = SmoothedClassifier(load_model(DEMO), 10, "wasserstein", 0.01)
    attack = attack_smoothed(WassersteinPGD, smoothed, samples=4, n=20, max_iter=2)
    assert isinstance(attack.model, SmoothedSoftmax) and attack.model.samples == 4
    assert isinstance(attack.judge, HardVoteJudge) and attack.judge.n == 20
    assert attack.schedule[0].iterations == 2
    data = load_dataset("demo", limit=2)
    torch.manual_seed(0)
    result = attack(data.images, data.labels)
    assert result.adv.shape == data.images.shape
