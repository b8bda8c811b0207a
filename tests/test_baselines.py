"""The l_inf and l_2 baselines carry their own radius schedules: from the CLI on the packaged demo
their curves fall from the clean accuracy at their smallest radius; the `schedule` group replaces
an attack's schedule only when it is chosen."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from wsattack.attacks.build import build_attack
from wsattack.errors import ConfigError
from wsattack.run import cli

RADII = {"linf_pgd": [0.01, 0.02, 0.05, 0.1, 0.2, 0.3], "l2_pgd": [0.1, 0.25, 0.5, 1.0, 2.0, 3.0]}


@pytest.mark.parametrize("attack", sorted(RADII))
def test_baseline_on_the_demo_falls_from_clean_accuracy_at_its_smallest_radius(tmp_path, attack):
    cli(["attack", f"attack={attack}", "dataset.limit=30", f"hydra.run.dir={tmp_path}"])
    curve = pd.read_csv(tmp_path / "accuracy_vs_eps.csv")
    assert curve["eps"].tolist() == [0.0, *RADII[attack]]
    clean, first = curve["accuracy"].iloc[0], curve["accuracy"].iloc[1]
    assert clean > 0.5 and first < clean
    assert curve["accuracy"].is_monotonic_decreasing and curve["accuracy"].iloc[-1] < clean / 2
    # Every radius is on the schedule: every reported accuracy is measured there.
    assert (curve["unmeasured"] == 0).all()
    frame = pd.read_csv(tmp_path / "examples.csv")
    broken = frame[(frame["success"] == 1) & (frame["eps_found"] > 0)]
    assert set(broken["eps_found"]) <= set(RADII[attack]) and (broken["verified"] == 1).all()


def _model():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


@pytest.mark.parametrize("attack", ["wasserstein", "linf_pgd", "l2_pgd"])
def test_each_attack_runs_its_own_schedule_without_the_group(compose, attack):
    cfg = compose("attack", [f"attack={attack}"])
    assert cfg.get("schedule") is None
    built = build_attack(_model(), cfg.attack, cfg.get("schedule"))
    params = cfg.attack.params
    assert built.schedule.name == params.schedule
    if params.schedule == "fixed":
        assert list(built.schedule.settings["radii"]) == list(cfg.attack.report_radii)
    else:
        assert built.schedule[0].radius(0) == params.eps0


def test_the_schedule_group_replaces_the_attacks_own_when_chosen(compose):
    cfg = compose("attack", ["attack=linf_pgd", "schedule=geometric", "schedule.eps0=0.02"])
    built = build_attack(_model(), cfg.attack, cfg.schedule)
    assert repr(built.schedule) == "geometric(eps0=0.02, growth=1.1, every=10, max_iter=200)"
    # The attack's own settings still reach it.
    assert built.alpha == cfg.attack.params.alpha


def test_attacks_without_a_schedule_refuse_the_group(compose):
    cfg = compose("attack", ["attack=wasserstein_fw", "schedule=fixed"])
    with pytest.raises(ConfigError, match="has no radius schedule"):
        build_attack(_model(), cfg.attack, cfg.schedule)


def test_attack_params_set_the_own_schedule(compose):
    cfg = compose("attack", ["attack=l2_pgd", "attack.params.radii=[0.5,1.5]"])
    assert list(cfg.attack.report_radii) == [0.5, 1.5]  # reported where attacked
    built = build_attack(_model(), cfg.attack, None)
    assert [stage.radius(0) for stage in built.schedule] == [0.5, 1.5]
    x = torch.rand(3, 1, 4, 4)
    assert built(x, torch.zeros(3, dtype=torch.long)).adv.shape == x.shape
