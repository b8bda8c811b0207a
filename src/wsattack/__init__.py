"""wsattack: Wasserstein adversarial robustness experiments (attack, train, certify)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wsattack")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
