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

    References
    ----------
    .. [1] K. Wu, A. H. Wang and Y. Yu, "Stronger and Faster Wasserstein Adversarial Attacks",
       ICML 2020.
    .. [2] J. E. Hu, A. Swaminathan, H. Salman and G. Yang, "Improved Image Wasserstein Attacks
       and Defenses", ICLR 2020 Workshop on Trustworthy ML.

    Examples
    --------
    >>> from wsattack import load_dataset, load_model, verify
    >>> data = load_dataset("demo", limit=4)
    >>> attack = WassersteinFW(load_model("zoo:demo_fashion_mnist_cnn"), steps=10)
    >>> result = attack(data.images, data.labels)
    >>> bool((result.eps_failed <= result.eps_found).all())  # each example's radius bracketed
    True
    >>> bool(verify(attack.ball, data.images, result).verified.all())
    True
    >>> float(result.adv.min()) >= 0 and float(result.adv.max()) <= 1 + 1e-6  # capacity
    True
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

    def attempt(self, x, labels, targets, eps, start, recall=None):
        """Frank-Wolfe at radii `eps` from `start` until fooled or `steps` steps (its iterates
        are images, so `start` is all it needs)."""
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
