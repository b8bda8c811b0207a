"""`auto`: the recommended evaluation, in the spirit of AutoAttack (Croce & Hein 2020) for l_p.

PGD with the exact projection runs on every example; Frank-Wolfe then runs on the examples still
standing or broken above `rerun_above`, searching only below the radius PGD found and starting from
PGD's point pulled toward the clean image (a second path through the ball: on MNIST test images 100
to 299 of `wong2019_mnist_robust` it left 79 / 34 of 200 standing at 0.2 / 0.3 where Frank-Wolfe
followed by PGD left 99 / 47, for 1.2x to 1.3x the time; 20 Frank-Wolfe steps per radius instead of
10 left 67 / 21), optionally PGD again aimed at their likeliest wrong classes (`runner_up`, as
AutoAttack's targeted stages), and last, at each radius the accuracy is reported at (`radii`), PGD
with 100 steps at that very radius on the examples standing there whose radius so far lies within
`final_window` (1.25x) above it, then PGD at that radius aimed at each of the `final_targets` (3)
likeliest wrong classes in turn on those still standing there. The search's attempts (20 steps
each) fail just above such a radius on a few examples that a longer run at it breaks: on images
100 to 299 of `wong2019_mnist_robust`, 60 steps left 139 / 65 / 18 of 200 standing at 0.1 / 0.2 /
0.3 instead of 144 / 67 / 21, the runs aimed at a class then 137 / 62 / 17, and 100 steps instead
of 60 134 / 61 / 17; the whole last stage costs 0.11 to 0.13 s/img on the benchmark's models (one
thread). Per example the smallest radius whose adversarial point passes the exact check is kept,
with the name of the attack that found it (`AttackResult.found_by`). A candidate that fails the
exact check is discarded, so `auto` never reports a larger radius than any attack it ran, nor an
unverified one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from wsattack.attacks.frank_wolfe import WassersteinFW
from wsattack.attacks.inputs import batch_on_device
from wsattack.attacks.plan_attack import PlanAttack
from wsattack.attacks.plan_pgd import WassersteinPlanPGD
from wsattack.attacks.registry import register_attack
from wsattack.attacks.result import NOT_FOOLED, AttackResult
from wsattack.attacks.verify import within_radius
from wsattack.errors import ConfigError
from wsattack.models.modes import eval_mode

AT_RADIUS = "wasserstein_pgd_at_radius"  # the last stage's name (found_by)
TARGETED_AT_RADIUS = "wasserstein_pgd_targeted_at_radius"  # its runs aimed at a class


@register_attack("auto")
class AutoWasserstein:
    """Exact-projection PGD on all, then FW below it; the smallest verified radius wins.

    pgd_steps, pgd_alpha, pgd_alpha_final: PGD's steps per radius and its first and last step
    sizes. fw_steps, fw_gamma: Frank-Wolfe's steps per radius and entropy weight. rerun_above:
    examples broken by PGD at a radius above this (and those it did not break) are attacked
    again by Frank-Wolfe; 0 reruns every example (`wsattack attack` sets it to the first radius
    it reports: an example broken below that radius is broken at every radius reported, so
    Frank-Wolfe would only refine its eps_found). runner_up: in an untargeted evaluation, PGD
    then runs again on those examples, aimed at each of their `runner_up` likeliest classes
    other than the label in turn (by the clean logits), below the best radius so far and from
    the point found there (a restart along another path: off by default, it costs a PGD run per
    class). radii: the radii at which the accuracy is reported (`wsattack attack`: its
    report_radii; none by default); at each, smallest first, PGD with `final_steps` steps runs at
    that fixed radius (`PlanAttack.at_radius`) on the examples standing there whose radius so far
    is at most `final_window` times it, and what it breaks within the radius is kept; then, in an
    untargeted evaluation, PGD (`pgd_steps`) at that radius aimed at each of the
    `final_targets` likeliest wrong classes in turn, on the examples still standing there
    within the window (found_by `wasserstein_pgd_targeted_at_radius`). The ball
    (kernel_size, p, metric, capacity), loss, judge and search settings (eps0, factor, eps_max,
    rtol) are shared.

    References
    ----------
    .. [1] F. Croce and M. Hein, "Reliable Evaluation of Adversarial Robustness with an Ensemble
       of Diverse Parameter-free Attacks", ICML 2020.
    .. [2] K. Wu, A. H. Wang and Y. Yu, "Stronger and Faster Wasserstein Adversarial Attacks",
       ICML 2020.

    Examples
    --------
    >>> from wsattack import load_dataset, load_model
    >>> data = load_dataset("demo", limit=4)
    >>> model = load_model("zoo:demo_fashion_mnist_cnn")
    >>> attack = AutoWasserstein(model, fw_steps=5, pgd_steps=5)
    >>> result = attack(data.images, data.labels)
    >>> set(result.found_by) <= {"wasserstein_fw", "wasserstein_pgd", ""}
    True
    """

    forwards_to = PlanAttack  # where **shared goes (for the config's parameter check)

    def __init__(
        self,
        model,
        fw_steps: int = 20,
        fw_gamma: float = 0.03,
        pgd_steps: int = 20,
        pgd_alpha: float = 2.0,
        pgd_alpha_final: float = 0.02,
        rerun_above: float = 0.0,
        runner_up: int = 0,
        radii: Sequence[float] = (),
        final_steps: int = 100,
        final_window: float = 1.25,
        final_targets: int = 3,
        **shared,
    ):
        shared_part = PlanAttack(model, **shared)  # checks the shared settings under their names
        self.ball, self.search = shared_part.ball, shared_part.search  # both stages search alike
        alphas = {
            "pgd_alpha": ("alpha", pgd_alpha),
            "pgd_alpha_final": ("alpha_final", pgd_alpha_final),
        }
        fw = {"fw_steps": ("steps", fw_steps), "fw_gamma": ("gamma", fw_gamma)}
        self.stages = {
            "wasserstein_pgd": _stage(
                WassersteinPlanPGD, model, {"pgd_steps": ("steps", pgd_steps), **alphas}, shared
            ),
            "wasserstein_fw": _stage(WassersteinFW, model, fw, shared),
            AT_RADIUS: _stage(
                WassersteinPlanPGD, model, {"final_steps": ("steps", final_steps), **alphas}, shared
            ),
        }
        self.model = model
        self.rerun_above = rerun_above
        for name, value in (("runner_up", runner_up), ("final_targets", final_targets)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        self.runner_up, self.final_targets = runner_up, final_targets
        if not all(0 <= r < math.inf for r in radii):
            raise ConfigError(f"radii must be finite and >= 0, got {list(radii)}")
        if not final_window >= 1:
            raise ConfigError(
                f"final_window must be >= 1 (a factor above each radius), got {final_window}"
            )
        self.radii = sorted({float(r) for r in radii if r > 0})  # at 0 nothing moves
        self.final_window = final_window

    def __repr__(self) -> str:
        inner = ", ".join(repr(a) for a in self.stages.values())
        mine = f"rerun_above={self.rerun_above}, runner_up={self.runner_up}, radii={self.radii}"
        last = f"final_window={self.final_window}, final_targets={self.final_targets}"
        return f"AutoWasserstein({mine}, {last}, stages=[{inner}])"

    def __call__(self, images, labels, targets=None) -> AttackResult:
        # On the model's device, like the stages' results, so that their indices apply here.
        images, labels, targets = batch_on_device(self.model, images, labels, targets)
        first = "wasserstein_pgd"
        best = self.stages[first](images, labels, targets)
        broken = (best.success & (best.eps_found > 0)).nonzero().squeeze(1)
        _forget(best, broken[~self._exact(first, images, best, broken)], images)
        found_by = [first if 0 < e < math.inf else "" for e in best.eps_found.tolist()]
        rows = (~best.success | (best.eps_found > self.rerun_above)).nonzero().squeeze(1)
        if len(rows):
            self._improve(best, found_by, images, labels, rows, targets, "wasserstein_fw")
            if targets is None:
                for goal in self._likeliest_wrong(images, labels, self.runner_up):
                    name = "wasserstein_pgd_targeted"
                    self._improve(
                        best, found_by, images, labels, rows, goal, "wasserstein_pgd", name
                    )
        self._at_radii(best, found_by, images, labels, targets)
        best.found_by = found_by
        return best

    def _improve(self, best, found_by, images, labels, rows, aim, stage, name=None) -> None:
        """Run the stage `stage` on `rows` below their best radius so far, from their best point,
        aimed at the classes `aim` (None: untargeted), and keep what it finds at a smaller
        radius that passes the exact check, as found by `name` (default: the stage). A radius at
        which a run aimed at a runner-up class fails is one at which `auto` ran and failed, as
        for eps_failed."""
        hi = best.eps_found[rows]
        again = self.stages[stage](
            images[rows],
            labels[rows],
            None if aim is None else aim[rows],
            start=best.adv[rows],
            hi=hi,
        )
        self._keep(best, found_by, images, rows, again, stage, name or stage)

    def _at_radii(self, best, found_by, images, labels, targets) -> None:
        """The last stage: at each radius of `radii` (smallest first), PGD with `final_steps`
        steps at that radius, on the examples standing there whose radius so far is at most
        `final_window` times it, then (untargeted runs) PGD aimed at each of their
        `final_targets` likeliest wrong classes in turn, on those still standing. They decide
        the accuracy reported there, and a run at that radius spends all its steps where it
        counts (on a few of them the search's 20-step attempts failed at radii just above it)."""
        runs = [(AT_RADIUS, targets, AT_RADIUS)]
        if targets is None and self.radii:  # a targeted evaluation has its own target
            goals = self._likeliest_wrong(images, labels, self.final_targets)
            runs += [("wasserstein_pgd", goal, TARGETED_AT_RADIUS) for goal in goals]
        for radius in self.radii:
            for stage, aim, name in runs:
                rows = self._near(best, radius)
                if len(rows):
                    aim_rows = None if aim is None else aim[rows]
                    again = self.stages[stage].at_radius(
                        images[rows], labels[rows], radius, aim_rows
                    )
                    self._keep(best, found_by, images, rows, again, stage, name)

    def _near(self, best, radius) -> torch.Tensor:
        """The examples standing at `radius` whose radius so far is within the window above it."""
        found = best.eps_found
        return ((found > radius) & (found <= radius * self.final_window)).nonzero().squeeze(1)

    def _keep(self, best, found_by, images, rows, again, stage, name) -> None:
        """Take from `again` (the stage's result on `rows`) the examples it found at a smaller
        radius that passes the exact check, as found by `name`."""
        better = again.success & (again.eps_found < best.eps_found[rows])
        candidates = better.nonzero().squeeze(1)
        better[candidates] = self._exact(stage, images[rows], again, candidates)
        _take(best, again, rows, better)
        for r in rows[better].tolist():
            found_by[r] = name

    def _likeliest_wrong(self, images, labels, n) -> list[torch.Tensor]:
        """The n most likely classes other than the label, by the clean logits."""
        if n == 0:
            return []
        with eval_mode(self.model), torch.no_grad():
            logits = self.model(images)
        others = logits.scatter(1, labels[:, None], float("-inf"))
        order = others.argsort(dim=1, descending=True)
        return list(order[:, : min(n, logits.shape[1] - 1)].t())

    def _exact(self, stage, images, result: AttackResult, idx) -> torch.Tensor:
        """Whether the examples `idx` of the stage's `result` pass the exact check at their
        eps_found; on idx's device (the exact solve runs on the CPU). A measuring stage's search
        has checked them already (its eps_found is an exact distance), so they are not solved
        twice."""
        if len(idx) == 0 or self.stages[stage].measure:
            return torch.ones(len(idx), dtype=torch.bool, device=idx.device)
        distance = self.ball.distance(images[idx].cpu(), result.adv[idx].cpu())
        return within_radius(distance, result.eps_found[idx].cpu()).to(idx.device)


def _stage(cls, model, own: dict, shared: dict):
    """A stage built from `auto`'s settings `own` (auto's name -> (the stage's, value)); an error
    names them as `auto` calls them (the stage's own message says steps, alpha, gamma)."""
    try:
        return cls(model, **dict(own.values()), **shared)
    except ConfigError as err:
        raise ConfigError(f"auto's {', '.join(own)}: {err}") from None


def _forget(result: AttackResult, bad, images) -> None:
    """Treat the examples `bad` (which failed the exact check) as never broken."""
    result.success[bad] = False
    result.eps_found[bad] = NOT_FOOLED
    result.adv[bad] = images[bad].to(result.adv)
    result.adv_pred[bad] = result.clean_pred[bad]
    result.radius[bad] = 0.0


def _take(best: AttackResult, other: AttackResult, rows, better) -> None:
    """Copy `other`'s examples where `better` into `best` at `rows`. Iterations add up, and
    eps_failed is the largest radius either attack failed at, recorded at the radius kept when
    above it (as `RadiusSearch` does): the attack did run there and fail, which is what
    unmeasured@r asks (`results.robustness.unmeasured_at`)."""
    best.iterations[rows] += other.iterations
    chosen = rows[better]
    for name in ("adv", "success", "eps_found", "adv_pred", "radius"):
        getattr(best, name)[chosen] = getattr(other, name)[better]
    failed = torch.maximum(best.eps_failed[rows], other.eps_failed)
    best.eps_failed[rows] = torch.minimum(failed, best.eps_found[rows])
