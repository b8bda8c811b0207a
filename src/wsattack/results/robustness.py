"""Robust accuracy against radius, from each example's eps_found."""

from __future__ import annotations

import numpy as np


def accuracy_curve(eps_found: np.ndarray, extra_radii=()) -> tuple[np.ndarray, np.ndarray]:
    """(radii, accuracy) at 0, at every radius where an example falls, and at `extra_radii`.

    Accuracy at r is the fraction of examples whose eps_found exceeds r (not broken within r).
    """
    eps_found = np.asarray(eps_found, dtype=float)
    finite = eps_found[np.isfinite(eps_found)]
    radii = np.unique(np.concatenate([[0.0], finite, np.asarray(extra_radii, dtype=float)]))
    return radii, accuracy_at(eps_found, radii)


def accuracy_at(eps_found: np.ndarray, radii) -> np.ndarray:
    eps_found = np.asarray(eps_found, dtype=float)
    if len(eps_found) == 0:
        return np.zeros(len(np.atleast_1d(radii)))
    return (eps_found[None, :] > np.asarray(radii, dtype=float)[:, None]).mean(axis=1)
