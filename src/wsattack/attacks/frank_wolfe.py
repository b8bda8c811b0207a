"""Frank-Wolfe over local transport plans (Wu, Wang & Yu 2020), with the capacity constraint.

Each step asks the entropic linear oracle (`wsattack.ot.linear_oracle`) for the feasible plan
that increases the linearized loss most and moves toward it: z <- z + 2/(t+2) (s - z). The loss
depends on the plan only through the image it produces, so only images are kept: the iterate
is a convex combination of images of feasible plans, hence itself the image of a feasible plan
(rows x, cost <= eps, columns <= 1 with capacity). No projection and no clamping is needed, and
the radius of every iterate is known exactly.
"""

from __future__ import annotations

import torch

from wsattack.attacks.plan_attack import PlanAttack
from wsattack.attacks.registry import register_attack
from wsattack.errors import ConfigError
from wsattack.ot import linear_oracle


@register_attack("wasserstein_fw")
class WassersteinFW(PlanAttack):
    """Frank-Wolfe with the entropic oracle, per-example minimal radii (`RadiusSearch`).

    steps: Frank-Wolfe steps per radius tried. gamma: the oracle's entropy weight (relative to
    the largest gradient entry; smaller = closer to the LP oracle). oracle_iters: its dual
    iterations (warm-started from step to step). warm_step: an attempt that starts from a
    point already found takes steps 2 / (t + warm_step + 2), so its first step does not throw
    that point away. Search and ball settings: see `PlanAttack`.

    Examples
    --------
    >>> attack = WassersteinFW(model)                      # doctest: +SKIP
    >>> result = attack(images, labels)                    # doctest: +SKIP
    >>> result.eps_found, result.eps_failed, result.adv    # doctest: +SKIP
    """

    def __init__(
        self,
        model,
        steps: int = 20,
        gamma: float = 0.03,
        oracle_iters: int = 20,
        warm_step: int = 2,
        **kwargs,
    ):
        super().__init__(model, **kwargs)
        if steps < 1 or oracle_iters < 1 or warm_step < 0:
            raise ConfigError("steps and oracle_iters must be >= 1 and warm_step >= 0")
        if not gamma > 0:
            raise ConfigError(f"gamma must be positive, got {gamma}")
        self.steps, self.gamma, self.oracle_iters = steps, gamma, oracle_iters
        self.warm_step = warm_step

    def _settings(self) -> dict:
        mine = {"steps": self.steps, "gamma": self.gamma, "oracle_iters": self.oracle_iters}
        return {**mine, **super()._settings()}

    def attempt(self, x, labels, targets, eps, start):
        """Frank-Wolfe at radii `eps` from `start` until fooled or `steps` steps."""
        cold = bool(torch.equal(start, x))
        offset = 0 if cold else self.warm_step
        z = start.clone()
        run = self.new_run(labels, targets, z)
        state = None
        for t in range(self.steps):
            grad, standing = run.check(z)
            if len(standing) == 0:
                break
            if state is not None:
                state = state[run.kept]
            res = linear_oracle(
                x[standing],
                grad,
                eps[standing],
                self.ball.cost,
                gamma=self.gamma,
                capacity=self.ball.ceiling,
                max_iter=self.oracle_iters,
                state=state,
            )
            state = res.state
            rate = 2.0 / (t + offset + 2.0)
            z[standing] = self.round_off(z[standing] + rate * (res.image - z[standing]))
            run.iterations[standing] += 1
        run.check(z, final=True)
        return run.attempt(z)
