"""The Examples sections of the public API's docstrings run as written (on the packaged demo
data and model), so `make test` keeps them true."""

from __future__ import annotations

import doctest
import importlib

import pytest

PUBLIC_MODULES = [
    "wsattack.attacks.auto",
    "wsattack.attacks.balls",
    "wsattack.attacks.frank_wolfe",
    "wsattack.attacks.lp_pgd",
    "wsattack.attacks.plan_pgd",
    "wsattack.attacks.verify",
    "wsattack.attacks.wasserstein",
    "wsattack.data.datasets",
    "wsattack.models.binarize",
    "wsattack.models.load",
    "wsattack.models.modes",
    "wsattack.ot.cost",
    "wsattack.ot.exact",
    "wsattack.ot.projection",
    "wsattack.ot.rows",
    "wsattack.ot.settings",
    "wsattack.smoothing.attackable",
    "wsattack.smoothing.certifier",
    "wsattack.smoothing.sequential",
    "wsattack.smoothing.sequential_certifier",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_docstring_examples_run(name):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} example(s) of {name} failed (see the output)"
