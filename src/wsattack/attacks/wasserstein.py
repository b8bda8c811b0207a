"""Wasserstein PGD with projected Sinkhorn (Wong et al. 2019), the `wasserstein` attack."""

from __future__ import annotations

from wsattack.attacks.balls import WassersteinBall
from wsattack.attacks.pgd import PGD
from wsattack.attacks.registry import register_attack
from wsattack.attacks.schedules import schedule_from
from wsattack.attacks.steps import build_step
from wsattack.ot.settings import WassersteinSettings


@register_attack("wasserstein")
class WassersteinPGD(PGD):
    """PGD over the local Wasserstein ball, projected with projected Sinkhorn [1]_ (section 4.3).

    Defaults are the paper's MNIST protocol (section 5): l_inf step 0.1, radius from 0.3 grown
    x1.1 every 10 iterations for up to 200, and the threat model's defaults
    (`WassersteinSettings`: 5x5 plans, lam 1000, Euclidean cost p=1); iterates clamped to [0, 1].

    Parameters
    ----------
    model : torch.nn.Module
        Maps [0, 1] images to logits; run in eval mode, its mode restored afterwards.
    eps0, growth, every, max_iter, schedule, radii, ramp_step
        The radius schedule: "geometric" (eps0 x growth every `every` iterations, at most
        `max_iter`), "fixed" (each of `radii` for `max_iter` steps) or "ramp" (eps0 +
        ramp_step x t, Hu et al. 2020 [2]_).
    step : {"linf", "l2", "mass", "wasserstein"}
        The ascent step: alpha x sign(grad) (the paper's), a normalized gradient step, alpha x
        the image's mass x grad / max|grad| (Hu et al. 2020's, with alpha 0.06), or steepest
        ascent in the Wasserstein geometry (eq. 14).
    alpha : float
        Step size.
    refine, rtol, refine_iter
        After the schedule, bisect each fooled example's radius between the last radius it
        failed at and the one it was fooled at, to relative precision rtol (2 %), with
        refine_iter steps per radius tried (`PGD`); off by default, as in the paper.
    clamp : bool
        Clip each projection to [0, 1] (ignored with capacity, which keeps the iterates there
        with their mass).
    judge : callable, optional
        images -> predicted labels, deciding success (e.g. a smoothed classifier's hard vote).
    **threat
        `WassersteinSettings` fields: kernel_size, p, metric, lam, sinkhorn_iters, tol,
        capacity (Hu et al. 2020's pixel ceiling).

    Returns
    -------
    Calling the attack, `attack(images, labels, targets=None)`, returns an `AttackResult`.

    References
    ----------
    .. [1] E. Wong, F. R. Schmidt and J. Z. Kolter, "Wasserstein Adversarial Examples via
       Projected Sinkhorn Iterations", ICML 2019.
    .. [2] J. E. Hu, A. Swaminathan, H. Salman and G. Yang, "Improved Image Wasserstein Attacks
       and Defenses", ICLR 2020 Workshop on Trustworthy ML.

    Examples
    --------
    >>> import torch
    >>> from wsattack import WassersteinPGD, load_dataset, load_model, verify
    >>> model = load_model("zoo:demo_fashion_mnist_cnn")
    >>> data = load_dataset("demo", limit=8)
    >>> attack = WassersteinPGD(model, max_iter=40, sinkhorn_iters=30)
    >>> result = attack(data.images, data.labels)
    >>> result.adv.shape
    torch.Size([8, 1, 28, 28])
    >>> bool(verify(attack.ball, data.images, result).verified.all())
    True
    """

    forwards_to = WassersteinSettings  # where **threat goes (`build.accepted_parameters`)

    def __init__(
        self,
        model,
        eps0: float = 0.3,
        growth: float = 1.1,
        every: int = 10,
        max_iter: int = 200,
        schedule: str = "geometric",
        radii=(0.1, 0.3, 0.5, 1.0),
        ramp_step: float = 0.01,
        step: str = "linf",
        alpha: float = 0.1,
        clamp: bool = True,
        judge=None,
        refine: bool = False,
        rtol: float = 0.02,
        refine_iter: int = 20,
        **threat,
    ):
        ball = WassersteinBall(**threat)
        super().__init__(
            model,
            ball,
            build_step(step, ball),
            schedule_from(schedule, eps0, growth, every, max_iter, radii, ramp_step),
            alpha,
            clamp and not ball.capacity,
            judge,
            refine,
            rtol,
            refine_iter,
        )
