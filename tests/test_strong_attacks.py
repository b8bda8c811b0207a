"""The plan-space attacks (`wasserstein_fw`, `wasserstein_pgd`, `auto`), and the radius refinement
of the projected-Sinkhorn `wasserstein`, against the exact answer.

For a linear classifier the smallest local Wasserstein perturbation (k = 3, Euclidean cost,
capacity 1) that flips an image is a linear program over transport plans P >= 0:

    minimize <C, P> / mass(x)  s.t.  rows = x, column sums <= 1,
                                     (w_other - w_label) . colsums(P) + (b_other - b_label) >= 0

solved here by HiGHS. No attack may report a radius below it (its adversarial image would lie
outside the ball it claims), and a strong attack's radius must be close above it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
import torch
from local_lp import local_variables

from wsattack.attacks import AutoWasserstein, WassersteinFW, WassersteinPGD, WassersteinPlanPGD
from wsattack.attacks.auto import AT_RADIUS, TARGETED_AT_RADIUS
from wsattack.attacks.search import Attempt
from wsattack.attacks.verify import verify
from wsattack.errors import ConfigError
from wsattack.ot import wasserstein_cost

SIDE = 6
COST = wasserstein_cost(3, p=1)
RTOL = 0.01
NAMES = ("wasserstein_fw", "wasserstein_pgd", "auto")


class Linear(torch.nn.Module):
    """Flatten + Linear with fixed weights; records the mode of every forward call."""

    def __init__(self, weight, bias):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(SIDE * SIDE, len(bias)))
        with torch.no_grad():
            self.net[1].weight.copy_(weight)
            self.net[1].bias.copy_(bias)
        self.requires_grad_(False)
        self.modes: list[bool] = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.net(x)


def lp_min_radius(x, weight, bias, goal, targeted=False) -> float:
    """Smallest radius (per unit mass of x) of an image z = colsums(P) with z <= 1 on which
    class `goal` is beaten (untargeted: with 2 classes, the other one scores >= it) or wins
    (targeted: it scores >= every other class)."""
    x = x.double().numpy()
    w, b = weight.double().numpy(), bias.double().numpy()
    rows, cols, cvec, dst = local_variables(x.shape, COST)
    others = [j for j in range(len(b)) if j != goal]
    if not targeted:
        assert len(others) == 1, "untargeted LP only for 2 classes"
    # margin_j(z) = (w_goal - w_j) . z + (b_goal - b_j): untargeted needs -margin >= 0,
    # targeted needs margin_j >= 0 for every j.
    sign = 1.0 if targeted else -1.0
    margins = [sign * (w[goal] - w[j])[dst] for j in others]
    offsets = [sign * (b[goal] - b[j]) for j in others]
    A_ub = sp.vstack([sp.csr_matrix(-np.stack(margins)), cols])
    b_ub = np.concatenate([offsets, np.maximum(1.0, x.flatten())])
    res = scipy.optimize.linprog(
        cvec / x.sum(),
        A_ub=A_ub,
        b_ub=b_ub,
        A_eq=rows,
        b_eq=x.flatten(),
        bounds=(0, None),
        method="highs",
    )
    assert res.status == 0, res.message
    return float(res.fun)


def _pool(n, classes, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, SIDE, SIDE, generator=g)
    x = x * (torch.rand(n, 1, SIDE, SIDE, generator=g) < 0.6)
    x[torch.rand(n, 1, SIDE, SIDE, generator=g) < 0.25] = 1.0  # saturated pixels, exactly 1
    weight = torch.randn(classes, SIDE * SIDE, generator=g)
    return x, weight


@pytest.fixture(scope="module")
def binary():
    """5 images a 2-class linear model classifies correctly, minimal radii 0.039-0.113 (LP)."""
    x, weight = _pool(40, 2, seed=0)
    bias = torch.zeros(2)
    model = Linear(weight, bias)
    with torch.no_grad():
        labels = model(x).argmax(1)
    lp = np.array([lp_min_radius(x[i], weight, bias, int(labels[i])) for i in range(len(x))])
    keep = np.nonzero((lp > 0.03) & (lp < 0.8))[0][:5]
    assert len(keep) == 5 and len(set(labels[keep].tolist())) == 2
    assert (x[keep] == 1.0).any() and (x[keep] == 0.0).any()
    model.modes.clear()
    return model, x[keep], labels[keep], torch.as_tensor(lp[keep])


def _settings(lp):
    return dict(
        kernel_size=3,
        p=1,
        capacity=True,
        rtol=RTOL,
        eps0=float(lp.min()) / 3,  # below every minimal radius: the search brackets upward
        eps_max=4.0,
    )


@pytest.fixture(scope="module")
def attacks(binary):
    """Each attack once, with its defaults, on the binary examples (same seed)."""
    model, x, labels, lp = binary
    kw = _settings(lp)
    built = {
        "wasserstein_fw": WassersteinFW(model, **kw),
        "wasserstein_pgd": WassersteinPlanPGD(model, **kw),
        "auto": AutoWasserstein(model, **kw),
    }
    results = {}
    for name, attack in built.items():
        torch.manual_seed(0)
        results[name] = (attack, attack(x, labels))
    return results


@pytest.mark.parametrize("name", NAMES)
def test_radius_within_five_percent_of_the_lp_minimum(attacks, binary, name):
    *_, lp = binary
    _, res = attacks[name]
    assert res.success.all()
    ratio = res.eps_found / lp
    assert (ratio <= 1.05).all(), ratio.tolist()


@pytest.mark.parametrize("name", NAMES)
def test_radius_never_below_the_lp_minimum(attacks, binary, name):
    """Below the LP minimum no image in the ball is misclassified: a smaller radius means an
    adversarial image outside the ball its radius claims."""
    *_, lp = binary
    _, res = attacks[name]
    found = res.eps_found[res.success]
    assert (found >= lp[res.success] * (1 - 1e-6)).all(), (found / lp[res.success]).tolist()


def test_projected_sinkhorn_refine_brackets_each_radius_above_the_lp_minimum(binary):
    """`wasserstein` with refine: the schedule fools every example at its first radius (0.3,
    above every LP minimum); the bisection then brings each radius down to within rtol of a
    radius it failed at, never below the LP minimum, every example verified."""
    model, x, labels, lp = binary
    kw = dict(kernel_size=3, p=1, capacity=True, max_iter=40)
    plain = WassersteinPGD(model, **kw)(x, labels)
    attack = WassersteinPGD(model, refine=True, rtol=RTOL, **kw)
    refined = attack(x, labels)
    assert plain.success.all() and refined.success.all()
    assert (plain.eps_found == 0.3).all() and (refined.eps_found < 0.3).all()
    assert (refined.eps_found >= lp * (1 - 1e-6)).all(), (refined.eps_found / lp).tolist()
    assert (refined.eps_failed > 0).all()
    assert (refined.eps_found <= refined.eps_failed * (1 + RTOL) * (1 + 1e-12)).all()
    assert verify(attack.ball, x, refined).verified.all()
    assert (refined.iterations > plain.iterations).all()
    assert "refine=True, rtol=0.01, refine_iter=20" in repr(attack)


def _rows(res, ok):
    """The AttackResult restricted to the examples `ok`."""
    names = ("adv", "success", "eps_found", "iterations", "clean_pred", "adv_pred", "radius")
    return type(res)(**{name: getattr(res, name)[ok] for name in names})


@pytest.mark.parametrize("name", NAMES)
def test_adversarial_images_are_valid(attacks, binary, name):
    model, x, labels, _ = binary
    attack, res = attacks[name]
    ok = res.success
    assert ok.any()
    adv, clean = res.adv[ok].double(), x[ok].double()
    assert adv.min() >= 0 and adv.max() <= 1, (adv.min(), adv.max())
    mass, adv_mass = clean.sum(dim=(1, 2, 3)), adv.sum(dim=(1, 2, 3))
    assert ((adv_mass - mass).abs() <= 1e-6 * mass).all()
    check = verify(attack.ball, x[ok], _rows(res, ok))
    assert (check.verified == 1).all(), (check.exact_cost, res.radius[ok])
    assert (check.exact_cost <= res.eps_found[ok] * (1 + 1e-3) + 1e-9).all()
    with torch.no_grad():
        pred = model.net(res.adv[ok].float()).argmax(1)
    assert (pred != labels[ok]).all()
    assert torch.equal(res.adv_pred[ok], pred)


def test_auto_never_worse_than_its_first_stage_alone(attacks, binary):
    _, x, labels, _ = binary
    attack, auto = attacks["auto"]
    alone = attack.stages["wasserstein_pgd"](x, labels)
    assert (auto.eps_found <= alone.eps_found).all(), (auto.eps_found, alone.eps_found)


def test_auto_names_the_stage_that_found_each_radius(attacks):
    attack, res = attacks["auto"]
    stages = set(attack.stages)
    assert stages == {"wasserstein_fw", "wasserstein_pgd", AT_RADIUS}
    assert res.found_by is not None and len(res.found_by) == len(res.eps_found)
    for found, by in zip(res.eps_found.tolist(), res.found_by, strict=False):
        if np.isfinite(found) and found > 0:
            assert by in stages, by


@pytest.mark.parametrize("name", NAMES)
def test_eps_failed_brackets_eps_found(attacks, name):
    _, res = attacks[name]
    broken = res.success & (res.eps_found > 0)
    assert broken.any()
    found, failed = res.eps_found[broken], res.eps_failed[broken]
    # A failure above the exact distance of the point found is recorded at that distance.
    assert (failed <= found).all(), (failed, found)
    tight = failed > 0
    ratio = found[tight] / failed[tight]
    assert (ratio <= 1 + RTOL + 1e-9).all(), ratio.tolist()


class _Fixed:
    """A stage that returns a fixed AttackResult (only the rows it is asked about), unmeasured
    (so auto solves its points exactly)."""

    measure = False

    def __init__(self, result):
        self.result = result

    def __call__(self, images, labels, targets=None, start=None, hi=None):
        return self.result


def test_auto_eps_failed_stays_at_most_eps_found_when_fw_improves(binary):
    """PGD breaks the example at 0.2 after failing at 0.18; FW, searching below 0.2, breaks it
    at 0.1 after failing at 0.099. auto reports eps_found 0.1 and eps_failed 0.1: PGD's failure
    at 0.18, above the radius kept, is recorded at it (as the search records a failure above a
    measured radius), so the example counts as measured at every radius up to 0.1."""
    from wsattack.attacks import AttackResult

    model, x, labels, _ = binary
    x, labels = x[:1], labels[:1]

    def result(found, failed):
        f64 = dict(dtype=torch.float64)
        return AttackResult(
            adv=x.clone(),  # distance 0: passes auto's exact check at any radius
            success=torch.tensor([True]),
            eps_found=torch.tensor([found], **f64),
            iterations=torch.tensor([5]),
            clean_pred=labels.clone(),
            adv_pred=1 - labels,
            radius=torch.tensor([found], **f64),
            eps_failed=torch.tensor([failed], **f64),
        )

    auto = AutoWasserstein(model, kernel_size=3)
    auto.stages = {
        "wasserstein_pgd": _Fixed(result(0.2, 0.18)),
        "wasserstein_fw": _Fixed(result(0.1, 0.099)),
    }
    res = auto(x, labels)
    assert res.eps_found.tolist() == [0.1] and res.found_by == ["wasserstein_fw"]
    assert res.eps_failed.tolist() == [0.1]
    auto.stages["wasserstein_pgd"] = _Fixed(result(0.2, 0.05))  # no failure above 0.1
    assert auto(x, labels).eps_failed.tolist() == [0.099]


# --- targeted mode -------------------------------------------------------------------------------


def test_at_radius_breaks_just_above_the_lp_minimum_and_never_below(binary):
    """One PGD run at a fixed radius: every example at 1.02x its LP minimum, none at 0.98x (a
    success there would be an image outside its ball). A success's eps_found is its exact
    distance, within the radius; a failure returns its last iterate, as every attack does
    (`AttackResult.adv`): inside the ball, still classified as its label, with eps_failed the
    radius."""
    model, x, labels, lp = binary
    pgd = WassersteinPlanPGD(model, steps=60, **_settings(lp))
    above, below = pgd.at_radius(x, labels, lp * 1.02), pgd.at_radius(x, labels, lp * 0.98)
    assert above.success.all() and not below.success.any()
    assert (above.eps_found >= lp * (1 - 1e-6)).all()
    assert (above.eps_found <= lp * 1.02 * (1 + 1e-3)).all()
    assert (verify(pgd.ball, x, above).verified == 1).all()
    assert torch.isinf(below.eps_found).all() and not torch.equal(below.adv, x)
    assert torch.allclose(below.eps_failed, lp * 0.98) and torch.equal(below.adv_pred, labels)
    assert torch.equal(model(below.adv).argmax(1), labels)
    assert (verify(pgd.ball, x, below).verified == 1).all()  # within radius = eps_failed


class _ClaimsOutside(WassersteinPlanPGD):
    """Claims to fool every example with its mass moved 2 pixels: outside a 3x3 ball."""

    def attempt(self, x, labels, targets, eps, start, recall=None):
        moved = torch.roll(x, 2, dims=-1)
        claimed = torch.ones(len(x), dtype=torch.bool)
        return Attempt(claimed, moved, claimed.long(), 1 - labels)


def test_at_radius_counts_no_point_outside_the_ball(binary):
    model, x, labels, lp = binary
    res = _ClaimsOutside(model, **_settings(lp)).at_radius(x, labels, 0.5)
    assert not res.success.any() and torch.isinf(res.eps_found).all()
    assert torch.equal(res.adv, x) and torch.equal(res.adv_pred, labels)


def test_auto_last_stage_breaks_each_example_at_the_radius_reported(binary):
    """A coarse search (rtol 1) leaves radii up to 2x the LP minima. With each example's 1.05x
    LP minimum among the reported radii, the last stage breaks every example there: within the
    radius, never below the LP minimum, verified, and named. Without radii it does not run."""
    model, x, labels, lp = binary
    kw = dict(_settings(lp), rtol=1.0, pgd_steps=1, fw_steps=1)
    coarse = AutoWasserstein(model, **kw)(x, labels)
    assert (coarse.eps_found > lp * 1.1).any()  # room for the last stage
    assert AT_RADIUS not in coarse.found_by
    radii = (lp * 1.05).tolist()
    auto = AutoWasserstein(model, radii=radii, final_window=10.0, **kw)
    res = auto(x, labels)
    assert (res.eps_found <= lp * 1.05 * (1 + 1e-3)).all()
    assert (res.eps_found >= lp * (1 - 1e-6)).all()
    assert (res.eps_found <= coarse.eps_found).all()
    assert (verify(auto.ball, x, res).verified == 1).all()
    improved = (res.eps_found < coarse.eps_found).tolist()
    assert any(improved)
    assert [by == AT_RADIUS for by in res.found_by] == improved
    # The search's failures stay on record (at most the radius kept): still measured below it.
    assert (res.eps_failed <= res.eps_found).all() and (res.eps_failed > 0).all()


@pytest.fixture(scope="module")
def ternary():
    """3 images of a 3-class linear model, each with a target (not its label) and the LP minimum
    of making the target win."""
    x, weight = _pool(12, 3, seed=1)
    bias = torch.zeros(3)
    model = Linear(weight, bias)
    with torch.no_grad():
        labels = model(x).argmax(1)
    targets = (labels + 1) % 3
    lp = np.array(
        [lp_min_radius(x[i], weight, bias, int(targets[i]), targeted=True) for i in range(len(x))]
    )
    keep = np.nonzero((lp > 0.03) & (lp < 1.0))[0][:3]
    assert len(keep) == 3
    return model, x[keep], labels[keep], targets[keep], torch.as_tensor(lp[keep])


@pytest.mark.parametrize("name", NAMES)
def test_targeted_success_means_the_target_is_predicted(ternary, name):
    model, x, labels, targets, lp = ternary
    kw = _settings(lp)
    attack = {
        "wasserstein_fw": lambda: WassersteinFW(model, **kw),
        "wasserstein_pgd": lambda: WassersteinPlanPGD(model, steps=10, **kw),
        "auto": lambda: AutoWasserstein(model, pgd_steps=10, **kw),
    }[name]()
    torch.manual_seed(0)
    res = attack(x, labels, targets)
    assert res.success.all(), res.eps_found
    with torch.no_grad():
        pred = model.net(res.adv.float()).argmax(1)
    assert torch.equal(pred, targets) and torch.equal(res.adv_pred, targets)
    assert (res.eps_found >= lp * (1 - 1e-6)).all(), (res.eps_found / lp).tolist()
    assert (verify(attack.ball, x, res).verified == 1).all()


class _Aimed:
    """A stage whose result depends on the classes it is asked to reach (None: untargeted),
    unmeasured."""

    measure = False

    def __init__(self, results):
        self.results, self.calls = results, []

    def __call__(self, images, labels, targets=None, start=None, hi=None):
        self.calls.append(None if targets is None else targets.tolist())
        return self.results[None if targets is None else tuple(targets.tolist())]


def _fixed_result(x, labels, found, failed, pred):
    from wsattack.attacks import AttackResult

    n, f64 = len(x), dict(dtype=torch.float64)
    return AttackResult(
        adv=x.clone(),  # distance 0: passes auto's exact check at any radius
        success=torch.ones(n, dtype=torch.bool),
        eps_found=torch.full((n,), found, **f64),
        iterations=torch.full((n,), 5),
        clean_pred=labels.clone(),
        adv_pred=pred,
        radius=torch.full((n,), found, **f64),
        eps_failed=torch.full((n,), failed, **f64),
    )


def test_auto_runner_up_stage_aims_at_the_next_likeliest_class(ternary):
    """runner_up=1: after FW, PGD runs once more, aimed at each example's likeliest class other
    than its label; what it finds below the best radius so far is kept and named, with the
    largest radius any stage failed at, at most that radius."""
    model, x, labels, _, _ = ternary
    with torch.no_grad():
        logits = model(x)
    runner = logits.scatter(1, labels[:, None], float("-inf")).argmax(1)
    pgd = _Aimed(
        {
            None: _fixed_result(x, labels, 0.2, 0.18, runner),
            tuple(runner.tolist()): _fixed_result(x, labels, 0.1, 0.099, runner),
        }
    )
    auto = AutoWasserstein(model, kernel_size=3, runner_up=1)
    auto.stages = {
        "wasserstein_pgd": pgd,
        "wasserstein_fw": _Fixed(_fixed_result(x, labels, 0.3, 0.25, runner)),
    }
    res = auto(x, labels)
    assert pgd.calls == [None, runner.tolist()]
    assert res.eps_found.tolist() == [0.1] * len(x)
    assert res.found_by == ["wasserstein_pgd_targeted"] * len(x)
    # PGD's failure at 0.18 and Frank-Wolfe's at 0.25 lie above the radius kept: recorded at it.
    assert res.eps_failed.tolist() == [0.1] * len(x)
    targets = (labels + 1) % 3  # a targeted evaluation has no runner-up stage
    pgd.results[tuple(targets.tolist())] = _fixed_result(x, labels, 0.2, 0.18, targets)
    pgd.calls.clear()
    auto(x, labels, targets)
    assert pgd.calls == [targets.tolist()]


def test_auto_runner_up_stage_never_loses_ground(ternary):
    """On a real model: every radius with runner_up=2 is at most the one without, and every
    example is verified."""
    model, x, labels, _, lp = ternary
    kw = _settings(lp)
    plain = AutoWasserstein(model, pgd_steps=10, **kw)
    more = AutoWasserstein(model, pgd_steps=10, runner_up=2, **kw)
    base, res = plain(x, labels), more(x, labels)
    assert (res.eps_found <= base.eps_found).all(), (res.eps_found, base.eps_found)
    assert (verify(more.ball, x, res).verified == 1).all()
    assert set(res.found_by) <= {"wasserstein_fw", "wasserstein_pgd", "wasserstein_pgd_targeted"}
    with pytest.raises(ConfigError, match="runner_up"):
        AutoWasserstein(model, runner_up=-1)


class _AimedAtRadius(_Aimed):
    """A stage whose runs at a fixed radius break an example only when aimed at its class in
    `weak` (None: untargeted), measured."""

    measure = True

    def __init__(self, results, weak):
        super().__init__(results)
        self.weak, self.at = weak, []

    def at_radius(self, images, labels, eps, targets=None):
        self.at.append((eps, None if targets is None else targets.tolist()))
        n = len(images)
        hit = torch.zeros(n, dtype=torch.bool) if targets is None else targets == self.weak[:n]
        res = _fixed_result(
            images, labels, eps, 0.0, (labels if targets is None else targets).clone()
        )
        res.success = hit
        radius = torch.full((n,), eps, dtype=torch.float64)
        res.eps_found = torch.where(hit, radius, torch.inf)
        res.eps_failed = torch.where(hit, 0.0, radius)
        return res


def test_auto_last_stage_aims_at_the_likeliest_wrong_classes(ternary):
    """final_targets=2: at each reported radius, after the untargeted run, PGD at that radius
    aimed at the likeliest wrong class, then at the next one on the examples still standing;
    what breaks within the radius is kept and named. A targeted evaluation aims at its own
    target only."""
    model, x, labels, _, _ = ternary
    with torch.no_grad():
        order = model(x).scatter(1, labels[:, None], float("-inf")).argsort(1, descending=True)
    first, second = order[:, 0], order[:, 1]
    pgd = _AimedAtRadius({None: _fixed_result(x, labels, 0.11, 0.05, first.clone())}, second)
    final = _AimedAtRadius({}, weak=torch.full_like(labels, -1))  # breaks nothing
    auto = AutoWasserstein(model, kernel_size=3, radii=[0.1], final_targets=2)
    auto.stages = {
        "wasserstein_pgd": pgd,
        "wasserstein_fw": _Fixed(_fixed_result(x, labels, 0.3, 0.25, first.clone())),
        AT_RADIUS: final,
    }
    res = auto(x, labels)
    assert final.at == [(0.1, None)]
    assert pgd.at == [(0.1, first.tolist()), (0.1, second.tolist())]
    assert res.eps_found.tolist() == [0.1] * len(x)
    assert res.found_by == [TARGETED_AT_RADIUS] * len(x)
    final.at.clear()
    pgd.at.clear()
    targets = (labels + 1) % 3
    pgd.results[tuple(targets.tolist())] = _fixed_result(x, labels, 0.11, 0.05, targets)
    auto(x, labels, targets)
    assert final.at == [(0.1, targets.tolist())] and pgd.at == []
    with pytest.raises(ConfigError, match="final_targets"):
        AutoWasserstein(model, final_targets=-1)


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"fw_gamma": -1.0}, "auto's fw_steps, fw_gamma: gamma must be positive"),
        ({"fw_steps": 0}, "auto's fw_steps, fw_gamma: steps"),
        ({"pgd_alpha": 0.0}, "auto's pgd_steps, pgd_alpha, pgd_alpha_final: need steps >= 1"),
        ({"final_steps": 0}, "auto's final_steps, pgd_alpha, pgd_alpha_final: need steps >= 1"),
        ({"final_window": 0.9}, "final_window must be >= 1"),
        ({"radii": [0.1, float("nan")]}, "radii must be finite and >= 0"),
        ({"rtol": 0.0}, "need factor > 1 and rtol > 0"),  # shared: not blamed on a stage
    ],
)
def test_auto_names_a_bad_stage_setting_as_auto_calls_it(ternary, setting, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        AutoWasserstein(ternary[0], **setting)


# --- model mode and repr -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("training", [True, False])
def test_model_runs_in_eval_mode_and_its_mode_is_restored(binary, name, training):
    model, x, labels, lp = binary
    kw = dict(_settings(lp), rtol=0.2)
    attack = {
        "wasserstein_fw": lambda: WassersteinFW(model, steps=3, **kw),
        "wasserstein_pgd": lambda: WassersteinPlanPGD(model, steps=3, **kw),
        "auto": lambda: AutoWasserstein(model, fw_steps=3, pgd_steps=3, **kw),
    }[name]()
    model.train(training)
    model.modes.clear()
    try:
        attack(x[:2], labels[:2])
        assert model.modes and not any(model.modes)
        assert model.training is training
    finally:
        model.eval()
        model.modes.clear()


def test_model_mode_restored_when_the_attack_raises(binary):
    model, x, labels, lp = binary
    attack = WassersteinFW(model, steps=2, **_settings(lp))
    model.train()
    try:
        with pytest.raises(RuntimeError):
            attack(x[:2, :, :, :-1], labels[:2])  # wrong image size for the Linear layer
        assert model.training
    finally:
        model.eval()
        model.modes.clear()


def test_repr_shows_the_settings(binary):
    model, *_ = binary
    fw = WassersteinFW(model, steps=7, gamma=0.05, kernel_size=3, rtol=0.03, eps0=0.01)
    text = repr(fw)
    pieces = (
        "WassersteinFW(",
        "steps=7",
        "gamma=0.05",
        "kernel_size=3",
        "rtol=0.03",
        "eps0=0.01",
        "capacity=True",
        "loss='margin'",
        "eps_max=4.0",
    )
    for piece in pieces:
        assert piece in text, (piece, text)
    pgd = WassersteinPlanPGD(model, steps=9, alpha=0.3, capacity=False, kernel_size=5)
    text = repr(pgd)
    for piece in ("WassersteinPlanPGD(", "steps=9", "alpha=0.3", "capacity=False", "kernel_size=5"):
        assert piece in text, (piece, text)
    auto = AutoWasserstein(
        model, fw_steps=4, fw_gamma=0.2, pgd_steps=6, pgd_alpha=0.25, rerun_above=0.1, kernel_size=3
    )
    text = repr(auto)
    pieces = (
        "AutoWasserstein(",
        "rerun_above=0.1",
        "WassersteinFW(",
        "steps=4",
        "gamma=0.2",
        "WassersteinPlanPGD(",
        "steps=6",
        "alpha=0.25",
        "kernel_size=3",
    )
    for piece in pieces:
        assert piece in text, (piece, text)


def test_measured_radius_is_the_exact_distance_and_unmeasured_an_upper_bound(binary):
    model, x, labels, lp = binary
    kw = _settings(lp)
    measured = WassersteinFW(model, **kw)
    plain = WassersteinFW(model, measure=False, **kw)
    assert "measure=False" in repr(plain)
    res, up = measured(x, labels), plain(x, labels)
    exact = verify(measured.ball, x, res).exact_cost
    assert torch.allclose(res.eps_found, exact, rtol=1e-9), (res.eps_found, exact)
    exact_up = verify(plain.ball, x, up).exact_cost
    assert (up.eps_found >= exact_up * (1 - 1e-9)).all()
    assert (up.eps_found > exact_up * 1.01).any()  # Frank-Wolfe's points lie inside the ball
