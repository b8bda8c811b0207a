"""wsattack: Wasserstein adversarial robustness experiments (attack, train, certify).

The Python API, as the CLI uses it::

    from wsattack import WassersteinPGD, load_dataset, load_model, verify

    model = load_model("zoo:wong2019_mnist_vanilla")
    data = load_dataset("mnist", root="data", limit=100)
    attack = WassersteinPGD(model)
    result = attack(data.images, data.labels)
    checked = verify(attack.ball, data.images, result)

- attacks: `AutoWasserstein` (the recommended evaluation), `WassersteinFW`,
  `WassersteinPlanPGD`, `WassersteinPGD` (the paper's), the baselines `LinfPGD` and `L2PGD`;
  `attack_smoothed` aims any of them at a `SmoothedClassifier`;
- the threat model: `WassersteinSettings`, `WassersteinBall`, `wasserstein_cost`, `project`,
  `project_linear`, `exact_cost`; `verify` checks attack results exactly;
- models and data: `load_model`, `list_models`, `load_dataset`;
- certification: `SmoothedClassifier` (Levine & Feizi 2020).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wsattack")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

# After __version__: the modules below import it (checkpoint metadata).
from wsattack.attacks import (  # noqa: E402
    L2PGD,
    AttackResult,
    AutoWasserstein,
    LinfPGD,
    WassersteinBall,
    WassersteinFW,
    WassersteinPGD,
    WassersteinPlanPGD,
)
from wsattack.attacks.verify import verify  # noqa: E402
from wsattack.data import ImageData  # noqa: E402
from wsattack.data.datasets import load_dataset  # noqa: E402
from wsattack.models.load import list_models, load_model  # noqa: E402
from wsattack.ot import exact_cost, project, project_linear, wasserstein_cost  # noqa: E402
from wsattack.ot.settings import WassersteinSettings  # noqa: E402
from wsattack.smoothing import SmoothedClassifier  # noqa: E402
from wsattack.smoothing.attackable import attack_smoothed  # noqa: E402

__all__ = [
    "L2PGD",
    "AttackResult",
    "AutoWasserstein",
    "ImageData",
    "LinfPGD",
    "SmoothedClassifier",
    "WassersteinBall",
    "WassersteinFW",
    "WassersteinPGD",
    "WassersteinPlanPGD",
    "WassersteinSettings",
    "__version__",
    "attack_smoothed",
    "exact_cost",
    "list_models",
    "load_dataset",
    "load_model",
    "project",
    "project_linear",
    "verify",
    "wasserstein_cost",
]
