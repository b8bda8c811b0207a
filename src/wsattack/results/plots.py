"""Figures: accuracy against radius (the paper's Figure 4) and clean/perturbation/adversarial
panels (Figures 2, 3 and 6)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    path: Path,
    xlabel: str,
    ylabel: str,
    title: str = "",
) -> None:
    """One step curve per label: y(x) where y drops at each x of the data."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label, (x, y) in curves.items():
        ax.step(x, y, where="post", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
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
