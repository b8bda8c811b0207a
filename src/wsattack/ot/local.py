"""Log-domain sums over every pixel's k x k neighbourhood (local transport, section 4.3).

Both Sinkhorn half-steps (eq. 9 and eq. 10) need, for every pixel i of every channel,
    log sum_d exp(v[i + d] - psi * C[d])
over the k x k offsets d, with a per-example psi. Offsets that leave the image see -inf, so mass
never leaves the image, and each channel is its own plane, so mass never changes channel.

When C[di, dj] = a[di] + b[dj] (p=2 Euclidean, i.e. di^2 + dj^2, and p=1 cityblock), the sum
factorises into a horizontal pass and a vertical pass of k terms each instead of k*k terms;
measured on one CPU core (batch 100, 28 x 28, k=7) that is 2.8 ms instead of 6.4 ms per sum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wsattack.ot.cost import check_cost


def _safe(m: torch.Tensor) -> torch.Tensor:
    """Replace -inf (an all-empty neighbourhood) by 0 so that v - m stays -inf, not NaN."""
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _separable_parts(cost: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(a, b) with cost[i, j] = a[i] + b[j] when the cost splits that way, else None."""
    r = cost.shape[0] // 2
    a = cost[:, r]
    b = cost[r, :] - cost[r, r]
    if torch.allclose(a[:, None] + b[None, :], cost, rtol=1e-12, atol=1e-12):
        return a, b
    return None


class LocalCost:
    """A k x k cost prepared for the neighbourhood sums of one dtype and device.

    `forward` serves the row update (pixel i sends to i + d, cost C[d]); `backward` serves the
    column update (pixel j receives from j - d, cost C[d], i.e. the flipped kernel), and also
    returns the plan's mean cost and mean squared cost per receiving pixel for the psi step.
    """

    def __init__(self, cost: torch.Tensor, dtype: torch.dtype, device: torch.device):
        cost = check_cost(cost).to(torch.float64)
        self.cost64 = cost  # for a float64 twin (`sinkhorn.solve` finishes float32 in float64)
        self.k = cost.shape[0]
        self.r = self.k // 2
        parts = _separable_parts(cost)
        self.separable = parts is not None
        flipped = cost.flip(0, 1)
        self.c_fwd = cost.to(dtype=dtype, device=device)
        self.c_bwd = flipped.to(dtype=dtype, device=device)
        if parts is not None:
            a, b = (t.tolist() for t in parts)
            self.ab_fwd = (a, b)
            self.ab_bwd = (a[::-1], b[::-1])

    def _pad(self, v: torch.Tensor) -> torch.Tensor:
        r = self.r
        return F.pad(v, (r, r, r, r), value=float("-inf"))

    def forward(self, v: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        """log sum_d exp(v[i + d] - psi C[d]) for every pixel i; v is (B, C, H, W)."""
        if self.separable:
            return self._lse_separable(v, psi, *self.ab_fwd)[0]
        return self._lse_full(v, psi, self.c_fwd)[0]

    def backward(self, v: torch.Tensor, psi: torch.Tensor):
        """(log sum_d exp(v[j - d] - psi C[d]), mean of C, mean of C^2) under those weights."""
        if self.separable:
            return self._lse_separable(v, psi, *self.ab_bwd, stats=True)
        return self._lse_full(v, psi, self.c_bwd, stats=True)

    def _lse_full(self, v, psi, c, stats=False):
        B, C, H, W = v.shape
        k = self.k
        windows = F.unfold(self._pad(v).reshape(B * C, 1, H + 2 * self.r, W + 2 * self.r), k)
        scores = windows.view(B, C, k * k, H * W) - psi.view(B, 1, 1, 1) * c.view(1, 1, -1, 1)
        lse = torch.logsumexp(scores, dim=2)
        if not stats:
            return (lse.view(B, C, H, W),)
        weights = torch.exp(scores - _safe(lse).unsqueeze(2))
        moments = torch.stack((c.view(-1), c.view(-1) ** 2), dim=1)  # (k*k, 2)
        mean = torch.einsum("bcdl,dm->bcml", weights, moments)
        shape = (B, C, H, W)
        return lse.view(shape), mean[:, :, 0].reshape(shape), mean[:, :, 1].reshape(shape)

    def _lse_separable(self, v, psi, a, b, stats=False):
        # Horizontal pass over the padded rows, then a vertical pass over its result.
        psi = psi.view(-1, 1, 1, 1)
        H, W = v.shape[-2:]
        inner, w_in, tot_in = _axis_lse(self._pad(v), psi, b, dim=3, n=W)
        lse, w_out, tot_out = _axis_lse(inner, psi, a, dim=2, n=H)
        if not stats:
            return (lse,)
        # C = a + b: E[b] and E[b^2] per padded row position, then mixed over rows with a.
        mb = _weighted(w_in, tot_in, b)
        mb2 = _weighted(w_in, tot_in, [bd * bd for bd in b])
        rows = [mb.narrow(2, d, H) for d in range(self.k)]
        rows2 = [mb2.narrow(2, d, H) for d in range(self.k)]
        mean_c = _weighted(w_out, tot_out, [r + ad for r, ad in zip(rows, a, strict=True)])
        mean_c2 = _weighted(
            w_out,
            tot_out,
            [r2 + (2 * ad) * r + ad * ad for r, r2, ad in zip(rows, rows2, a, strict=True)],
        )
        return lse, mean_c, mean_c2


def _axis_lse(v, psi, costs, dim, n):
    """log sum_d exp(v.narrow(dim, d, n) - psi c_d), with the weights exp(. - max) and their sum.

    Contiguous shifted slices instead of an unfolded (..., k) view: reductions over a last dim
    of 5 or 7 vectorise poorly, and this is ~1.5x faster on CPU.
    """
    terms = [v.narrow(dim, d, n) - psi * c for d, c in enumerate(costs)]
    top = terms[0]
    for t in terms[1:]:
        top = torch.maximum(top, t)
    top = _safe(top)
    weights = [torch.exp(t - top) for t in terms]
    total = weights[0]
    for wd in weights[1:]:
        total = total + wd
    return torch.log(total) + top, weights, total


def _weighted(weights, total, values):
    """sum_d weights[d] * values[d] / total; total >= 1 unless the window is empty (all 0)."""
    acc = weights[0] * values[0]
    for wd, val in zip(weights[1:], values[1:], strict=True):
        acc = acc + wd * val
    return acc / total.clamp_min(1.0)
