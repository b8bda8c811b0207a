"""Figures: accuracy against radius (the paper's Figure 4) and clean/perturbation/adversarial
panels (Figures 2, 3 and 6)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402


def plot_curves(curves: dict, path: Path, xlabel: str, ylabel: str, title: str = "") -> None:
    """One step curve per label from (x, y) or (x, y, dashed): y drops at each x, and step i
    (from x[i] to x[i+1] at height y[i]) is dashed where dashed[i] (an accuracy the attack did
    not back by a measurement, see `robustness.unmeasured_stretches`)."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    any_dashed = False
    for k, (label, curve) in enumerate(curves.items()):
        x, y = np.asarray(curve[0], float), np.asarray(curve[1], float)
        dashed = np.asarray(curve[2], bool) if len(curve) > 2 else np.zeros(len(x), bool)
        color = colors[k % len(colors)]
        flat = [((x[i], y[i]), (x[i + 1], y[i])) for i in range(len(x) - 1)]
        drops = [((x[i + 1], y[i]), (x[i + 1], y[i + 1])) for i in range(len(x) - 1)]
        styles = ["--" if dashed[i] else "-" for i in range(len(flat))]
        any_dashed |= bool(dashed[: len(flat)].any())
        ax.add_collection(
            LineCollection(flat + drops, colors=color, linestyles=styles + ["-"] * len(drops))
        )
        ax.plot(x[:1], y[:1], color=color, label=label)  # the legend entry (and a lone point)
    ax.autoscale_view()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if any_dashed:
        handles.append(Line2D([], [], color="gray", linestyle="--"))
        labels.append("upper bound: not attacked there")
    if len(handles) > 1:
        ax.legend(handles, labels)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_examples(
    clean: np.ndarray, adv: np.ndarray, captions: list[tuple[str, str]], path: Path
) -> None:
    """A row per example: clean image, perturbation (adv - clean, red/blue), adversarial image."""
    n = len(clean)
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    for i in range(n):
        delta = (adv[i] - clean[i]).mean(0) if adv.shape[1] > 1 else adv[i, 0] - clean[i, 0]
        bound = max(float(np.abs(delta).max()), 1e-6)
        panels = [
            (_rgb(clean[i]), captions[i][0], None),
            (delta, "perturbation", bound),
            (_rgb(adv[i]), captions[i][1], None),
        ]
        for ax, (img, title, lim) in zip(axes[i], panels, strict=True):
            if lim is None:
                ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            else:
                ax.imshow(img, cmap="seismic", vmin=-lim, vmax=lim)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _rgb(image: np.ndarray) -> np.ndarray:
    return image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0)).clip(0, 1)
