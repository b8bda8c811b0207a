"""The `experiment=` presets of issue #4 compose to their papers' settings; overrides win."""

from __future__ import annotations

import pytest

# preset -> (dataset, kernel_size, p, lam, eps0, growth, max_iter)
PRESETS = {
    "wong2019_mnist": ("mnist", 5, 1, 1000, 0.3, 1.1, 200),
    "wong2019_mnist_code": ("mnist", 7, 2, 1000, 0.7, 1.1, 200),
    "wong2019_cifar10": ("cifar10", 5, 2, 3000, 0.001, 1.17, 400),
    "levine2020_attack_baseline": ("mnist", 5, 1, 1000, 0.3, 1.1, 200),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_settings(compose, preset):
    cfg = compose("attack", [f"experiment={preset}"])
    params, schedule = cfg.attack.params, cfg.schedule
    got = (cfg.dataset.name, params.kernel_size, params.p, params.lam)
    got += (schedule.eps0, schedule.growth, schedule.max_iter)
    assert got == PRESETS[preset]
    assert (cfg.attack.name, schedule.name, schedule.every) == ("wasserstein", "geometric", 10)
    assert (params.step, params.alpha, params.clamp) == ("linf", 0.1, True)


def test_command_line_overrides_win_over_a_preset(compose):
    overrides = ["experiment=wong2019_mnist", "dataset.limit=10", "attack.params.p=2"]
    overrides += ["schedule.eps0=0.5", "model.checkpoint=zoo:wong2019_mnist_robust"]
    cfg = compose("attack", overrides)
    assert (cfg.dataset.limit, cfg.attack.params.p, cfg.schedule.eps0) == (10, 2, 0.5)
    assert cfg.model.checkpoint == "zoo:wong2019_mnist_robust"
    assert (
        compose("attack", ["experiment=wong2019_mnist", "dataset=synthetic"]).dataset.name
        == "synthetic"
    )


def test_attack_defaults_to_the_demo_with_auto_and_groups_still_switch(compose):
    default = compose("attack")
    assert default.dataset.name == "demo" and default.attack.name == "auto"
    cfg = compose("attack", ["dataset=mnist", "attack=wasserstein"])
    assert cfg.dataset.name == "mnist" and cfg.attack.params.p == 1
    # No schedule group unless one is chosen: the attack runs its own (the paper's, from 0.3).
    assert cfg.get("schedule") is None and cfg.attack.params.eps0 == 0.3
    # The paper presets keep the paper's attack whatever the default.
    assert compose("attack", ["experiment=wong2019_mnist"]).attack.name == "wasserstein"
