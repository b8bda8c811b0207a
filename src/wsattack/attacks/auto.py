"""`auto`: the recommended evaluation, in the spirit of AutoAttack (Croce & Hein 2020) for l_p.

Frank-Wolfe (the cheapest strong attack) runs on every example; PGD with the exact projection
then runs on the examples still standing or broken only above `rerun_above`, searching only
below what Frank-Wolfe found and starting from its adversarial point's radius. Per example the
smallest radius whose adversarial point passes the exact check is kept, with the name of the
attack that found it (`AttackResult.found_by`). A candidate that fails the exact check is
discarded, so `auto` never reports a larger radius than any attack it ran, nor an unverified
one.
"""

from __future__ import annotations

import torch

from wsattack.attacks.frank_wolfe import WassersteinFW
from wsattack.attacks.plan_attack import PlanAttack
from wsattack.attacks.plan_pgd import WassersteinPlanPGD
from wsattack.attacks.registry import register_attack
from wsattack.attacks.result import NOT_FOOLED, AttackResult
from wsattack.attacks.verify import ATOL, RTOL


@register_attack("auto")
class AutoWasserstein:
    """FW on all, then exact-projection PGD on the hard ones; the smallest verified radius wins.

    fw_steps, fw_gamma: Frank-Wolfe's steps per radius and entropy weight. pgd_steps, pgd_alpha:
    PGD's. rerun_above: examples broken by Frank-Wolfe at a radius above this (and those it did
    not break) are attacked again by PGD; 0 reruns every example. The ball (kernel_size, p,
    metric, capacity), loss, judge and search settings (eps0, factor, eps_max, rtol) are shared.
    """

    forwards_to = PlanAttack  # where **shared goes (for the config's parameter check)

    def __init__(
        self,
        model,
        fw_steps: int = 20,
        fw_gamma: float = 0.03,
        pgd_steps: int = 20,
        pgd_alpha: float = 0.5,
        rerun_above: float = 0.0,
        **shared,
    ):
        self.stages = {
            "wasserstein_fw": WassersteinFW(model, steps=fw_steps, gamma=fw_gamma, **shared),
            "wasserstein_pgd": WassersteinPlanPGD(
                model, steps=pgd_steps, alpha=pgd_alpha, **shared
            ),
        }
        self.ball = self.stages["wasserstein_fw"].ball
        self.rerun_above = rerun_above

    def __repr__(self) -> str:
        inner = ", ".join(repr(a) for a in self.stages.values())
        return f"AutoWasserstein(rerun_above={self.rerun_above}, stages=[{inner}])"

    def __call__(self, images, labels, targets=None) -> AttackResult:
        (first_name, first), (second_name, second) = self.stages.items()
        best = self._verified(first(images, labels, targets), images)
        found_by = [first_name if torch.isfinite(e) and e > 0 else "" for e in best.eps_found]
        rows = (~best.success | (best.eps_found > self.rerun_above)).nonzero().squeeze(1)
        if len(rows):
            sub_targets = None if targets is None else targets[rows]
            hi = best.eps_found[rows]
            start = best.adv[rows].to(images.device)
            again = self._verified(
                second(images[rows], labels[rows], sub_targets, start=start, hi=hi), images[rows]
            )
            better = again.eps_found < best.eps_found[rows]
            _take(best, again, rows, better)
            for r in rows[better].tolist():
                found_by[r] = second_name
        best.found_by = found_by
        return best

    def _verified(self, result: AttackResult, images) -> AttackResult:
        """Drop successes whose exact distance exceeds their radius (treated as not found)."""
        broken = result.success & (result.eps_found > 0)
        if broken.any():
            idx = broken.nonzero().squeeze(1)
            dist = self.ball.distance(images[idx].cpu(), result.adv[idx].cpu())
            bad = idx[dist > result.eps_found[idx].cpu() * (1 + RTOL) + ATOL]
            result.success[bad] = False
            result.eps_found[bad] = NOT_FOOLED
            result.adv[bad] = images[bad].to(result.adv)
            result.adv_pred[bad] = result.clean_pred[bad]
            result.radius[bad] = 0.0
        return result


def _take(best: AttackResult, other: AttackResult, rows, better) -> None:
    """Copy `other`'s examples where `better` into `best` at `rows`. Iterations add up, and
    eps_failed is the largest radius either attack failed at below the radius kept."""
    best.iterations[rows] += other.iterations
    chosen = rows[better]
    for name in ("adv", "success", "eps_found", "adv_pred", "radius"):
        getattr(best, name)[chosen] = getattr(other, name)[better]
    found = best.eps_found[rows]
    failed = torch.stack((best.eps_failed[rows], other.eps_failed))
    best.eps_failed[rows] = torch.where(failed < found, failed, 0.0).amax(dim=0)
