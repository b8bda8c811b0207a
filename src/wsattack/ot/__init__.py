"""wsattack.ot: the shared projected-Sinkhorn kernel (Wong, Schmidt & Kolter 2019, section 4).

- `wasserstein_cost`: k x k local ground costs.
- `project`: projection onto a local Wasserstein ball (Lemma 1, Algorithm 2), always feasible.
- `project_linear`: maximize a linear objective over the ball (eq. 14, appendix D).
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
