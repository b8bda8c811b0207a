"""eps_failed (where the attack last ran and failed) and the unmeasured counts built on it: PGD's
semantics on a tiny model, the counts on hand-made arrays, and the attack task's new columns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import train_tiny_classifier
from test_attack_cli import _attack

from wsattack.attacks import LinfPGD, WassersteinPGD
from wsattack.attacks.verify import verify
from wsattack.data import synthetic_images
from wsattack.results.robustness import (
    accuracy_at,
    unmeasured_at,
    unmeasured_curve,
    unmeasured_stretches,
)
from wsattack.tasks.attack_task import EXAMPLE_COLUMNS, _is_wasserstein, _warn_unmeasured

SIZE = 16
EPS0, GROWTH, EVERY = 0.05, 1.3, 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny classifier (saved as model.pt too) and 24 held-out images, 4 misclassified."""
    run = tmp_path_factory.mktemp("model")
    model = train_tiny_classifier(run, SIZE, epochs=5)
    test = synthetic_images(64, height=SIZE, width=SIZE, seed=1)
    correct = model(test.images).argmax(1) == test.labels
    rows = torch.cat([correct.nonzero().squeeze(1)[:20], (~correct).nonzero().squeeze(1)[:4]])
    return model, test.select(rows), run / "model.pt"


def _geometric_radius(k: torch.Tensor) -> torch.Tensor:
    """Radius of the k-th projected iterate (k >= 1) of the geometric schedule below."""
    return EPS0 * GROWTH ** ((k - 1) // EVERY).double()


def test_pgd_eps_failed_is_the_radius_of_the_last_check_not_fooled(trained):
    model, data, _ = trained
    # Few iterations: some examples are broken, some never.
    attack = WassersteinPGD(model, eps0=EPS0, growth=GROWTH, every=EVERY, max_iter=9, p=2)
    result = attack(data.images, data.labels)
    k = result.iterations
    clean_wrong = result.clean_pred != data.labels
    never = ~result.success
    later = result.success & (k > 1)
    first = result.success & (k == 1)
    assert never.any() and later.any() and clean_wrong.any()
    # Never fooled: the final iterate, checked last, at the final radius.
    assert torch.equal(result.eps_failed[never], result.radius[never])
    assert torch.allclose(result.eps_failed[never], _geometric_radius(k[never]))
    # Fooled at the k-th iterate: the (k-1)-th was checked and stood (0: the clean image).
    assert torch.allclose(result.eps_failed[later], _geometric_radius(k[later] - 1))
    assert (result.eps_failed[first] == 0).all()
    assert (result.eps_failed[clean_wrong] == 0).all() and (
        result.eps_found[clean_wrong] == 0
    ).all()
    assert (result.eps_failed <= result.eps_found).all()
    assert result.found_by is None


def test_pgd_eps_failed_with_a_fixed_schedule(trained):
    model, data, _ = trained
    radii, steps = (0.02, 0.05, 0.1), 4
    attack = LinfPGD(model, schedule="fixed", radii=radii, max_iter=steps)
    result = attack(data.images, data.labels)
    assert (verify(attack.ball, data.images, result).verified == 1).all()
    k, hit = result.iterations, result.success
    # Broken at once, broken in a later stage (failed at the stage before), never broken.
    assert (hit & (k == 1)).any() and (hit & (k > steps)).any() and (~hit).any()
    for i in range(len(data)):
        k = int(result.iterations[i])
        if result.clean_pred[i] != data.labels[i]:
            assert result.eps_failed[i] == 0 and k == 0
        elif result.success[i]:
            assert result.eps_found[i] == radii[(k - 1) // steps]
            assert result.eps_failed[i] == (radii[(k - 2) // steps] if k > 1 else 0)
        else:
            assert result.eps_failed[i] == radii[-1] and k == steps * len(radii)


# eps_found / eps_failed of six examples: misclassified clean, broken at its first check, broken
# after failing at 0.3, never broken after failing at 1.0, never broken but stopped at 0.2.
EPS_FOUND = [0.0, 0.05, 0.3, 0.5, math.inf, math.inf]
EPS_FAILED = [0.0, 0.0, 0.0, 0.3, 1.0, 0.2]


def test_unmeasured_counts_on_hand_made_arrays():
    radii = [0.0, 0.1, 0.3, 0.5, 1.0, 2.0]
    # r=0.1: #2 (eps_found 0.3) counted but never attacked at >= 0.1; r=0.3..1.0: #5 stopped at
    # 0.2; r=2: #4 and #5. At 0 every example counted (clean, correct) was checked.
    assert unmeasured_at(EPS_FOUND, EPS_FAILED, radii).tolist() == [0, 1, 1, 1, 1, 2]
    assert accuracy_at(EPS_FOUND, radii).tolist() == pytest.approx(
        [5 / 6, 4 / 6, 3 / 6, 2 / 6, 2 / 6, 2 / 6]
    )
    # An attack that does not track eps_failed (all 0): every count above radius 0 is unmeasured.
    counted = (np.array(EPS_FOUND)[None, :] > np.array(radii)[:, None]).sum(1)
    assert unmeasured_at(EPS_FOUND, np.zeros(6), radii).tolist() == [0, *counted[1:].tolist()]
    assert unmeasured_at([], [], radii).tolist() == [0] * 6
    with pytest.raises(ValueError, match="differ in shape"):
        unmeasured_at([0.1, 0.2], [0.0], radii)


def test_unmeasured_curve_and_dashed_stretches():
    grid, accuracy, unmeasured = unmeasured_curve(EPS_FOUND, EPS_FAILED, [0.1, 2.0])
    # Every eps_found, every eps_failed and the extra radii, once each.
    assert grid.tolist() == [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
    assert accuracy.tolist() == pytest.approx(accuracy_at(EPS_FOUND, grid).tolist())
    assert unmeasured.tolist() == [0, 1, 1, 1, 1, 1, 1, 2]
    assert not np.isnan(accuracy).any()
    # Every step holds an example counted but not backed: #1 or #2 (failed at 0) below 0.3,
    # #5 (stopped at 0.2) above.
    assert unmeasured_stretches(grid, EPS_FOUND, EPS_FAILED).all()
    # Steps judged at their midpoints: #2 (failed at 0.2) is unmeasured on (0.2, 0.3), #3 (failed
    # at 0.3) on (0.3, 0.5); the rest are backed, the never-broken ones up to 2.
    failed = [0.0, 0.04, 0.2, 0.3, 2.0, 2.0]
    expected = [False, False, False, True, True, False, False, False]
    assert unmeasured_stretches(grid, EPS_FOUND, failed).tolist() == expected
    assert unmeasured_stretches([], [], []).tolist() == []


def test_wasserstein_axis_label_for_every_wasserstein_attack(trained):
    model = trained[0]
    assert _is_wasserstein(WassersteinPGD(model))
    assert not _is_wasserstein(LinfPGD(model))


def test_unmeasured_warning_says_what_would_measure_it(caplog):
    eps, failed = np.array(EPS_FOUND), np.array(EPS_FAILED)
    caplog.set_level("WARNING", logger="wsattack")
    _warn_unmeasured(eps, failed, [0.0, 0.1], 0.3)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        "acc@0.1 counts 1 of 6 examples never attacked at radius >= 0.1 (the schedule starts at "
        "0.3): it is an upper bound; start the schedule lower"
    )
    caplog.clear()
    # At 0.4: #5 stopped at 0.2; at 0.45, #3 (broken at 0.5) only failed at 0.3, below.
    _warn_unmeasured(eps, failed, [0.4, 0.45], 0.05)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "acc@0.4 counts 2 of 6" in line and "acc@0.45 counts 2 of 6" in line
    assert line.endswith(
        "they are upper bounds; let the schedule run to larger radii and put the reported radii "
        "on the schedule (schedule=fixed)"
    )
    caplog.clear()
    _warn_unmeasured(eps, np.array([0.0, 0.05, 0.3, 0.5, 5.0, 5.0]), [0.1, 1.0], 0.05)
    assert not caplog.records


def test_unmeasured_warning_of_a_radius_search_names_its_precision(caplog):
    # A bisection ends with [eps_failed, eps_found] within rtol: one straddling 0.05 is bracketed.
    caplog.set_level("WARNING", logger="wsattack")
    _warn_unmeasured(np.array([0.0502, 0.2]), np.array([0.0497, 0.196]), [0.05, 0.1], None, 0.02)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        "acc@0.05 counts 1 of 2 examples never attacked at radius >= 0.05: it is an upper "
        "bound; their radii are bracketed around it to rtol=0.02 (attack.params.rtol)"
    )


def test_cli_writes_eps_failed_found_by_and_unmeasured(tmp_path, trained):
    checkpoint = trained[2]
    # Reported radii below the schedule's start (1.0) and beyond where it stops (6 steps).
    _attack(
        tmp_path,
        checkpoint,
        "dataset.test_size=16",
        "schedule.eps0=1.0",
        "attack.params.alpha=0.5",
        "schedule.max_iter=6",
        "attack.report_radii=[0.01,0.1,50]",
    )
    frame = pd.read_csv(tmp_path / "examples.csv", keep_default_na=False, na_values=[])
    assert list(frame.columns) == EXAMPLE_COLUMNS and len(frame) == 16
    assert (frame["found_by"] == "wasserstein").all()
    assert (frame["eps_failed"] <= frame["eps_found"]).all() and (frame["eps_failed"] >= 0).all()
    never = frame[frame["success"] == 0]
    assert (never["eps_failed"] > 0).all()
    summary = pd.read_csv(tmp_path / "summary.csv")
    columns = list(summary.columns)
    for r in ("0.01", "0.1", "50"):
        assert columns.index(f"unmeasured@{r}") == columns.index(f"acc@{r}") + 1
        eps, failed = frame["eps_found"], frame["eps_failed"]
        expected = int(((eps > float(r)) & (failed < float(r))).sum())
        assert summary[f"unmeasured@{r}"].item() == expected
    # Every example standing at 50 stopped far below it; at 0.01 the ones broken at once count.
    assert summary["unmeasured@50"].item() == len(never) > 0
    assert summary["unmeasured@0.01"].item() > 0
    curve = pd.read_csv(tmp_path / "accuracy_vs_eps.csv")
    assert list(curve.columns) == ["eps", "accuracy", "unmeasured"]
    assert curve.loc[curve["eps"] == 0, "unmeasured"].item() == 0
    assert curve.loc[curve["eps"] == 50, "unmeasured"].item() == len(never)
    for name in ("examples.csv", "summary.csv", "accuracy_vs_eps.csv"):
        assert not pd.read_csv(tmp_path / name).isna().any().any()
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert "acc@0.01 counts" in logs and "(the schedule starts at 1)" in logs


def test_cli_refine_brackets_every_radius_the_schedule_found(tmp_path, trained):
    _attack(tmp_path, trained[2], "dataset.test_size=8", "attack.params.refine=true")
    frame = pd.read_csv(tmp_path / "examples.csv", keep_default_na=False, na_values=[])
    broken = frame[(frame["success"] == 1) & (frame["eps_found"] > 0)]
    assert len(broken) > 0 and (broken["verified"] == 1).all()
    width = broken["eps_found"] / broken["eps_failed"].where(broken["eps_failed"] > 0)
    tiny = broken["eps_found"] <= 1e-3  # fooled at every radius tried: bisected down to eps_min
    assert ((width <= 1.02 * (1 + 1e-9)) | tiny).all(), width.tolist()


def test_resuming_a_run_from_before_eps_failed(tmp_path, trained):
    checkpoint = trained[2]
    _attack(tmp_path, checkpoint, "dataset.test_size=16")
    frame = pd.read_csv(tmp_path / "examples.csv", keep_default_na=False, na_values=[])
    # As an older version left it after one batch of 8.
    frame.iloc[:8].drop(columns=["eps_failed", "found_by"]).to_csv(
        tmp_path / "examples.csv", index=False
    )
    for part in sorted((tmp_path / "adversarial_parts").glob("part_*.pt"))[1:]:
        part.unlink()
    _attack(tmp_path, checkpoint, "dataset.test_size=16")
    resumed = pd.read_csv(tmp_path / "examples.csv", keep_default_na=False, na_values=[])
    assert list(resumed.columns) == EXAMPLE_COLUMNS and resumed["idx"].tolist() == list(range(16))
    assert (resumed["eps_failed"].iloc[:8] == 0).all()
    pd.testing.assert_frame_equal(
        resumed.iloc[8:].drop(columns="time_s"), frame.iloc[8:].drop(columns="time_s")
    )
