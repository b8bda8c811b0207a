"""Attacks with a plain Python API: `WassersteinPGD(model)(images, labels) -> AttackResult`."""

from wsattack.attacks.auto import AutoWasserstein
from wsattack.attacks.balls import LpBall, WassersteinBall
from wsattack.attacks.frank_wolfe import WassersteinFW
from wsattack.attacks.lp_pgd import L2PGD, LinfPGD, LpPGD
from wsattack.attacks.plan_pgd import WassersteinPlanPGD
from wsattack.attacks.registry import ATTACKS, register_attack
from wsattack.attacks.result import NOT_FOOLED, AttackResult
from wsattack.attacks.wasserstein import WassersteinPGD

__all__ = [
    "ATTACKS",
    "NOT_FOOLED",
    "AttackResult",
    "AutoWasserstein",
    "L2PGD",
    "LinfPGD",
    "LpPGD",
    "LpBall",
    "WassersteinBall",
    "WassersteinFW",
    "WassersteinPGD",
    "WassersteinPlanPGD",
    "register_attack",
]
