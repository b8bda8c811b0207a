"""One settings object for the Wasserstein threat model (`WassersteinSettings`), with its defaults
stated once, shared by the ball, the steps, the training adversary and the robustness probe."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

import wsattack.attacks.steps as steps_module
from wsattack.attacks import WassersteinBall, WassersteinFW, WassersteinPGD
from wsattack.attacks.steps import WassersteinStep, l2_step
from wsattack.data import ImageData
from wsattack.errors import ConfigError
from wsattack.ot import wasserstein_cost
from wsattack.ot.settings import DEFAULTS, WassersteinSettings
from wsattack.train.adversaries import WassersteinAdversary
from wsattack.train.build import build_objective, build_probe
from wsattack.train.probe import RobustProbe

SRC = Path(__file__).resolve().parents[1] / "src" / "wsattack"
SETTINGS = {f.name for f in fields(WassersteinSettings)}
# Parameters named like a setting that belong to another solver or choose otherwise on purpose.
OTHER_SETTINGS = {
    ("ot/oracle.py", "linear_oracle", "tol"): "the Frank-Wolfe oracle's dual tolerance",
    ("ot/plan_projection.py", "project_plan", "tol"): "the exact plan projection's tolerance",
    ("attacks/plan_attack.py", "__init__", "capacity"): "plan-space attacks are built for it",
}


def _literal_defaults():
    """(file, function or class, name) of every literal default of a setting's name in src/."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            pairs = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                a = node.args
                positional = a.posonlyargs + a.args
                pairs = list(
                    zip(positional[len(positional) - len(a.defaults) :], a.defaults, strict=True)
                )
                pairs += [
                    (k, d)
                    for k, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
                    if d is not None
                ]
                pairs = [(arg.arg, default) for arg, default in pairs]
            elif isinstance(node, ast.ClassDef):
                pairs = [
                    (s.target.id, s.value)
                    for s in node.body
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and s.value
                ]
            for name, default in pairs:
                literal = isinstance(default, ast.Constant) and default.value is not None
                if name in SETTINGS and literal:
                    found.append((where, node.name, name))
    return found


def test_each_wasserstein_default_is_stated_in_one_place():
    found = [f for f in _literal_defaults() if f not in OTHER_SETTINGS]
    assert sorted(found) == sorted(("ot/settings.py", "WassersteinSettings", n) for n in SETTINGS)


def test_the_defaults_are_the_euclidean_cost_everywhere():
    assert (DEFAULTS.p, DEFAULTS.metric, DEFAULTS.kernel_size) == (1, "euclidean", 5)
    torch.testing.assert_close(wasserstein_cost(), wasserstein_cost(5, p=1, metric="euclidean"))
    model = nn.Linear(2, 2)
    assert WassersteinBall().settings == DEFAULTS
    assert WassersteinPGD(model).ball.settings == DEFAULTS
    assert WassersteinFW(model).ball.settings == WassersteinSettings(capacity=True)
    assert WassersteinAdversary().threat == DEFAULTS
    assert (
        RobustProbe(
            ImageData("x", torch.zeros(1, 1, 4, 4), torch.zeros(1).long(), torch.arange(1), 2)
        ).threat
        == DEFAULTS
    )  # noqa: E501


def test_unknown_settings_name_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown Wasserstein setting 'gamma'; choose from: "):
        WassersteinBall(gamma=1.0)
    with pytest.raises(ConfigError, match="lam must be positive"):
        WassersteinSettings(lam=0)
    assert WassersteinSettings(tol=0).tol == 0  # allowed: every iteration runs


def test_the_wasserstein_step_solves_with_every_solver_setting_of_the_ball(monkeypatch):
    seen = {}

    def fake(x, g, eps, cost, **kwargs):
        seen.update(kwargs, cost=cost)
        return type("P", (), {"z": x})()

    monkeypatch.setattr(steps_module, "project_linear", fake)
    ball = WassersteinBall(kernel_size=3, p=2, lam=300.0, sinkhorn_iters=7, tol=1e-3)
    WassersteinStep(ball)(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4), 0.1)
    assert (seen["lam"], seen["max_iter"], seen["tol_dual"], seen["tol_marginal"]) == (
        300.0,
        7,
        1e-3,
        1e-3,
    )
    assert seen["capacity"] is None and torch.equal(seen["cost"], wasserstein_cost(3, p=2))


def test_the_adversary_takes_every_setting_and_its_step():
    adversary = WassersteinAdversary(p=2, metric="l1", tol=1e-3, capacity=True, step="l2")
    attack = adversary.attack(nn.Linear(2, 2))
    assert attack.ball.settings == WassersteinSettings(p=2, metric="l1", tol=1e-3, capacity=True)
    assert attack.step is l2_step


def test_the_probe_attacks_in_the_adversarys_ball():
    adv = OmegaConf.create(
        {"name": "wasserstein", "kernel_size": 3, "p": 2, "lam": 500, "step": "l2", "alpha": 0.2}
    )
    objective = build_objective(adv, None)
    data = ImageData("x", torch.rand(4, 1, 6, 6), torch.zeros(4).long(), torch.arange(4), 3)
    probe_cfg = OmegaConf.create({"every": 1, "size": 4, "radius": 0.1, "max_iter": 2})
    probe = build_probe(probe_cfg, data, objective)
    assert probe.threat == objective.adversary.threat
    assert probe.threat == WassersteinSettings(kernel_size=3, p=2, lam=500)
    assert (probe.step, probe.alpha) == ("l2", 0.2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 3))
    clean, robust = probe(model)
    assert 0 <= robust <= clean <= 1
    # Without a Wasserstein adversary, the default ball.
    plain = build_probe(probe_cfg, data, build_objective(OmegaConf.create({"name": "none"}), None))
    assert plain.threat == DEFAULTS
