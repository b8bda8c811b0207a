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


def unmeasured_at(eps_found: np.ndarray, eps_failed: np.ndarray, radii) -> np.ndarray:
    """Per radius r: how many examples `accuracy_at` counts as robust at r (eps_found > r) although
    the attack never ran at a radius >= r and failed there (eps_failed < r).

    Such an example was not broken within r only because the attack never tried r: the accuracy
    at r is an upper bound by that many examples. eps_failed is the largest radius at which the
    attack ran on the example and failed (0 if none), so 0 for every example of an attack that
    does not track it: then every example counted at a radius > 0 is unmeasured.
    """
    eps_found = np.asarray(eps_found, dtype=float)
    eps_failed = np.asarray(eps_failed, dtype=float)
    if eps_found.shape != eps_failed.shape:
        raise ValueError(
            f"eps_found and eps_failed differ in shape: {eps_found.shape} vs {eps_failed.shape}"
        )
    radii = np.atleast_1d(np.asarray(radii, dtype=float))
    if len(eps_found) == 0:
        return np.zeros(len(radii), dtype=int)
    counted = eps_found[None, :] > radii[:, None]
    backed = eps_failed[None, :] >= radii[:, None]
    return (counted & ~backed).sum(axis=1)


def unmeasured_curve(
    eps_found: np.ndarray, eps_failed: np.ndarray, extra_radii=()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(radii, accuracy, unmeasured) at 0, at every radius where an example falls or was last
    attacked and failed, and at `extra_radii` (the curve of `accuracy_curve` with the radii where
    the unmeasured count can change added)."""
    eps_failed = np.asarray(eps_failed, dtype=float)
    failed = eps_failed[np.isfinite(eps_failed)]
    radii, accuracy = accuracy_curve(
        eps_found, np.concatenate([np.asarray(extra_radii, float), failed])
    )
    return radii, accuracy, unmeasured_at(eps_found, eps_failed, radii)


def unmeasured_stretches(radii: np.ndarray, eps_found, eps_failed) -> np.ndarray:
    """Per step [radii[i], radii[i+1]) of a curve: True when some example counted robust there was
    never attacked and failed at a radius that large (judged at the step's midpoint; the last
    step, which runs on to the plot's edge, at its left end)."""
    radii = np.asarray(radii, dtype=float)
    if len(radii) == 0:
        return np.zeros(0, dtype=bool)
    mids = np.append((radii[:-1] + radii[1:]) / 2, radii[-1])
    return unmeasured_at(eps_found, eps_failed, mids) > 0
