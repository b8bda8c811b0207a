"""What the plan-space attacks share: the ball, the loss, the radius search, and the bookkeeping
of one fixed-radius attempt (who is fooled, their adversarial points, steps spent)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from wsattack.attacks.balls import WassersteinBall
from wsattack.attacks.inputs import batch_on_device, clean_predictions
from wsattack.attacks.losses import LOSSES, attack_loss
from wsattack.attacks.result import AttackResult, fooled
from wsattack.attacks.search import Attempt, RadiusSearch
from wsattack.models.modes import eval_mode
from wsattack.ot.inputs import eps_tensor
from wsattack.ot.settings import DEFAULTS


class PlanAttack:
    """Base of the attacks over local transport plans: `attack(images, labels, targets=None)`.

    kernel_size, p, metric: the ball (k x k plans, cost d**p; p=1 is the Euclidean cost).
    capacity: keep every pixel at most 1 inside the ball (Hu et al. 2020), so that adversarial
    images need no clamping and keep their mass exactly; without it, images are clamped to
    [0, 1] after each step (mass is lost, and the exact check transports what is left).
    loss: "margin" (default) or "ce". eps0, factor, eps_max, rtol: the per-example minimal-radius
    search (`RadiusSearch`). measure: solve each point found exactly (POT) and bracket at its
    distance, so that eps_found is that distance (one solve per success: 2 ms on an MNIST image,
    30 ms on a Fashion-MNIST one, 0.45 s on a CIFAR-10 one, on one CPU thread; a batch's solves
    share `torch.get_num_threads()` threads); False brackets at the radius tried, as the point's
    upper bound. judge: images -> predictions deciding success (e.g. a smoothed classifier's
    hard vote); by default the model's argmax. The model runs in eval mode; its mode is restored
    afterwards.
    """

    def __init__(
        self,
        model,
        kernel_size: int = DEFAULTS.kernel_size,
        p: float = DEFAULTS.p,
        metric: str = DEFAULTS.metric,
        capacity: bool = True,  # these attacks are built for it: no clamping, no mass lost
        loss: str = "margin",
        eps0: float = 0.02,
        factor: float = 2.0,
        eps_max: float = 4.0,
        rtol: float = 0.02,
        measure: bool = True,
        judge: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        LOSSES.get(loss)  # an unknown name fails here, not at the first step
        self.model, self.judge, self.loss = model, judge, loss
        self.ball = WassersteinBall(kernel_size=kernel_size, p=p, metric=metric, capacity=capacity)
        self.search = RadiusSearch(eps0=eps0, factor=factor, eps_max=eps_max, rtol=rtol)
        self.measure = measure

    def _settings(self) -> dict:
        return {
            "kernel_size": self.ball.settings.kernel_size,
            "p": self.ball.settings.p,
            "metric": self.ball.settings.metric,
            "capacity": self.ball.capacity,
            "loss": self.loss,
            "eps0": self.search.eps0,
            "eps_max": self.search.eps_max,
            "rtol": self.search.rtol,
            "measure": self.measure,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{type(self).__name__}({args})"

    def attempt(self, x, labels, targets, eps, start, recall=None) -> Attempt:
        """A fixed-radius attack from `start`; `recall`: (what `remember` returned, the rows)."""
        raise NotImplementedError

    def __call__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        targets: torch.Tensor | None = None,
        start: torch.Tensor | None = None,
        hi: torch.Tensor | None = None,
    ) -> AttackResult:
        """Attack; `start`/`hi` optionally give known adversarial points and their radii (only
        smaller radii are then searched)."""

        def search(attempt, x, broken, clean_pred, measure):
            return self.search.run(attempt, x, broken, clean_pred, start, hi, measure)

        return self._attack(images, labels, targets, search)

    def at_radius(self, images, labels, eps, targets=None) -> AttackResult:
        """One attack at the fixed radius `eps` (a float or one per example) from the clean
        images, without a search (`RadiusSearch.once`). A point counts as a success only inside
        that ball: with `measure`, its exact distance (then its eps_found) must pass the check
        of `verify`; eps_failed is eps where it failed."""

        def once(attempt, x, broken, clean_pred, measure):
            radii = eps_tensor(eps, len(x), torch.float64, x.device)
            return self.search.once(attempt, x, broken, clean_pred, radii, measure)

        return self._attack(images, labels, targets, once)

    def _attack(self, images, labels, targets, search) -> AttackResult:
        """The batch checked and on the model's device, the model in eval mode, and `search`
        (attempt, x, already fooled, clean predictions, measure) -> `SearchResult` as a result."""
        x, labels, targets = batch_on_device(self.model, images, labels, targets)
        with eval_mode(self.model):
            with torch.no_grad():
                clean_pred = clean_predictions(self.model, self.judge, x, labels, targets)
            broken = fooled(clean_pred, labels, targets)
            attempt = self.attempter(x, labels, targets)
            found = search(attempt, x, broken, clean_pred, self.measurer(x))
        radius = torch.where(torch.isfinite(found.eps_found), found.eps_found, found.eps_failed)
        return AttackResult(
            found.adv.detach(),
            torch.isfinite(found.eps_found),
            found.eps_found,
            found.iterations,
            clean_pred,
            found.adv_pred,
            radius,
            found.eps_failed,
        )

    def attempter(self, x, labels, targets):
        """The search's `attempt(rows, eps, start)` over this batch; an attack that keeps state
        across its attempts (`remember`) gets it with the attempt's rows."""
        memory = self.remember(x)

        def attempt(rows, eps, begin):
            sub_targets = None if targets is None else targets[rows]
            recall = None if memory is None else (memory, rows)
            return self.attempt(x[rows], labels[rows], sub_targets, eps, begin, recall)

        return attempt

    def measurer(self, x):
        """The search's `measure`: the exact distance from x of the points found (None when off)."""

        def measure(rows, points):
            return self.ball.distance(x[rows], points)

        return measure if self.measure else None

    def remember(self, x):
        """State kept across the attempts of one call on the batch x; none by default."""
        return None

    def round_off(self, z: torch.Tensor) -> torch.Tensor:
        """With capacity, z is in [0, 1] up to round-off; without, this is the paper's clamp."""
        return z.clamp(0, 1)

    def new_run(self, labels, targets, z) -> _AttemptRun:
        return _AttemptRun(self, labels, targets, z)


class _AttemptRun:
    """One fixed-radius attempt's state: the standing examples and what the fooled ones found."""

    def __init__(self, attack: PlanAttack, labels, targets, z):
        n, device = len(z), z.device
        self.attack, self.labels, self.targets = attack, labels, targets
        self.fooled = torch.zeros(n, dtype=torch.bool, device=device)
        self.iterations = torch.zeros(n, dtype=torch.long, device=device)
        self.pred = torch.full((n,), -1, dtype=torch.long, device=device)
        self.found = z.detach().clone()
        self.standing = torch.arange(n, device=device)
        self.kept = self.standing

    def check(self, z, final: bool = False):
        """Judge the standing examples at z; returns (loss gradient, indices still standing)."""
        rows = self.standing
        if len(rows) == 0:
            return None, rows
        adv = z[rows].detach().requires_grad_(not final)
        targets = None if self.targets is None else self.targets[rows]
        with torch.enable_grad():
            logits = self.attack.model(adv)
            if not final:
                loss = attack_loss(logits, self.labels[rows], targets, self.attack.loss).sum()
                (grad,) = torch.autograd.grad(loss, adv)
        pred = self.attack.judge(adv.detach()) if self.attack.judge else logits.argmax(1)
        self.pred[rows] = pred.detach()
        hit = fooled(pred, self.labels[rows], targets)
        self.found[rows[hit]] = z[rows[hit]].detach()
        self.fooled[rows[hit]] = True
        self.kept = ~hit
        self.standing = rows[~hit]
        return (None if final else grad[~hit]), self.standing

    def attempt(self, z) -> Attempt:
        adv = torch.where(self.fooled.view(-1, *[1] * (z.dim() - 1)), self.found, z)
        return Attempt(self.fooled.clone(), adv.detach(), self.iterations, self.pred)
