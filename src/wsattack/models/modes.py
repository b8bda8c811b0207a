"""Running a model in eval mode for a while (an attack, a probe) and giving it back as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Eval mode inside, the previous mode restored after, even on an exception.

    An attack must see the deployed model: in train mode batch normalization would normalize
    with the attacked batch's statistics and update its running statistics, and dropout would
    make the gradient random.

    Parameters
    ----------
    model : torch.nn.Module
        The model, in either mode.

    Yields
    ------
    torch.nn.Module
        The same model, in eval mode.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.BatchNorm1d(3).train()
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextmanager
def frozen(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`eval_mode` with parameter gradients off inside; the previous flags restored after, so
    attacking a batch during training neither changes the model nor leaves gradients behind."""
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    try:
        with eval_mode(model):
            yield model
    finally:
        for param, flag in zip(model.parameters(), flags, strict=True):
            param.requires_grad_(flag)
