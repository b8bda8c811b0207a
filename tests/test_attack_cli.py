"""`wsattack attack` end to end on synthetic data: CSV schema, resume, targeted runs, errors."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import torch
from conftest import run_cli, train_tiny_classifier

from wsattack.run import cli
from wsattack.tasks.attack_task import EXAMPLE_COLUMNS

SYNTH = [
    "dataset=synthetic",
    "dataset.height=16",
    "dataset.width=16",
    "dataset.test_size=24",
    "device=cpu",
]
FAST = [
    "attack=wasserstein",
    "schedule=geometric",
    "schedule.eps0=0.05",
    "schedule.growth=1.3",
    "schedule.every=3",
    "schedule.max_iter=30",
    "attack.params.p=2",
    "attack.batch_size=8",
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("model")
    train_tiny_classifier(run)
    return run / "model.pt"


def _attack(run_dir, checkpoint, *extra):
    cli(
        [
            "attack",
            *SYNTH,
            "model=mnist_cnn",
            f"model.checkpoint={checkpoint}",
            *FAST,
            f"hydra.run.dir={run_dir}",
            *extra,
        ]
    )


def test_outputs_and_schema(tmp_path, checkpoint):
    _attack(tmp_path, checkpoint)
    frame = pd.read_csv(tmp_path / "examples.csv")
    assert list(frame.columns) == EXAMPLE_COLUMNS and len(frame) == 24
    assert frame["idx"].tolist() == list(range(24)) and (frame["target"] == -1).all()
    assert (frame["verified"] == 1).all() and frame["success"].mean() > 0.5
    broken = frame[frame["success"] == 1]
    assert (broken["exact_cost"] <= broken["eps_found"] * (1 + 1e-3) + 1e-9).all()
    assert (frame.loc[frame["clean_correct"] == 0, "eps_found"] == 0).all()
    curve = pd.read_csv(tmp_path / "accuracy_vs_eps.csv")
    assert (
        curve["accuracy"].is_monotonic_decreasing
        and curve["accuracy"].iloc[0] == frame["clean_correct"].mean()
    )
    for name in ("accuracy_vs_eps.png", "examples.png", "summary.csv", "config.yaml"):
        assert (tmp_path / name).is_file()
    saved = torch.load(tmp_path / "adversarial.pt", weights_only=True)
    assert saved["adv"].shape == (24, 1, 16, 16) and saved["idx"].tolist() == list(range(24))
    assert not pd.read_csv(tmp_path / "examples.csv").isna().any().any()


def test_default_attack_is_auto_and_every_example_passes_the_exact_check(tmp_path):
    # `wsattack attack` with no attack named: `auto` on the packaged demo (first images only).
    cli(["attack", "dataset.limit=6", "attack.batch_size=3", f"hydra.run.dir={tmp_path}"])
    frame = pd.read_csv(tmp_path / "examples.csv", keep_default_na=False, na_values=[])
    assert list(frame.columns) == EXAMPLE_COLUMNS and len(frame) == 6
    broken = frame[(frame["success"] == 1) & (frame["eps_found"] > 0)]
    assert len(broken) > 0 and (broken["verified"] == 1).all()
    assert set(broken["found_by"]) <= {"wasserstein_fw", "wasserstein_pgd"}
    assert (broken["exact_cost"] <= broken["eps_found"] * (1 + 1e-5)).all()
    assert (frame["mass_change"].abs() < 1e-6).all()  # capacity: mass kept, nothing clamped
    adv = torch.load(tmp_path / "adversarial.pt", weights_only=True)["adv"]
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1 + 1e-6
    assert pd.read_csv(tmp_path / "summary.csv")["attack"].item() == "auto"


@pytest.mark.parametrize("radii, first", [("[0.1,0.3]", 0.1), ("[0.02]", 0.02), ("[]", 0.0)])
def test_auto_follows_the_radii_reported(compose, radii, first):
    """Frank-Wolfe reruns above the first radius reported (below it an example PGD broke is
    broken at every radius reported), and the last stage attacks at each radius reported."""
    cfg = compose("attack", [f"attack.report_radii={radii}"])
    assert cfg.attack.name == "auto" and cfg.attack.params.rerun_above == first
    assert list(cfg.attack.params.radii) == list(cfg.attack.report_radii)


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, checkpoint):
    _attack(tmp_path / "full", checkpoint)
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    cut = tmp_path / "cut"
    # Roll back to an interruption after the first batch of 8: its rows and part stay.
    frame = pd.read_csv(cut / "examples.csv")
    frame.iloc[:8].to_csv(cut / "examples.csv", index=False)
    for part in sorted((cut / "adversarial_parts").glob("part_*.pt"))[1:]:
        part.unlink()
    (cut / "adversarial.pt").unlink()
    _attack(cut, checkpoint)
    resumed, full = (
        pd.read_csv(cut / "examples.csv"),
        pd.read_csv(tmp_path / "full" / "examples.csv"),
    )
    assert resumed["idx"].tolist() == list(range(24))  # nothing lost, nothing duplicated
    pd.testing.assert_frame_equal(resumed.drop(columns="time_s"), full.drop(columns="time_s"))
    assert (
        resumed["time_s"].iloc[:8].tolist() == full["time_s"].iloc[:8].tolist()
    )  # first batch not recomputed
    a, b = (torch.load(d / "adversarial.pt", weights_only=True) for d in (cut, tmp_path / "full"))
    assert torch.equal(a["adv"], b["adv"])


def test_targeted_all_classes(tmp_path, checkpoint):
    _attack(
        tmp_path, checkpoint, "dataset.test_size=3", "attack.target=all", "schedule.max_iter=60"
    )
    frame = pd.read_csv(tmp_path / "examples.csv")
    assert len(frame) == 27 and set(frame["target"]) == set(range(10))
    assert (frame["target"] != frame["label"]).all()
    hits = frame[frame["success"] == 1]
    assert (hits["adv_pred"] == hits["target"]).all() and len(hits) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["attack.params.eps0=0"], "attack.params.eps0 must be positive"),
        (["attack=pgd"], "unknown attack 'pgd'; choose from: auto, l2_pgd, linf_pgd, wasserstein,"),
        (
            ["attack=wasserstein", "attack.params.step=newton"],
            "unknown step 'newton'; choose from: l2, linf",
        ),
        (["attack.params.kernel_size=4"], "odd"),
        (["attack.target=12"], "attack.target must be null, all, or a class"),
        (
            ["attack.params.momentum=0.9"],
            "unknown config option 'attack.params.momentum'; valid keys under",
        ),
    ],
)
def test_bad_attack_config_is_one_line(args, message, tmp_path, checkpoint):
    result = run_cli(
        "attack", *SYNTH, f"model.checkpoint={checkpoint}", *args, f"hydra.run.dir={tmp_path}"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (
        message in result.stderr.strip().splitlines()[-1]
        and len(result.stderr.strip().splitlines()) == 1
    )


def test_verify_false_skips_the_exact_check(tmp_path, checkpoint):
    _attack(tmp_path, checkpoint, "dataset.test_size=8", "attack.verify=false")
    frame = pd.read_csv(tmp_path / "examples.csv")
    assert (frame["verified"] == -1).all() and (frame["exact_cost"] == -1).all()
    assert (frame.loc[(frame["success"] == 1) & (frame["eps_found"] > 0), "linf"] > 0).all()
