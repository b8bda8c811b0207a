"""SIGKILL inside a write, for a `wsattack` process under test (see crash_runs.start).

`arm(n, fraction)` makes the n-th `ResultTable.append` of the process write only `fraction` of
its bytes and then kill the process with SIGKILL, as a crash inside that write would (fraction
0: killed after the attack's part file is saved and before any of its rows are written).
"""

from __future__ import annotations

import os
import signal

from wsattack.results.table import ResultTable


def arm(n: int, fraction: float) -> None:
    append, calls = ResultTable.append, [0]

    def torn_append(self, rows):
        rows = list(rows)
        calls[0] += 1
        if calls[0] == n:
            data = self._encode(rows)
            with open(self.path, "ab") as f:
                f.write(data[: int(len(data) * fraction)])
            os.kill(os.getpid(), signal.SIGKILL)
        append(self, rows)

    ResultTable.append = torn_append
