"""Leaks: creating and shutting down many executors of each kind leaves nothing behind (issue 14).

After ``COUNT`` executors of a kind (a tenth as many process pools), each
made, given a few calls and shut down, the process's threads, greenlets,
child processes and open file descriptors are back at their baseline.
Marked ``stress``: CI runs it at the reduced size below; the full size of
the issue (1,000 of each, 100 process pools) is
``GREENPOOL_STRESS=full python -m pytest -m stress tests/stress``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable

import eventlet
import greenlet
import pytest
from pool_tasks import square

import greenpool

FULL = os.environ.get("GREENPOOL_STRESS") == "full"
COUNT = 1000 if FULL else 100

pytestmark = [pytest.mark.stress, pytest.mark.timeout(600 if FULL else 120)]

KINDS: dict[str, tuple[Callable[[], greenpool.Executor], int]] = {
    "green": (lambda: greenpool.GreenThreadPoolExecutor(4), COUNT),
    "thread": (lambda: greenpool.ThreadPoolExecutor(4), COUNT),
    "dynamic": (lambda: greenpool.DynamicThreadPoolExecutor(4), COUNT),
    "synchronous": (greenpool.SynchronousExecutor, COUNT),
    "process": (lambda: greenpool.ProcessPoolExecutor(2), COUNT // 10),
}


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def live_greenlets() -> int:
    return sum(isinstance(o, greenlet.greenlet) and not o.dead for o in gc.get_objects())


def snapshot() -> dict[str, int]:
    gc.collect()
    return {
        "threads": threading.active_count(),
        "greenlets": live_greenlets(),
        "children": len(multiprocessing.active_children()),
        "fds": open_fds(),
    }


def settled(baseline: dict[str, int], timeout: float = 20.0) -> dict[str, int]:
    """The counts once they are back at ``baseline`` (threads and processes end on their
    own time after shutdown), or as they stand at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        now = snapshot()
        if all(now[key] <= baseline[key] for key in baseline) or time.monotonic() > deadline:
            return now
        eventlet.sleep(0.05)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_many_executors_made_and_shut_down_leave_nothing_behind(kind: str) -> None:
    make, count = KINDS[kind]
    warm = make()  # Warm-up: one-off state (a hub, its pipe, the forkserver) is not a leak.
    assert [f.result(30) for f in [warm.submit(square, i) for i in range(4)]] == [0, 1, 4, 9]
    warm.shutdown()
    baseline = settled(snapshot())
    for _ in range(count):
        executor = make()
        futures = [executor.submit(square, i) for i in range(4)]
        assert [f.result(30) for f in futures] == [0, 1, 4, 9]
        executor.shutdown(wait=True)
        del executor, futures
    after = settled(baseline)
    assert after == baseline, f"after {count} {kind} executors: {after} against {baseline}"
