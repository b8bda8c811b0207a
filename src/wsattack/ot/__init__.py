"""wsattack.ot: the shared OT kernels of the local Wasserstein ball.

- `wasserstein_cost`: k x k local ground costs.
- `project`: projection onto a local Wasserstein ball by projected Sinkhorn (Wong, Schmidt &
  Kolter 2019, Lemma 1, Algorithm 2), always feasible; `capacity=` adds Hu et al. 2020's pixel
  ceiling.
- `project_linear`: maximize a linear objective over the ball (eq. 14, appendix D).
- `project_plan`: the exact Euclidean projection of a local transport plan (Wu et al. 2020).
- `linear_oracle`: the entropic linear oracle over plans for Frank-Wolfe (Wu et al. 2020).
- `plans`: local plans as (B, C, k*k, H, W) tensors; `feasible.make_feasible` rounds any plan to
  an exactly feasible one; `rows.PlanRows` holds a plan's rows of the pixels with mass only, for
  the solvers that work source by source.
- `exact_cost`: exact (network simplex) transport cost between two images, for verification.
"""

from wsattack.ot.cost import wasserstein_cost
from wsattack.ot.duals import Duals
from wsattack.ot.exact import ExactCost, exact_cost
from wsattack.ot.oracle import OracleResult, OracleState, linear_oracle
from wsattack.ot.plan_projection import project_plan
from wsattack.ot.projection import project, project_linear
from wsattack.ot.sinkhorn import Projection

__all__ = [
    "Duals",
    "ExactCost",
    "Projection",
    "exact_cost",
    "linear_oracle",
    "OracleResult",
    "OracleState",
    "project",
    "project_plan",
    "project_linear",
    "wasserstein_cost",
]
