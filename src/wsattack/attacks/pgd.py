"""Projected gradient descent over a threat-model ball with a radius schedule.

Only the examples not yet fooled are stepped and projected, and the Wasserstein ball's dual
variables are carried from one step to the next (warm start). One forward pass per iteration
serves both the success check of the current iterate and the gradient of the next step.

eps_failed of an example is the radius of the last iterate checked and found not fooled (the
radius it had been projected onto; 0 for the untouched image): the final radius for an example
never fooled, the radius of the check before the success for a fooled one.

With `refine`, each example the schedule fooled is then bisected between eps_failed and
eps_found (`RadiusSearch.refine`) to the relative precision `rtol`: every radius tried runs
`refine_iter` steps from the adversarial point found, pulled toward the clean image and
projected onto the smaller ball, so the reported radius is the smallest one found, not the one
the schedule happened to step onto.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from wsattack.attacks.inputs import batch_on_device, clean_predictions
from wsattack.attacks.result import NOT_FOOLED, AttackResult, fooled
from wsattack.attacks.schedules import Stage
from wsattack.attacks.search import Attempt, RadiusSearch
from wsattack.errors import ConfigError
from wsattack.models.modes import eval_mode
from wsattack.ot import Duals


class PGD:
    """`PGD(model, ball, step, schedule)(images, labels, targets=None) -> AttackResult`.

    model: maps [0,1] images to logits; it runs in eval mode, its mode restored afterwards, and
    its parameters are never changed.
    ball: `WassersteinBall` or `LpBall`. step: a function (adv, grad, alpha) -> adv.
    schedule: a list of `Stage`s. clamp: clip to [0,1] after each projection (the paper's).
    refine: bisect each fooled example's radius after the schedule, to the relative precision
    rtol (default 2 %), with refine_iter PGD steps per radius tried.
    targets: in targeted mode, the class each example should be pushed to (success: predicted).
    judge: images -> predicted labels, deciding success when the model's argmax should not
    (e.g. the hard vote of a smoothed classifier, whose gradient `model` only approximates).
    """

    def __init__(
        self,
        model,
        ball,
        step,
        schedule: list[Stage],
        alpha: float = 0.1,
        clamp: bool = True,
        judge: Callable[[torch.Tensor], torch.Tensor] | None = None,
        refine: bool = False,
        rtol: float = 0.02,
        refine_iter: int = 20,
    ):
        if alpha <= 0:
            raise ConfigError(f"attack.alpha must be positive, got {alpha}")
        if refine_iter < 1:
            raise ConfigError(f"attack.refine_iter must be >= 1, got {refine_iter}")
        self.model, self.ball, self.step, self.schedule = model, ball, step, schedule
        self.alpha, self.clamp, self.judge = alpha, clamp, judge
        search = RadiusSearch(rtol=rtol)  # checks rtol even when refine is off
        self.search = search if refine else None
        self.refine_iter = refine_iter

    def __call__(
        self, images: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None
    ) -> AttackResult:
        x, labels, targets = batch_on_device(self.model, images, labels, targets)
        with eval_mode(self.model):
            with torch.no_grad():
                clean_pred = clean_predictions(self.model, self.judge, x, labels, targets)
            run = _Run(x, labels, targets, clean_pred, fooled(clean_pred, labels, targets))
            for stage in self.schedule:
                for t in range(stage.iterations):
                    if not self._iterate(run, stage.radius(t)):
                        break
            active = run.active()
            if len(active):  # an empty batch breaks models such as the smoothed softmax
                self._check(run, active)
            if self.search is not None:
                self._refine(run)
        return run.result(clean_pred)

    def __repr__(self) -> str:
        step = getattr(self.step, "__name__", None) or repr(self.step)  # a function, or a class
        settings = f"ball={self.ball!r}, step={step}, alpha={self.alpha!r}, clamp={self.clamp!r}"
        if self.search is not None:
            settings += f", refine=True, rtol={self.search.rtol!r}"
            settings += f", refine_iter={self.refine_iter!r}"
        return f"{type(self).__name__}({settings}, schedule={self.schedule!r})"

    def _iterate(self, run: _Run, eps: float | torch.Tensor) -> bool:
        """Check the current iterates and step the ones still standing onto the ball of radius
        eps (a float, or one per row of the run); False when none are left."""
        active = run.active()
        if len(active) == 0:
            return False
        grad, standing = self._check(run, active)
        if len(standing) == 0:
            return False
        stepped = self.step(run.adv[standing], grad[~run.fooled[active]], self.alpha)
        self._project(run, standing, stepped, eps)
        run.iterations[standing] += 1
        return True

    def _project(self, run: _Run, rows, images, eps: float | torch.Tensor) -> None:
        """Project `images` onto the balls of the run's `rows` and make them their iterates."""
        f64 = dict(device=run.adv.device, dtype=torch.float64)
        if torch.is_tensor(eps):
            radius = eps[rows].to(**f64)
        else:
            radius = torch.full((len(rows),), eps, **f64)
        projected, duals = self.ball.project(run.x[rows], images, radius, run.duals_for(rows))
        run.store_duals(rows, duals)
        run.adv[rows] = projected.clamp(0, 1) if self.clamp else projected
        run.radius[rows] = radius

    def _refine(self, run: _Run) -> None:
        """Bisect each fooled example's radius between eps_failed and eps_found."""

        def attempt(rows, eps, start):
            targets = None if run.targets is None else run.targets[rows]
            return self._attempt(run.x[rows], run.labels[rows], targets, eps, start)

        # A schedule often fails a few steps at the very radius it then succeeds at: no bound.
        lo = torch.where(run.eps_failed < run.eps_found, run.eps_failed, 0.0)
        found = self.search.refine(attempt, run.x, lo, run.eps_found, run.adv, run.adv_pred)
        run.eps_found, run.eps_failed = found.eps_found, found.eps_failed
        run.adv, run.adv_pred = found.adv, found.adv_pred
        run.iterations += found.iterations
        run.radius = torch.where(torch.isfinite(run.eps_found), run.eps_found, run.radius)

    def _attempt(self, x, labels, targets, eps, start) -> Attempt:
        """`refine_iter` PGD steps at the per-example radii eps, from `start` projected onto
        those balls."""
        n = len(x)
        # No clean prediction is needed: every row is checked before its prediction is read.
        run = _Run(x, labels, targets, labels, torch.zeros(n, dtype=torch.bool, device=x.device))
        self._project(run, torch.arange(n, device=x.device), start, eps)
        for _ in range(self.refine_iter):
            if not self._iterate(run, eps):
                break
        active = run.active()
        if len(active):
            self._check(run, active)
        return Attempt(run.fooled, run.adv.detach(), run.iterations, run.adv_pred)

    def _check(self, run: _Run, active: torch.Tensor):
        """Success check of `active`'s iterates; returns the loss gradient and who still stands."""
        adv = run.adv[active].detach().requires_grad_(True)
        with torch.enable_grad():
            logits = self.model(adv)
            goal = run.labels[active] if run.targets is None else run.targets[active]
            loss = F.cross_entropy(logits, goal, reduction="sum")
            (grad,) = torch.autograd.grad(loss if run.targets is None else -loss, adv)
        pred = self.judge(adv.detach()) if self.judge else logits.argmax(1).detach()
        hit = fooled(pred, run.labels[active], None if run.targets is None else run.targets[active])
        run.adv_pred[active] = pred
        newly, standing = active[hit], active[~hit]
        run.fooled[newly] = True
        run.eps_found[newly] = run.radius[newly]
        # Checked and not fooled at the radius the iterate was projected onto.
        run.eps_failed[standing] = run.radius[standing]
        return grad, standing


class _Run:
    """Mutable per-batch state of one attack call."""

    def __init__(self, x, labels, targets, clean_pred, fooled):
        self.x, self.labels, self.targets = x, labels, targets
        self.adv = x.clone()
        self.fooled = fooled.clone()
        self.adv_pred = clean_pred.clone()
        self.radius = torch.zeros(len(x), device=x.device, dtype=torch.float64)
        self.eps_found = torch.where(fooled, 0.0, NOT_FOOLED).to(
            device=x.device, dtype=torch.float64
        )
        self.eps_failed = torch.zeros(len(x), device=x.device, dtype=torch.float64)
        self.iterations = torch.zeros(len(x), dtype=torch.long, device=x.device)
        self.duals = None

    def active(self) -> torch.Tensor:
        return (~self.fooled).nonzero().squeeze(1)

    def duals_for(self, rows: torch.Tensor):
        return None if self.duals is None else self.duals[rows]

    def store_duals(self, rows: torch.Tensor, duals: Duals | None) -> None:
        """Keep the rows' duals; the first projection covers every row a later one can ask for,
        because the set of examples still standing only shrinks."""
        if duals is None:
            return
        if self.duals is None:
            self.duals = _empty_like_duals(duals, len(self.x))
        self.duals.update(rows, duals)

    def result(self, clean_pred) -> AttackResult:
        return AttackResult(
            self.adv.detach(),
            self.fooled,
            self.eps_found,
            self.iterations,
            clean_pred,
            self.adv_pred,
            self.radius,
            eps_failed=self.eps_failed,
        )


def _empty_like_duals(duals: Duals, batch: int) -> Duals:
    """Full-batch dual storage shaped like `duals`."""

    def full(t):
        return torch.zeros((batch, *t.shape[1:]), dtype=t.dtype, device=t.device)

    return Duals(full(duals.alpha), full(duals.beta), full(duals.psi))
