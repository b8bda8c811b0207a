"""Certified accuracy and the Levine & Feizi (2020) Table 1 columns, from certify.csv rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

NOT_AVAILABLE = "N/A"


def certified_accuracy(frame: pd.DataFrame, radii) -> np.ndarray:
    """Fraction of images certified correct with radius >= r, for each r."""
    ok = (frame["correct"] == 1).to_numpy()
    radius = frame["radius"].to_numpy(dtype=float)
    return np.array([(ok & (radius >= r)).mean() if len(frame) else 0.0 for r in np.atleast_1d(radii)])


def median_certified_radius(frame: pd.DataFrame) -> float | str:
    """The largest radius r at which at least half the images are classified correctly by the
    smoothed classifier's hard vote with a certificate of radius >= r (paper section 6).

    As in the paper's Table 1, correctness comes from the vote (`predict`) and the radius from
    `certify` (0 when certify abstains or guesses another class), so the median is 0 when most
    images are classified correctly but fewer than half are certified, and "N/A" when fewer
    than half are classified correctly.
    """
    needed = math.ceil(len(frame) / 2)
    voted = frame[frame["vote_correct"] == 1]
    radii = np.where(voted["correct"] == 1, voted["radius"].to_numpy(dtype=float), 0.0)
    if len(frame) == 0 or len(radii) < needed:
        return NOT_AVAILABLE
    return float(np.sort(radii)[::-1][needed - 1])


def table_row(frame: pd.DataFrame) -> dict:
    """The paper's columns: smoothed accuracy (percent abstained), median certified robustness,
    base classifier accuracy under noise."""
    n = max(len(frame), 1)
    return {
        "n": len(frame),
        "smoothed_accuracy": round(float((frame["vote_correct"] == 1).sum()) / n, 6),
        "abstained": round(float((frame["vote"] == -1).sum()) / n, 6),
        "median_certified_radius": median_certified_radius(frame),
        "base_accuracy_under_noise": round(float(frame["noise_accuracy"].sum()) / n, 6),
        "certified_accuracy": round(float((frame["correct"] == 1).sum()) / n, 6),
    }
