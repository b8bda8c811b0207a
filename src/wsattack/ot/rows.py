"""Local plans compacted to the pixels that have mass.

A pixel without mass sends nothing: its K = k * k entries of a local plan are zero whatever a
solver does with them, and on MNIST four pixels in five are empty. The solvers that work source
by source (the plan projection, the Frank-Wolfe oracle, the feasibility repair) therefore hold
only the rows of the pixels with mass, as an (R, K) tensor, with where each entry lands.
"""

from __future__ import annotations

import torch

from wsattack.ot.plans import valid_offsets


class PlanRows:
    """The pixels of x (B, C, H, W) with mass, as R rows of the k * k offsets of a local plan.

    Attributes: idx (R,), each row's flat index in x (sorted, so rows are grouped by example);
    ex (R,), its example; valid (R, K), whether each offset stays inside the image; dest (R, K),
    the flat pixel each entry lands on, and N = x.numel() (a dummy pixel) for an offset that
    leaves the image.

    Examples
    --------
    >>> import torch
    >>> from wsattack.ot.plans import column_sums, identity_plan
    >>> x = torch.zeros(1, 1, 4, 4); x[0, 0, 1, 2] = 0.5
    >>> rows = PlanRows(x, 3)
    >>> P = rows.gather(identity_plan(x, 3))
    >>> P.shape, float(P.sum())
    (torch.Size([1, 9]), 0.5)
    >>> torch.equal(rows.image(P), column_sums(rows.scatter(P)))
    True
    """

    def __init__(self, x: torch.Tensor, k: int):
        B, C, H, W = x.shape
        K = k * k
        self.shape, self.k, self.K, self.N = (B, C, H, W), k, K, x.numel()
        self.idx = torch.nonzero(x.reshape(-1) > 0).squeeze(1)
        self.ex = torch.div(self.idx, C * H * W, rounding_mode="floor")
        hw = self.idx % (H * W)
        valid = valid_offsets(H, W, k, device=x.device).reshape(K, H * W).t()
        self.valid = valid.index_select(0, hw)
        r = k // 2
        offs = torch.arange(K, device=x.device)
        di = torch.div(offs, k, rounding_mode="floor") - r
        dj = offs - (di + r) * k - r
        dest = self.idx.unsqueeze(1) + (di * W + dj).unsqueeze(0)
        self.dest = dest.masked_fill_(~self.valid, self.N)

    def gather(self, plan: torch.Tensor) -> torch.Tensor:
        """(B, C, K, H, W) -> (R, K): the rows of the pixels with mass."""
        return plan.permute(0, 1, 3, 4, 2).reshape(-1, self.K).index_select(0, self.idx)

    def scatter(self, P: torch.Tensor) -> torch.Tensor:
        """(R, K) -> (B, C, K, H, W): the full plan, zero on the pixels without mass."""
        full = P.new_zeros(self.N, self.K).index_copy_(0, self.idx, P)
        return full.view(*self.shape, self.K).permute(0, 1, 4, 2, 3).contiguous()

    def columns(self, P: torch.Tensor, dest: torch.Tensor | None = None) -> torch.Tensor:
        """Column sums of the rows P landing on `dest` (default all rows' `dest`), flat over
        (B, C, H, W), plus the dummy entry N (what invalid offsets hold)."""
        dest = self.dest if dest is None else dest
        return P.new_zeros(self.N + 1).index_add_(0, dest.reshape(-1), P.reshape(-1))

    def image(self, P: torch.Tensor) -> torch.Tensor:
        """(R, K) -> (B, C, H, W): the image the rows produce (`plans.column_sums`)."""
        return self.columns(P)[:-1].view(self.shape)

    def at_destinations(self, v: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (R, K): v at the pixel each entry lands on, 0 on invalid offsets
        (`plans.neighbours` on the rows)."""
        return torch.take(torch.cat([v.reshape(-1), v.new_zeros(1)]), self.dest)

    def per_example(self, values: torch.Tensor) -> torch.Tensor:
        """(R,) -> (B,): the sum of the rows' values in each example."""
        return values.new_zeros(self.shape[0]).index_add_(0, self.ex, values)
