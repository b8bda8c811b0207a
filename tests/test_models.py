"""Tests parametrized over the whole model registry, checkpoint formats and the zoo."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from wsattack.errors import ConfigError
from wsattack.models import MODELS, ZOO, build_model, save_checkpoint
from wsattack.models.checkpoint import read_checkpoint
from wsattack.models.zoo import ZooEntry, fetch

SHAPES = {"mnist_cnn": (1, 28, 28), "resnet18": (3, 32, 32), "resnet_small": (3, 32, 32)}


def _cfg(name: str, **kw):
    return OmegaConf.create(
        {"name": name, "checkpoint": None, "binarize": False, "normalize": None, **kw}
    )


def test_every_registered_model_has_a_shape_here():
    assert set(MODELS.names()) == set(SHAPES)


@pytest.mark.parametrize("name", MODELS.names())
def test_forward_shape(name):
    model = build_model(_cfg(name), SHAPES[name], num_classes=7).eval()
    out = model(torch.rand(2, *SHAPES[name]))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS.names())
def test_checkpoint_round_trip(name, tmp_path):
    model = build_model(_cfg(name, binarize=True), SHAPES[name]).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, "synthetic", {"test_acc": 0.5})
    again = build_model(_cfg(name, checkpoint=str(path)), SHAPES[name]).eval()
    x = torch.rand(3, *SHAPES[name])
    assert torch.equal(model(x), again(x))
    assert again.preprocessing["binarize"] is True
    _, meta = read_checkpoint(path)
    assert (
        meta["model"] == name and meta["metrics"] == {"test_acc": 0.5} and "package_version" in meta
    )


def _upstream_payloads(sd):
    return {
        "wong_list": {"state_dict": [sd]},
        "plain": sd,
        "levine_module": {
            "net": {f"module.{k}": v for k, v in sd.items()},
            "acc": 99.0,
            "epoch": 199,
        },
    }


@pytest.mark.parametrize("fmt", ["wong_list", "plain", "levine_module"])
def test_upstream_formats_load(fmt, tmp_path):
    ref = build_model(_cfg("mnist_cnn"), (1, 28, 28)).eval()
    sd = ref.net.state_dict()
    assert sorted({k.split(".")[0] for k in sd}) == ["0", "2", "5", "7"]
    path = tmp_path / f"{fmt}.pth"
    torch.save(_upstream_payloads(sd)[fmt], path)
    loaded = build_model(_cfg("mnist_cnn", checkpoint=str(path)), (1, 28, 28)).eval()
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(ref(x), loaded(x))


def test_wrong_architecture_names_keys(tmp_path):
    path = tmp_path / "r.pt"
    save_checkpoint(path, build_model(_cfg("resnet_small"), (3, 32, 32)), "cifar10")
    with pytest.raises(ConfigError, match="missing keys.*unexpected keys"):
        build_model(_cfg("mnist_cnn", checkpoint=str(path)), (1, 28, 28))


def test_binarize_thresholds_but_passes_gradients():
    model = build_model(_cfg("mnist_cnn", binarize=True), (1, 28, 28))
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    assert torch.equal(model.preprocess(x), (x > 0.5).float())
    model(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_normalize_wrapper():
    model = build_model(
        _cfg("resnet18", normalize={"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.5, 1.0]}), (3, 32, 32)
    )
    x = torch.full((1, 3, 32, 32), 0.75)
    assert torch.allclose(model.preprocess(x)[0, :, 0, 0], torch.tensor([1.0, 0.5, 0.25]))
    assert not any(k.startswith("preprocess") for k in model.state_dict())


def test_zoo_table_is_complete():
    sigmas = ("0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5")
    expected = {f"wong2019_mnist_{m}" for m in ("vanilla", "binarize", "robust", "adv_training")}
    expected |= {
        f"levine2020_mnist_{n}_sigma_{s}" for n in ("wasserstein", "laplace") for s in sigmas
    }
    assert expected <= set(ZOO)
    assert all(len(e.sha256) == 64 for e in ZOO.values() if not e.packaged)
    assert ZOO["wong2019_mnist_binarize"].binarize and not ZOO["wong2019_mnist_vanilla"].binarize


def _entry_for(file: Path, sha: str) -> ZooEntry:
    return ZooEntry("test_model", "sub/model.pth", file.as_uri(), sha)


def test_zoo_downloads_into_cache_and_verifies(tmp_path):
    source = tmp_path / "upstream.pth"
    source.write_bytes(b"weights")
    entry = _entry_for(source, hashlib.sha256(b"weights").hexdigest())
    cached = fetch(entry, zoo_dir=None, cache_dir=tmp_path / "cache")
    assert cached == tmp_path / "cache" / "sub" / "model.pth" and cached.read_bytes() == b"weights"
    source.unlink()  # the second call must not need the network
    assert fetch(entry, zoo_dir=None, cache_dir=tmp_path / "cache") == cached


def test_zoo_checksum_mismatch_is_an_error(tmp_path):
    source = tmp_path / "upstream.pth"
    source.write_bytes(b"tampered")
    with pytest.raises(ConfigError, match="checksum mismatch"):
        fetch(_entry_for(source, "0" * 64), zoo_dir=None, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "sub" / "model.pth").exists()


def test_zoo_mirror_used_without_network(tmp_path, monkeypatch):
    (tmp_path / "mirror" / "sub").mkdir(parents=True)
    (tmp_path / "mirror" / "sub" / "model.pth").write_bytes(b"w")
    entry = ZooEntry(
        "test_model",
        "sub/model.pth",
        "http://unreachable.invalid/x",
        hashlib.sha256(b"w").hexdigest(),
    )
    monkeypatch.setenv("WSATTACK_ZOO_DIR", str(tmp_path / "mirror"))
    assert fetch(entry, cache_dir=tmp_path / "cache") == tmp_path / "mirror" / "sub" / "model.pth"
