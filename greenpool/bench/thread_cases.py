"""Native thread executor cases: greenpool.thread against the stdlib and futurist.

``greenpool.thread`` is imported lazily: until it exists, its implementation
is reported as "not available". Timed region: create the executor, submit
every call, wait for every result; shutdown is not timed (the loop is
:func:`greenpool.bench._measure.burst_us`, the same as the green ``burst``).
"""

from __future__ import annotations

from greenpool.bench._measure import burst_us
from greenpool.bench._registry import case, within

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


@THREAD_BURST.implementation("greenpool")
def thread_burst_greenpool(n: int) -> float:
    from greenpool.thread import ThreadPoolExecutor

    return burst_us(lambda: ThreadPoolExecutor(THREADS), n)


@THREAD_BURST.implementation("stdlib")
def thread_burst_stdlib(n: int) -> float:
    from concurrent.futures import ThreadPoolExecutor

    return burst_us(lambda: ThreadPoolExecutor(THREADS), n)


@THREAD_BURST.implementation("futurist")
def thread_burst_futurist(n: int) -> float:
    from futurist import ThreadPoolExecutor

    return burst_us(lambda: ThreadPoolExecutor(THREADS), n)
