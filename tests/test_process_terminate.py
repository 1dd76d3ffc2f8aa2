"""ProcessPoolExecutor.terminate_workers() and kill_workers() (CPython 3.14's names): stop now.

Each test really starts worker processes, has them run a long call, ends
them with a real signal, and checks that every future resolves at once,
as documented, and that the processes are gone.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

import greenpool
from greenpool import WorkerLostError

pytestmark = pytest.mark.timeout(60)


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def ignore_sigterm_then_sleep(seconds: float) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)
    return os.getpid()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running_pids(
    executor: greenpool.ProcessPoolExecutor, count: int
) -> tuple[list[int], list[greenpool.Future[int]]]:
    """Start ``count`` calls of 30 s and return their workers' pids, once all run."""
    pids = [executor.submit(os.getpid).result(timeout=30) for _ in range(4)]
    futures = [executor.submit(pid_after, 30) for _ in range(count)]
    deadline = time.monotonic() + 30
    while executor.statistics.running < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert executor.statistics.running == count
    return sorted(set(pids)), futures


@pytest.mark.parametrize("method", ["terminate_workers", "kill_workers"])
def test_running_calls_fail_with_worker_lost_and_waiting_ones_are_cancelled(method: str) -> None:
    executor = greenpool.ProcessPoolExecutor(2)
    pids, running = running_pids(executor, 2)
    waiting = [executor.submit(pid_after, 30) for _ in range(5)]
    started = time.monotonic()
    getattr(executor, method)()
    for future in running:
        with pytest.raises(WorkerLostError, match="the pool takes no more calls"):
            future.result(timeout=10)
    assert all(future.cancelled() for future in waiting)
    executor.shutdown(wait=True)
    assert time.monotonic() - started < 10  # Not the 30 s the calls would have taken.
    assert executor.num_workers == 0
    assert not any(alive(pid) for pid in pids)
    statistics = executor.statistics
    assert (statistics.failures, statistics.cancelled, statistics.running) == (2, 5, 0)
    with pytest.raises(RuntimeError):
        executor.submit(os.getpid)


def test_kill_workers_ends_a_worker_that_ignores_sigterm() -> None:
    executor = greenpool.ProcessPoolExecutor(1)
    stubborn = executor.submit(ignore_sigterm_then_sleep, 30)
    deadline = time.monotonic() + 30
    while executor.statistics.running < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # Let it install its handler.
    executor.kill_workers()
    with pytest.raises(WorkerLostError, match="SIGKILL"):
        stubborn.result(timeout=10)
    executor.shutdown(wait=True)
    assert executor.num_workers == 0


def test_ending_workers_of_an_idle_or_unstarted_pool_just_shuts_it_down() -> None:
    unstarted = greenpool.ProcessPoolExecutor(1)
    unstarted.terminate_workers()
    unstarted.shutdown(wait=True)
    idle = greenpool.ProcessPoolExecutor(1)
    assert idle.submit(os.getpid).result(timeout=30) > 0
    idle.terminate_workers()
    idle.terminate_workers()  # Twice: nothing more to end.
    idle.shutdown(wait=True)
    assert idle.num_workers == 0


def test_pool_terminate_ends_the_workers_it_made_at_once() -> None:
    pool = greenpool.Pool(2)
    result = pool.apply_async(pid_after, (30,))
    deadline = time.monotonic() + 30
    while pool.statistics.running < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    pool.terminate()
    with pytest.raises(WorkerLostError):
        result.get(timeout=10)
    pool.join()
    assert time.monotonic() - started < 10
    assert pool.executor.num_workers == 0
