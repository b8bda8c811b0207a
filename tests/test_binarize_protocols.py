"""Both binarized-model protocols: binarization inside the model (the defense as deployed) and
the authors' (binarize the clean image once, attack the plain network), chosen by
`model.binarize_at`."""

from __future__ import annotations

import pytest
import torch
from conftest import train_tiny_classifier

from wsattack import load_dataset, load_model
from wsattack.errors import ConfigError
from wsattack.models.binarize import binarize_at
from wsattack.run import cli

DEMO = "zoo:demo_fashion_mnist_cnn"


def test_input_protocol_binarizes_the_clean_images_and_attacks_the_plain_network():
    model = load_model(DEMO, binarize=True)
    data = load_dataset("demo", limit=6)
    plain, binary = binarize_at("input", model, data)
    assert not plain.preprocessing["binarize"] and model.preprocessing["binarize"]
    assert plain.net is model.net and not plain.training
    assert set(binary.images.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(plain(binary.images), model(binary.images))
    # Off the binary images the two differ: the plain network sees grey levels.
    assert not torch.equal(plain(data.images), model(data.images))
    assert (binary.labels.equal(data.labels), binary.indices.equal(data.indices)) == (True, True)


def test_model_protocol_changes_nothing_and_input_needs_a_binarized_model():
    model, data = load_model(DEMO, binarize=True), load_dataset("demo", limit=2)
    assert binarize_at("model", model, data) == (model, data)
    with pytest.raises(ConfigError, match="is not binarized"):
        binarize_at("input", load_model(DEMO), data)


@pytest.mark.parametrize("where", ["model", "input"])
def test_cli_attacks_a_binarized_model_under_either_protocol(tmp_path, where):
    run = tmp_path / "model"
    train_tiny_classifier(run)
    cli(
        [
            "attack",
            "dataset=synthetic",
            "dataset.height=16",
            "dataset.width=16",
            "dataset.test_size=8",
            "model=mnist_cnn",
            f"model.checkpoint={run / 'model.pt'}",
            "model.binarize=true",
            f"model.binarize_at={where}",
            "attack=wasserstein",
            "attack.params.max_iter=20",
            "attack.params.p=2",
            f"hydra.run.dir={tmp_path / where}",
        ]
    )
    saved = torch.load(tmp_path / where / "adversarial.pt", weights_only=True)
    clean_is_binary = set(saved["clean"].unique().tolist()) <= {0.0, 1.0}
    assert clean_is_binary == (where == "input")
