"""scripts/check_attack_headroom.py: the costlier attacks run on what `auto` left standing, and
whatever they break is reported as missed, with exact distances within the radius."""

from __future__ import annotations

import importlib.util
import json

import pandas as pd
import pytest
import torch
from conftest import REPO

from wsattack import load_dataset, load_model
from wsattack.attacks.auto import AutoWasserstein

RADIUS = 0.05
ARGS = ["--model", "zoo:demo_fashion_mnist_cnn", "--dataset", "demo", "--data", "", "--n", "8"]
SMALL = ["--radii", str(RADIUS), "--steps", "10", "--targeted-steps", "3"]


@pytest.fixture
def script():
    path = REPO / "scripts" / "check_attack_headroom.py"
    spec = importlib.util.spec_from_file_location("check_attack_headroom", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _weak_auto(model, rerun_above, radii):
    """An `auto` that tries one tiny radius only: it leaves every example standing at RADIUS."""
    assert radii == [RADIUS]  # the script runs auto as `wsattack attack` does
    return AutoWasserstein(model, rerun_above=rerun_above, eps0=1e-3, eps_max=1e-3, pgd_steps=1)


def test_what_a_weak_auto_leaves_is_found_and_each_find_is_in_the_ball(
    script, tmp_path, monkeypatch
):
    monkeypatch.setattr(script, "AutoWasserstein", _weak_auto)
    assert script.main([*ARGS, *SMALL, "--out", str(tmp_path)]) == 0
    row = pd.read_csv(tmp_path / "headroom.csv").iloc[0]
    assert row["auto_standing"] == row["clean"]  # the weak auto broke nothing at RADIUS
    assert 0 < row["missed"] <= row["auto_standing"]
    assert row["missed"] >= max(
        row["broken_pgd10"], row["broken_fw10"], row["broken_pgd3_each_class"]
    )
    missed = json.loads((tmp_path / "headroom.json").read_text())["rows"][0]["missed_indices"]
    assert len(missed) == row["missed"]
    data = load_dataset("demo", limit=8)
    with torch.no_grad():
        correct = load_model("zoo:demo_fashion_mnist_cnn")(data.images).argmax(1) == data.labels
    assert set(missed) <= set(correct.nonzero().squeeze(1).tolist())  # indices of the images


def test_bad_arguments_are_one_line(script, capsys):
    with pytest.raises(SystemExit):
        script.main([*ARGS, "--radii", "0.1,abc"])
    assert "--radii takes numbers" in capsys.readouterr().err
    assert script.main(["--model", "zoo:nope", "--dataset", "demo", "--data", ""]) == 2
    assert "unknown zoo model" in capsys.readouterr().err
