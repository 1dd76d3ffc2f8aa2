"""Small helpers shared by the case modules: units, memory readings, a ready eventlet hub,
and the burst loop that the green and the native thread cases both time."""

from __future__ import annotations

import gc
import os
import resource
import sys
import tracemalloc
from collections.abc import Callable
from time import perf_counter
from typing import Any

from greenpool.bench.tasks import noop


def per_call_us(elapsed: float, n: int) -> float:
    """Seconds for ``n`` calls -> microseconds per call."""
    return elapsed / n * 1e6


def burst_us(make: Callable[[], Any], n: int) -> float:
    """Microseconds per call: ``make()`` an executor, submit ``n`` no-op calls, wait for all.

    Creating the executor is timed, so its workers start inside the timed
    region for every implementation alike; shutting it down is not. One copy
    for the green and the native thread bursts, so that both time the very
    same loop (its per-call code is kept as it is: an argument spread into
    ``submit`` would add a measurable share of a call).
    """
    start = perf_counter()
    executor = make()
    futures = [executor.submit(noop) for _ in range(n)]
    for future in futures:
        future.result()
    elapsed = perf_counter() - start
    executor.shutdown()
    return per_call_us(elapsed, n)


def green_hub() -> Any:
    """Import eventlet and create this thread's hub, so neither is timed."""
    from eventlet import hubs

    return hubs.get_hub()


def rss_bytes() -> int:
    """This process's resident set size now (Linux), or its peak elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def memory_per_call(fill: Callable[[], None], n: int, *, rss: bool) -> float:
    """Bytes still held per call after ``fill()`` made ``n`` calls wait.

    Counts what tracemalloc traces (Python allocations that are still alive)
    or, with ``rss``, the growth of the resident set, which also includes
    allocator overhead and fragmentation. A collection runs before each
    reading so that only live objects are counted; gc stays enabled.
    """
    if not rss:
        tracemalloc.start()
    try:
        read = rss_bytes if rss else lambda: tracemalloc.get_traced_memory()[0]
        gc.collect()
        before = read()
        fill()
        gc.collect()
        return (read() - before) / n
    finally:
        if not rss:
            tracemalloc.stop()
