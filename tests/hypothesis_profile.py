"""hypothesis settings shared by the property-based tests: derandomized and modest in CI, so
that it stays fast and a failure replays; WSATTACK_HYPOTHESIS_EXAMPLES=N explores N random
examples per test instead (a bug hunt)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXPLORE = int(os.environ.get("WSATTACK_HYPOTHESIS_EXAMPLES", "0"))


def property_settings(examples: int) -> settings:
    """`examples` derandomized examples per test, or EXPLORE random ones when set."""
    return settings(
        max_examples=EXPLORE or examples,
        deadline=None,
        derandomize=not EXPLORE,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )
