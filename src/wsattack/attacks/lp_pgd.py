"""The l_inf and l_2 PGD baselines, for the paper's comparison of threat models (Figure 2).

Each carries its own radius schedule: by default every radius of a list in turn (`fixed`), the
usual MNIST radii of its norm (l_inf up to 0.3, the radius of the paper's Figure 2; l_2 up to 3)
and smaller ones where undefended models break, so that the accuracy at each radius is measured
there rather than read off a geometric schedule that steps over it.
"""

from __future__ import annotations

from wsattack.attacks.balls import LpBall
from wsattack.attacks.pgd import PGD
from wsattack.attacks.registry import register_attack
from wsattack.attacks.schedules import schedule_from
from wsattack.attacks.steps import build_step


class LpPGD(PGD):
    """PGD on the l_p ball of the subclass's `norm`, with the step `step_name` of that norm.

    Parameters
    ----------
    model : torch.nn.Module
        Maps [0, 1] images to logits.
    schedule : {"fixed", "geometric", "ramp"}
        The radius schedule: `radii` in turn with `max_iter` steps each; eps0 x growth every
        `every` iterations up to `max_iter`; or eps0 + ramp_step x t.
    radii, eps0, growth, every, max_iter, ramp_step
        The schedules' settings (each schedule reads its own).
    alpha : float
        Step size.
    clamp : bool
        Clip to [0, 1] after each projection.
    judge : callable, optional
        images -> predicted labels, deciding success instead of the model's argmax.
    """

    norm: str
    step_name: str

    def __init__(
        self,
        model,
        schedule: str = "fixed",
        radii=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3),
        max_iter: int = 40,
        eps0: float = 0.01,
        growth: float = 1.1,
        every: int = 10,
        ramp_step: float = 0.01,
        alpha: float = 0.01,
        clamp: bool = True,
        judge=None,
    ):
        super().__init__(
            model,
            LpBall(float(self.norm)),
            build_step(self.step_name),
            schedule_from(schedule, eps0, growth, every, max_iter, radii, ramp_step),
            alpha,
            clamp,
            judge,
        )


@register_attack("linf_pgd")
class LinfPGD(LpPGD):
    """l_inf PGD with sign steps (Madry et al. 2018); by default l_inf radii 0.01 to 0.3 in turn,
    40 steps of 0.01 each.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    >>> attack = LinfPGD(model, radii=(0.1, 0.5), max_iter=20, alpha=0.05)
    >>> attack  # doctest: +NORMALIZE_WHITESPACE
    LinfPGD(ball=LpBall(norm=inf), step=linf_step, alpha=0.05, clamp=True,
            schedule=fixed(radii=(0.1, 0.5), max_iter=20))
    >>> x = torch.rand(4, 1, 4, 4)
    >>> result = attack(x, model(x).argmax(1))
    >>> bool(((result.adv - x).abs().amax(dim=(1, 2, 3)) <= 0.5 + 1e-6).all())
    True
    """

    norm, step_name = "inf", "linf"


@register_attack("l2_pgd")
class L2PGD(LpPGD):
    """l_2 PGD with normalized gradient steps; by default l_2 radii 0.1 to 3.0 in turn, 40 steps
    of 0.1 each.

    Examples
    --------
    >>> from wsattack import load_dataset, load_model
    >>> data = load_dataset("demo", limit=8)
    >>> result = L2PGD(load_model("zoo:demo_fashion_mnist_cnn"))(data.images, data.labels)
    >>> found = set(result.eps_found[result.success].tolist()) - {0.0}  # 0: misclassified
    >>> found <= {0.1, 0.25, 0.5, 1.0, 2.0, 3.0}  # broken at the radii of its schedule
    True
    """

    norm, step_name = "2", "l2"

    def __init__(
        self,
        model,
        radii=(0.1, 0.25, 0.5, 1.0, 2.0, 3.0),
        eps0: float = 0.1,
        alpha: float = 0.1,
        **kwargs,
    ):
        super().__init__(model, radii=radii, eps0=eps0, alpha=alpha, **kwargs)
