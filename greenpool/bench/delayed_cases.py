"""The futurist 3.5 additions: the dynamic thread pool and delayed calls (``submit_after``).

* ``dynamic-burst``: the thread burst loop (:func:`greenpool.bench._measure.burst_us`)
  on ``DynamicThreadPoolExecutor``, greenpool's against futurist's, with the
  stdlib's fixed pool as the yardstick.
* ``delayed-memory``: what a pending delayed call holds (tracemalloc), an
  hour before it is due, greenpool's built-in ``submit_after`` against
  futurist's ``DelayedExecutorMixin`` on a thread pool.
* ``delayed-lateness``: calls due over one second, each recording how long
  after its deadline it started; the p99, in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from greenpool.bench._measure import burst_us, memory_per_call
from greenpool.bench._registry import case, faster, smaller

THREADS = 8

DYNAMIC_BURST = case(
    "dynamic-burst",
    group="thread",
    title="{n:,} no-op submits to an 8-thread DynamicThreadPoolExecutor, then wait for all",
    unit="µs/call",
    n=100_000,
    quick_n=10_000,
    targets=(faster("futurist", 2.0),),
)


@DYNAMIC_BURST.implementation("greenpool")
def dynamic_burst_greenpool(n: int) -> float:
    from greenpool import DynamicThreadPoolExecutor

    return burst_us(lambda: DynamicThreadPoolExecutor(THREADS), n)


@DYNAMIC_BURST.implementation("futurist")
def dynamic_burst_futurist(n: int) -> float:
    from futurist import DynamicThreadPoolExecutor

    return burst_us(lambda: DynamicThreadPoolExecutor(THREADS), n)


@DYNAMIC_BURST.implementation("stdlib ThreadPoolExecutor", note="fixed size")
def dynamic_burst_stdlib(n: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    return burst_us(lambda: ThreadPoolExecutor(THREADS), n)


DELAYED_MEMORY = case(
    "delayed-memory",
    group="thread",
    title="memory traced (tracemalloc) per pending submit_after call: {n:,} calls due in an hour",
    unit="bytes/call",
    n=100_000,
    quick_n=10_000,
    targets=(smaller("futurist", 3, "greenpool at most a third of futurist's memory"),),
)


def _noop() -> None:
    pass


def _pending(make: Callable[[], Any], n: int) -> float:
    executor = make()
    held: list[Any] = [None] * n  # Allocated before measuring.

    def fill() -> None:
        submit_after = executor.submit_after
        for i in range(n):
            held[i] = submit_after(3600.0, _noop)

    try:
        return memory_per_call(fill, n, rss=False)
    finally:
        # Not wait=True: futurist's shutdown(wait=True, cancel_futures=True)
        # does not cancel the call its scheduler is waiting for, and waits the
        # hour out.
        executor.shutdown(wait=False, cancel_futures=True)


def _futurist_delayed_thread_pool() -> Any:
    import futurist

    class DelayedThreadPool(futurist.DelayedExecutorMixin, futurist.ThreadPoolExecutor):
        pass

    return DelayedThreadPool(THREADS)


@DELAYED_MEMORY.implementation("greenpool")
def delayed_memory_greenpool(n: int) -> float:
    from greenpool import ThreadPoolExecutor

    return _pending(lambda: ThreadPoolExecutor(THREADS), n)


@DELAYED_MEMORY.implementation("greenpool (green executor)", note="hub timer")
def delayed_memory_greenpool_green(n: int) -> float:
    from greenpool import GreenThreadPoolExecutor

    return _pending(lambda: GreenThreadPoolExecutor(THREADS), n)


@DELAYED_MEMORY.implementation("futurist")
def delayed_memory_futurist(n: int) -> float:
    return _pending(_futurist_delayed_thread_pool, n)


DELAYED_LATENESS = case(
    "delayed-lateness",
    group="thread",
    title=(
        "p99 lateness of {n:,} submit_after calls due evenly over one second"
        " (start minus deadline); informational"
    ),
    unit="ms",
    n=20_000,
    quick_n=2_000,
)


def _lateness_p99_ms(make: Callable[[], Any], n: int) -> float:
    executor = make()
    late: list[float] = []
    now = time.monotonic

    def record(deadline: float) -> None:
        late.append(now() - deadline)

    # Submitted before the first is due, so submitting is not what is measured.
    start = now() + 0.5
    submit_after = executor.submit_after
    for i in range(n):
        deadline = start + i / n
        submit_after(deadline - now(), record, deadline)
    executor.shutdown(wait=True)
    late.sort()
    return late[min(len(late) - 1, int(0.99 * len(late)))] * 1000.0


@DELAYED_LATENESS.implementation("greenpool")
def delayed_lateness_greenpool(n: int) -> float:
    from greenpool import ThreadPoolExecutor

    return _lateness_p99_ms(lambda: ThreadPoolExecutor(THREADS), n)


@DELAYED_LATENESS.implementation("greenpool (green executor)", note="hub timer")
def delayed_lateness_greenpool_green(n: int) -> float:
    from greenpool import GreenThreadPoolExecutor

    return _lateness_p99_ms(lambda: GreenThreadPoolExecutor(THREADS), n)


@DELAYED_LATENESS.implementation("futurist")
def delayed_lateness_futurist(n: int) -> float:
    return _lateness_p99_ms(_futurist_delayed_thread_pool, n)
