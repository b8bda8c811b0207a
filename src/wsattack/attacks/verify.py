"""Independent check of every adversarial example: its exact distance to the clean image."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wsattack.attacks.result import AttackResult

RTOL = 1e-3  # an example more than 0.1% outside its recorded radius is flagged
ATOL = 1e-9  # round-off of the exact solver for an unchanged image


@dataclass
class Verification:
    """Per example: exact distance in the ball's units and whether it lies within the recorded
    radius (1/0; both -1 when the exact check is skipped), relative change of total mass
    (clamping to [0,1] removes mass), and the l_inf and l_2 sizes of the perturbation."""

    exact_cost: torch.Tensor
    verified: torch.Tensor
    mass_change: torch.Tensor
    linf: torch.Tensor
    l2: torch.Tensor


def within_radius(distance: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """The verification rule: an exact distance within the recorded radius, up to RTOL/ATOL."""
    return distance <= radius.cpu() * (1 + RTOL) + ATOL


def verify(ball, images: torch.Tensor, result: AttackResult, exact: bool = True) -> Verification:
    """Check every adversarial example independently of the attack that made it.

    Parameters
    ----------
    ball : WassersteinBall or LpBall
        The attack's threat model (``attack.ball``): its exact distance is the check.
    images : torch.Tensor
        The clean images, (N, C, H, W) in [0, 1].
    result : AttackResult
        What the attack returned; each example is checked against its recorded radius.
    exact : bool
        False skips the exact distance (``exact_cost`` and ``verified`` are then -1).

    Returns
    -------
    Verification
        Per example: the exact distance (for the Wasserstein ball, the exact local transport
        cost per unit clean mass, by the network simplex), ``verified`` (1 within the radius up
        to a relative 1e-3, else 0), the relative mass change, and the l_inf and l_2 sizes.

    Examples
    --------
    >>> from wsattack import WassersteinPGD, load_dataset, load_model
    >>> data = load_dataset("demo", limit=4)
    >>> attack = WassersteinPGD(load_model("zoo:demo_fashion_mnist_cnn"), max_iter=20)
    >>> result = attack(data.images, data.labels)
    >>> checked = verify(attack.ball, data.images, result)
    >>> checked.verified.tolist()
    [1, 1, 1, 1]
    >>> bool((checked.exact_cost <= result.radius * (1 + 1e-3) + 1e-9).all())
    True
    """
    x, adv = images.cpu().double(), result.adv.cpu().double()
    delta = (adv - x).flatten(1)
    mass = x.flatten(1).sum(1)
    mass_change = (adv.flatten(1).sum(1) - mass) / mass.clamp_min(1e-12)
    if exact:
        distance = ball.distance(x, adv)
        verified = within_radius(distance, result.radius).long()
    else:
        distance = torch.full((len(x),), -1.0, dtype=torch.float64)
        verified = torch.full((len(x),), -1, dtype=torch.long)
    return Verification(distance, verified, mass_change, delta.abs().amax(1), delta.norm(dim=1))
