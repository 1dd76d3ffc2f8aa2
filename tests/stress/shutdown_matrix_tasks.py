"""What tests/stress/test_shutdown_matrix.py runs in process-pool workers: module-level, so
it pickles, and importing nothing heavy (no eventlet, no pytest), so a worker process
started by ``forkserver`` imports it at once (pytest puts ``tests/stress`` on ``sys.path``
and the workers inherit it).
"""

from __future__ import annotations

import os
import time


class GateTimeout(Exception):
    """A gated call whose gate was never opened: the test has failed, the call must not hang."""


def wait_for_file(path: str, value: int, limit: float) -> int:
    """Block this worker until ``path`` exists (the test's gate opens), then return ``value``.

    Polls every millisecond: there is no cheaper way across processes that needs no object
    handed over at the worker's start. Raises :class:`GateTimeout` after ``limit`` seconds.
    """
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise GateTimeout(f"{path} never appeared")
        time.sleep(0.001)
    return value
