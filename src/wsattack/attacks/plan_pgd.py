"""PGD over local transport plans with the exact projection (Wu, Wang & Yu 2020, section 3).

The variable is the plan P itself, not the image: a step along the loss gradient with respect
to P (the image gradient seen from each source, `plans.neighbours`), normalized per example,
then the exact Euclidean projection onto {P >= 0, P 1 = x, <C, P> <= eps}
(`wsattack.ot.project_plan`), with capacity onto its intersection with {P^T 1 <= 1}. That
projection's column prices are carried from step to step, so that each projection needs a few
rounds of dual ascent (`dual_iters` at most). The image is the plan's column sums, in the ball
(and below the ceiling) by construction. Within one radius search, each attempt starts from the
plan behind the image the search starts it from (`plan_memory`), with that plan's capacity
prices, not from the identity: on MNIST test images 100-299 of an adversarially trained network
this left fewer examples standing at every radius from 0.05 to 0.5, and on the demo it cost no
more time.
"""

from __future__ import annotations

import torch

from wsattack.attacks.plan_attack import PlanAttack
from wsattack.attacks.plan_memory import PlanMemory
from wsattack.attacks.registry import register_attack
from wsattack.errors import ConfigError
from wsattack.ot import project_plan
from wsattack.ot.plans import column_sums, neighbours

# Precision of the capacity prices per projection (relative to the ceiling): what the dual ascent
# leaves is rounded away by `make_feasible`, so it need not be the projection's default 1e-7.
DUAL_TOL = 1e-4


@register_attack("wasserstein_pgd")
class WassersteinPlanPGD(PlanAttack):
    """PGD on the plan with the exact projection, per-example minimal radii (`RadiusSearch`).

    steps: PGD steps per radius tried. alpha: first step size, as a fraction of the radius: a
    step moves at most alpha * eps of each unit of mass along the gradient (scaled to max
    |G| = 1). alpha_final: the last step's; the steps shrink geometrically from alpha to it
    (alpha_final = alpha: constant steps). Long steps first carry the plan across the ball, to
    the vertices where a linear loss is largest (steps of 1 or more are needed to reach the LP
    minimum on linear models); short ones then settle on the best point of a curved loss. On
    MNIST networks, 20 steps from 2 to 0.02 found smaller radii than 30 constant steps of
    0.05 and than 10 of 0.5, the old default.
    dual_iters: with capacity, the most rounds of the projection's dual ascent per step (each
    stops earlier once its prices are accurate to DUAL_TOL). Search and ball settings: see
    `PlanAttack`.

    References
    ----------
    .. [1] K. Wu, A. H. Wang and Y. Yu, "Stronger and Faster Wasserstein Adversarial Attacks",
       ICML 2020.

    Examples
    --------
    >>> from wsattack import load_dataset, load_model, verify
    >>> data = load_dataset("demo", limit=4)
    >>> attack = WassersteinPlanPGD(load_model("zoo:demo_fashion_mnist_cnn"), steps=10)
    >>> result = attack(data.images, data.labels)
    >>> bool(verify(attack.ball, data.images, result).verified.all())
    True
    """

    def __init__(
        self,
        model,
        steps: int = 20,
        alpha: float = 2.0,
        alpha_final: float = 0.02,
        dual_iters: int = 30,
        **kwargs,
    ):
        super().__init__(model, **kwargs)
        if steps < 1 or dual_iters < 1 or not alpha > 0 or not alpha_final > 0:
            raise ConfigError(
                f"need steps >= 1, dual_iters >= 1, alpha > 0 and alpha_final > 0, got {steps}, "
                f"{dual_iters}, {alpha}, {alpha_final}"
            )
        self.steps, self.alpha, self.alpha_final = steps, alpha, alpha_final
        self.dual_iters = dual_iters

    def _settings(self) -> dict:
        mine = {"steps": self.steps, "alpha": self.alpha, "alpha_final": self.alpha_final}
        return {**mine, "dual_iters": self.dual_iters, **super()._settings()}

    def step_size(self, t: int) -> float:
        """The t-th step's fraction of the radius: alpha shrunk geometrically to alpha_final."""
        return self.alpha * (self.alpha_final / self.alpha) ** (t / max(self.steps - 1, 1))

    def remember(self, x):
        return PlanMemory(x, self.ball.cost.shape[0])

    def attempt(self, x, labels, targets, eps, start, recall=None):
        """PGD at radii `eps`. `recall` (this call's `PlanMemory` and the attempt's rows in it)
        gives the plan behind `start` when it holds one, else the identity plan (an image does
        not determine its plan), with the capacity prices kept over the steps; the plans
        reached are kept in it. Without one (a call outside a search), a fresh memory."""
        memory, rows = recall or (self.remember(x), torch.arange(len(x), device=x.device))
        k = self.ball.cost.shape[0]
        mass = x.flatten(1).sum(1).view(-1, 1, 1, 1, 1)
        plan, prices = memory.start(rows, x, start)
        z = self.round_off(column_sums(plan)).to(x.dtype)
        run = self.new_run(labels, targets, z)
        for t in range(self.steps):
            grad, standing = run.check(z)
            if len(standing) == 0:
                break
            gp = neighbours(grad, k)
            scale = gp.flatten(1).abs().amax(1).clamp_min(1e-30).view(-1, 1, 1, 1, 1)
            size = self.step_size(t) * eps[standing]
            step = size.view(-1, 1, 1, 1, 1).to(gp) * mass[standing]
            moved = plan[standing] + step * gp / scale
            warm = prices[standing]
            plan[standing] = project_plan(
                moved,
                x[standing],
                eps[standing],
                self.ball.cost,
                capacity=self.ball.ceiling,
                max_iter=self.dual_iters,
                tol=DUAL_TOL,
                prices=warm,
            ).to(plan.dtype)
            prices[standing] = warm
            z[standing] = self.round_off(column_sums(plan[standing])).to(z.dtype)
            run.iterations[standing] += 1
        run.check(z, final=True)
        out = run.attempt(z)
        # Only standing examples are stepped: a fooled one's plan is the one that fooled it.
        memory.keep(rows, out.success, plan, prices)
        return out
