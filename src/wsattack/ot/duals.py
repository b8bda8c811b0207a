"""Dual variables of the projected Sinkhorn iteration (Lemma 1), kept per example."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Duals:
    """alpha (B,C,H,W), beta (B,C,H,W), psi (B,) of eq. 7-8, in the lam-scaled convention.

    The plan is Pi_ij = exp(alpha_i - psi C_ij - 1 + beta_j) on mass-normalized images. alpha is
    -inf on zero pixels of x. Index a sub-batch with `duals[idx]` (a copy for boolean/long
    indices) and write one back with `duals.update(idx, sub)`, so a PGD loop can keep duals for
    the whole batch and warm-start only the examples it is still attacking.
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    psi: torch.Tensor

    def __len__(self) -> int:
        return self.psi.shape[0]

    def __getitem__(self, index) -> Duals:
        return Duals(self.alpha[index], self.beta[index], self.psi[index])

    def update(self, index, other: Duals) -> Duals:
        """Write `other` into the examples selected by `index` (in place); returns self."""
        self.alpha[index] = other.alpha.to(self.alpha)
        self.beta[index] = other.beta.to(self.beta)
        self.psi[index] = other.psi.to(self.psi)
        return self

    def to(self, *args, **kwargs) -> Duals:
        """Move/cast like Tensor.to."""
        return Duals(*(t.to(*args, **kwargs) for t in (self.alpha, self.beta, self.psi)))

    def clone(self) -> Duals:
        return Duals(self.alpha.clone(), self.beta.clone(), self.psi.clone())
