"""Hydra multirun through Hydra's launcher plugins: a joblib and a submitit_local sweep over two
models finish with one run directory per job (its resolved config, cpu_threads=1), `wsattack
report` over the sweep directories writes sweep_summary.csv, and the SLURM presets compose."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import run_cli, train_tiny_classifier
from sharded import ATTACK, SIZE, SYNTH

from wsattack.run import cli


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two tiny models, one trained longer than the other."""
    paths = []
    for epochs in (1, 3):
        run = tmp_path_factory.mktemp(f"model{epochs}")
        train_tiny_classifier(run, size=SIZE, epochs=epochs)
        paths.append(run / "model.pt")
    return paths


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_sweep_over_two_models_and_its_report(tmp_path, models, launcher):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "attack",
        "-m",
        f"hydra/launcher={launcher}",
        *[s for s in SYNTH if not s.startswith("dataset.test_size")],
        "dataset.test_size=8",
        *ATTACK,
        f"model.checkpoint={models[0]},{models[1]}",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for job, model in zip(("0", "1"), models, strict=True):
        config = yaml.safe_load((sweep / job / "config.yaml").read_text())
        assert config["model"]["checkpoint"] == str(model) and config["cpu_threads"] == 1
        assert len(pd.read_csv(sweep / job / "examples.csv")) == 8

    report = tmp_path / "report"
    result = run_cli("report", f"runs=[{sweep}]", f"hydra.run.dir={report}")
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(report / "sweep_summary.csv")
    assert table["job"].tolist() == [str(sweep / "0"), str(sweep / "1")]
    assert table["model.checkpoint"].tolist() == [str(m) for m in models]
    assert table["n"].tolist() == [8, 8] and "acc@0.1" in table
    assert (report / "accuracy_vs_eps.png").is_file()


@pytest.mark.parametrize("preset, partition", [("slurm_cpu", "cpu"), ("slurm_gpu", "gpu")])
def test_slurm_presets_compose_and_are_overridable(compose, preset, partition):
    launcher = compose("attack", [f"hydra/launcher={preset}"]).hydra.launcher
    assert launcher.partition == partition and launcher._target_.endswith("SlurmLauncher")
    changed = compose(
        "attack", [f"hydra/launcher={preset}", "hydra.launcher.partition=long"]
    ).hydra.launcher
    assert changed.partition == "long"


def test_report_of_a_certify_sweep_is_its_sweep_summary(tmp_path):
    """Jobs without examples.csv (certify, train): the report is sweep_summary.csv alone."""
    sweep = tmp_path / "sweep"
    (sweep / ".submitit").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    for job, sigma in (("0", "0.01"), ("1", "0.02")):
        (sweep / job / ".hydra").mkdir(parents=True)
        (sweep / job / ".hydra" / "overrides.yaml").write_text(
            f"- task=certify\n- sigma={sigma}\n- device=cpu\n"
        )
        (sweep / job / "summary.csv").write_text(f"smoothing,sigma,n\nwasserstein,{sigma},12\n")
    report = tmp_path / "report"
    cli(["report", f"runs=[{sweep}]", f"hydra.run.dir={report}"])
    table = pd.read_csv(report / "sweep_summary.csv")
    assert list(table.columns) == ["job", "sigma", "smoothing", "n"]
    assert table["n"].tolist() == [12, 12] and not (report / "report.csv").exists()


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("dataset.limit=2,abc", "dataset.limit must be a positive integer, got 'abc'"),
        ("attack=wasserstein,nope", "nope"),
    ],
)
def test_a_bad_value_anywhere_in_a_sweep_is_one_line_before_any_job(tmp_path, sweep, message):
    result = run_cli("attack", "-m", *SYNTH, sweep, f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "sweep").exists()
