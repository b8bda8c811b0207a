"""`wsattack eval` on the authors' checkpoints reproduces the Wong 2019 paper's Table 1 exactly."""

from __future__ import annotations

import pandas as pd
import pytest

from wsattack.run import cli


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wong2019_mnist_vanilla", 0.9889),
        ("wong2019_mnist_binarize", 0.9873),
        ("wong2019_mnist_robust", 0.9820),
    ],
)
def test_clean_accuracy_matches_the_paper(name, expected, shared, tmp_path, capsys):
    cli(
        [
            "eval",
            f"model.checkpoint=zoo:{name}",
            "dataset=mnist",
            f"dataset.root={shared / 'data'}",
            f"zoo.dir={shared / 'checkpoints'}",
            "device=cpu",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert metrics["n"][0] == 10_000
    assert metrics["accuracy"][0] == pytest.approx(expected, abs=1e-9)
    assert f"{expected:.4f}" in capsys.readouterr().out
