"""Native thread executor cases: greenpool.thread against the stdlib and futurist.

``greenpool.thread`` is imported lazily: until it exists, its implementation
is reported as "not available". Timed region: create the executor, submit
every call, wait for every result; shutdown is not timed.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from benchmarks._measure import per_call_us
from benchmarks._registry import case, within
from benchmarks.tasks import noop

THREADS = 8

THREAD_BURST = case(
    "thread-burst",
    group="thread",
    title="{n:,} no-op submits to an 8-thread ThreadPoolExecutor, then wait for all",
    unit="µs/call",
    n=100_000,
    quick_n=10_000,
    targets=(within("stdlib", 1.1),),
)


def _burst(make: Callable[[], Any], n: int) -> float:
    start = perf_counter()
    executor = make()
    futures = [executor.submit(noop) for _ in range(n)]
    for future in futures:
        future.result()
    elapsed = perf_counter() - start
    executor.shutdown()
    return per_call_us(elapsed, n)


@THREAD_BURST.implementation("greenpool")
def thread_burst_greenpool(n: int) -> float:
    from greenpool.thread import ThreadPoolExecutor

    return _burst(lambda: ThreadPoolExecutor(THREADS), n)


@THREAD_BURST.implementation("stdlib")
def thread_burst_stdlib(n: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    return _burst(lambda: ThreadPoolExecutor(THREADS), n)


@THREAD_BURST.implementation("futurist")
def thread_burst_futurist(n: int) -> float:
    from futurist import ThreadPoolExecutor

    return _burst(lambda: ThreadPoolExecutor(THREADS), n)
