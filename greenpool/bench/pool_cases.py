"""``greenpool.Pool`` against ``multiprocessing.Pool`` (issue 12), side by side in one run.

Both pools are made the way a user makes them, ``greenpool.Pool(2)`` (its
default executor, a :class:`greenpool.ProcessPoolExecutor`, which starts its
workers with ``forkserver``) and ``multiprocessing.Pool(2)`` (the platform's
default start method), with the process cases' two worker processes. Neither
start-up is timed: each pool is created and warmed up first (two
``apply_async`` calls per worker and a short ``imap``, waited for), and closed
and joined after the clock stops. The calls are
:func:`greenpool.bench.tasks.square`, importable by the workers.

* ``pool-apply-burst``: ``apply_async`` calls back to back, then every ``get()``.
* ``pool-imap``: ``imap`` with ``chunksize=1`` (the default), every result consumed.
* ``pool-map``: ``map`` over a list, default chunking.
* ``pool-imap-memory``: ``imap`` over a generator of 10 million items, results
  discarded as they come; the parent's peak resident set growth.
* ``pool-imap-backlog``: the same reading for an ``imap`` whose consumer is
  slower than the workers.

The memory cases read the resident set, not tracemalloc: tracing every
allocation slows the parent eight-fold, and what these cases measure is a
race between the parent's threads and its workers (``multiprocessing.Pool``'s
result thread keeps receiving while the consumer is behind), which a slower
parent changes. On Linux the peak is the kernel's high-water mark
(``VmHWM``), reset through ``/proc/self/clear_refs`` once the pool is warm;
elsewhere it is the process's lifetime peak (``ru_maxrss``), which can only
overstate the growth. Each library's larger sizes are its smaller ones run
longer, so the table shows whether a peak grows with n.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import Any

from greenpool.bench._measure import per_call_us, rss_bytes
from greenpool.bench._registry import at_most, case, faster, no_slower
from greenpool.bench.process_cases import PROCESSES
from greenpool.bench.tasks import square

GREENPOOL = "greenpool"
MP_POOL = "mp.Pool"

#: ``pool-imap-memory``: greenpool's peak growth must stay under this, in MiB. Anything kept
#: per item (an int in a list is 36 bytes) over 10 million items is hundreds of MiB.
MEMORY_BOUND_MIB = 4.0
#: ``pool-imap-backlog``'s consumer: a pause of this many seconds after every ``BATCH``
#: results, about 30 µs a result, where each library's workers produce one every 16 µs
#: or less, so results come faster than they are taken.
PAUSE = 0.003
BATCH = 100


def _pool(library: str) -> Any:
    """A warm pool of ``library``'s: started, and its workers have answered calls."""
    if library == GREENPOOL:
        from greenpool import Pool

        pool: Any = Pool(PROCESSES)
    else:
        import multiprocessing

        pool = multiprocessing.Pool(PROCESSES)
    for result in [pool.apply_async(square, (i,)) for i in range(2 * PROCESSES)]:
        result.get()
    for _ in pool.imap(square, range(2 * PROCESSES)):
        pass
    return pool


def _stop(pool: Any) -> None:
    pool.close()
    pool.join()


def _timed_us(library: str, run: Callable[[Any], object], n: int) -> float:
    """Microseconds per item of ``run(pool)`` on a warm pool, ``n`` items."""
    pool = _pool(library)
    start = perf_counter()
    run(pool)
    elapsed = perf_counter() - start
    _stop(pool)
    return per_call_us(elapsed, n)


# -- apply_async burst -------------------------------------------------------

POOL_APPLY_BURST = case(
    "pool-apply-burst",
    group="pool",
    title="{n:,} apply_async calls of a tiny function on 2 worker processes, then every get()",
    unit="µs/call",
    n=20_000,
    quick_n=2_000,
    targets=(faster(MP_POOL, 2),),
)


def _apply_burst(pool: Any, n: int) -> None:
    results = [pool.apply_async(square, (i,)) for i in range(n)]
    for result in results:
        result.get()


@POOL_APPLY_BURST.implementation(GREENPOOL)
def pool_apply_burst_greenpool(n: int) -> float:
    return _timed_us(GREENPOOL, lambda pool: _apply_burst(pool, n), n)


@POOL_APPLY_BURST.implementation(MP_POOL)
def pool_apply_burst_mp_pool(n: int) -> float:
    return _timed_us(MP_POOL, lambda pool: _apply_burst(pool, n), n)


# -- imap, chunksize=1 -------------------------------------------------------

POOL_IMAP = case(
    "pool-imap",
    group="pool",
    title="imap over {n:,} tiny items on 2 worker processes, chunksize=1, every result taken",
    unit="µs/item",
    n=100_000,
    quick_n=10_000,
    targets=(faster(MP_POOL, 4),),
)


def _imap_all(pool: Any, n: int) -> None:
    for _ in pool.imap(square, range(n), chunksize=1):
        pass


@POOL_IMAP.implementation(GREENPOOL)
def pool_imap_greenpool(n: int) -> float:
    return _timed_us(GREENPOOL, lambda pool: _imap_all(pool, n), n)


@POOL_IMAP.implementation(MP_POOL)
def pool_imap_mp_pool(n: int) -> float:
    return _timed_us(MP_POOL, lambda pool: _imap_all(pool, n), n)


# -- map, default chunking ---------------------------------------------------

POOL_MAP = case(
    "pool-map",
    group="pool",
    title="map over a list of {n:,} tiny items on 2 worker processes, default chunksize",
    unit="µs/item",
    # Not 100,000: mp.Pool maps that in about 25 ms, where one scheduling hiccup shows.
    n=1_000_000,
    quick_n=100_000,
    targets=(no_slower(MP_POOL),),
)


def _map_list(library: str, n: int) -> float:
    items = list(range(n))  # Built before the clock starts: map's input is a list.
    return _timed_us(library, lambda pool: pool.map(square, items), n)


@POOL_MAP.implementation(GREENPOOL)
def pool_map_greenpool(n: int) -> float:
    return _map_list(GREENPOOL, n)


@POOL_MAP.implementation(MP_POOL)
def pool_map_mp_pool(n: int) -> float:
    return _map_list(MP_POOL, n)


# -- imap's memory -----------------------------------------------------------


def _reset_peak() -> bool:
    """Reset this process's resident high-water mark (Linux 4.0+); whether that worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _peak_bytes(was_reset: bool) -> int:
    """The resident high-water mark: since :func:`_reset_peak`, or else over the process's life."""
    if was_reset:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _items(n: int) -> Iterator[int]:
    """``n`` items, made as they are asked for: no list of them ever exists."""
    return (i for i in range(n))


def _imap_peak_mib(library: str, n: int, consume: Callable[[Iterator[Any]], None]) -> float:
    """MiB the parent's resident set grew to at most while ``consume`` took ``imap``'s results."""
    pool = _pool(library)
    gc.collect()
    before = rss_bytes()
    was_reset = _reset_peak()
    consume(pool.imap(square, _items(n)))
    peak = _peak_bytes(was_reset)
    _stop(pool)
    return max(0, peak - before) / 2**20


def _discard(results: Iterator[Any]) -> None:
    for _ in results:
        pass


def _lag(results: Iterator[Any]) -> None:
    for index, _ in enumerate(results, 1):
        if index % BATCH == 0:
            time.sleep(PAUSE)  # Releases the GIL: the pool's own threads go on meanwhile.


POOL_IMAP_MEMORY = case(
    "pool-imap-memory",
    group="pool",
    title="the parent's peak RSS growth: imap over {n:,} items from a generator, results dropped",
    unit="MiB",
    n=10_000_000,
    quick_n=1_000_000,
    targets=(
        at_most(
            MEMORY_BOUND_MIB,
            f"greenpool's peak growth bounded: at most {MEMORY_BOUND_MIB:g} MiB",
        ),
    ),
)


@POOL_IMAP_MEMORY.implementation(GREENPOOL)
def pool_imap_memory_greenpool(n: int) -> float:
    return _imap_peak_mib(GREENPOOL, n, _discard)


@POOL_IMAP_MEMORY.implementation(f"{GREENPOOL} n/10", scale=0.1)
def pool_imap_memory_greenpool_tenth(n: int) -> float:
    return _imap_peak_mib(GREENPOOL, n, _discard)


@POOL_IMAP_MEMORY.implementation(f"{MP_POOL} n/10", scale=0.1)
def pool_imap_memory_mp_pool_tenth(n: int) -> float:
    return _imap_peak_mib(MP_POOL, n, _discard)


@POOL_IMAP_MEMORY.implementation(f"{MP_POOL} n/100", scale=0.01)
def pool_imap_memory_mp_pool_hundredth(n: int) -> float:
    return _imap_peak_mib(MP_POOL, n, _discard)


POOL_IMAP_BACKLOG = case(
    "pool-imap-backlog",
    group="pool",
    title=(
        "the same, {n:,} items, the consumer slower than the workers"
        f" (a {PAUSE * 1000:g} ms pause every {BATCH} results)"
    ),
    unit="MiB",
    n=300_000,
    quick_n=30_000,
    targets=(
        at_most(
            MEMORY_BOUND_MIB,
            f"greenpool's peak growth bounded: at most {MEMORY_BOUND_MIB:g} MiB",
        ),
    ),
)


@POOL_IMAP_BACKLOG.implementation(GREENPOOL)
def pool_imap_backlog_greenpool(n: int) -> float:
    return _imap_peak_mib(GREENPOOL, n, _lag)


@POOL_IMAP_BACKLOG.implementation(f"{GREENPOOL} n/10", scale=0.1)
def pool_imap_backlog_greenpool_tenth(n: int) -> float:
    return _imap_peak_mib(GREENPOOL, n, _lag)


@POOL_IMAP_BACKLOG.implementation(MP_POOL)
def pool_imap_backlog_mp_pool(n: int) -> float:
    return _imap_peak_mib(MP_POOL, n, _lag)


@POOL_IMAP_BACKLOG.implementation(f"{MP_POOL} n/10", scale=0.1)
def pool_imap_backlog_mp_pool_tenth(n: int) -> float:
    return _imap_peak_mib(MP_POOL, n, _lag)
