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
    return np.array(
        [(ok & (radius >= r)).mean() if len(frame) else 0.0 for r in np.atleast_1d(radii)]
    )


def median_certified_radius(frame: pd.DataFrame) -> float | str:
    """The largest radius r such that at least half the images are classified correctly with a
    certificate of radius >= r (paper section 6); "N/A" when fewer than half are classified
    correctly.

    As the authors' code computes Table 1 (wass_smooth_certify): an image counts as classified
    correctly when its most frequent class under noise is the label, abstention or not, and
    its radius is the certified one, 0 when certification abstains (the authors clamp the
    radius of a low p_lower at 0). So the median is 0, not "N/A", when most images are
    classified correctly but fewer than half are certified (Table 1, Wasserstein sigma 0.1:
    49.41% accuracy with 1.29% abstentions, median 0). `top` (the plurality of the prediction
    samples) stands in for the authors' guess from the n0 selection samples.
    """
    needed = math.ceil(len(frame) / 2)
    classified = frame[frame["top"] == frame["label"]]
    radii = np.where(classified["correct"] == 1, classified["radius"].to_numpy(dtype=float), 0.0)
    if len(frame) == 0 or len(radii) < needed:
        return NOT_AVAILABLE
    return float(np.sort(radii)[::-1][needed - 1])


def certified_column(radius: float) -> str:
    """certify.csv's column for one requested radius: 1 when certified correct at >= radius."""
    return f"certified@{radius:g}"


def table_row(frame: pd.DataFrame, radii=()) -> dict:
    """The paper's columns: smoothed accuracy (percent abstained), median certified robustness,
    base classifier accuracy under noise; then the certified accuracy at each requested radius
    and, for sequential certification, the mean noise samples per image."""
    n = max(len(frame), 1)
    extra = {
        certified_column(r): round(float(frame[certified_column(r)].sum()) / n, 6) for r in radii
    }
    if "samples" in frame:
        extra["mean_samples"] = round(float(frame["samples"].sum()) / n, 1)
        extra["mean_predict_samples"] = round(float(frame["predict_samples"].sum()) / n, 1)
    return {
        "n": len(frame),
        "smoothed_accuracy": round(float((frame["vote_correct"] == 1).sum()) / n, 6),
        "abstained": round(float((frame["vote"] == -1).sum()) / n, 6),
        "median_certified_radius": median_certified_radius(frame),
        "base_accuracy_under_noise": round(float(frame["noise_accuracy"].sum()) / n, 6),
        "certified_accuracy": round(float((frame["correct"] == 1).sum()) / n, 6),
        **extra,
    }
