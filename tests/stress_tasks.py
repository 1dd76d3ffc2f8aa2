"""What tests/stress/test_randomized.py runs: module-level, so the process pool can pickle it.

Worker processes import this module by name (``stress_tasks``): pytest puts
``tests/`` on ``sys.path`` and the workers inherit it. Nothing here imports
eventlet: the same function runs in green threads, native threads and
worker processes.
"""

from __future__ import annotations


class ExpectedFailure(ValueError):
    """What a call asked to fail raises: told apart from any failure the test did not ask for."""


def work(i: int, fail: bool) -> int:
    """``2 * i``, or :class:`ExpectedFailure` carrying ``i`` if ``fail``."""
    if fail:
        raise ExpectedFailure(i)
    return 2 * i


def double(i: int) -> int:
    """``2 * i``: :func:`work` for the one-argument ``map``s."""
    return 2 * i
