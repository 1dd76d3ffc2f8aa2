"""Process pool cases: greenpool.process against the stdlib, multiprocessing.Pool and futurist.

``greenpool.process`` is imported lazily: until it exists, its implementation
is reported as "not available". Every pool uses the platform's default start
method and two worker processes. Starting them is not timed: each pool is
created and warmed up (two calls per worker, waited for) first, so the
figures are the steady cost of a call, not of forking. The calls are
:func:`benchmarks.tasks.square`, importable by the workers.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from benchmarks._measure import per_call_us
from benchmarks._registry import case, faster, no_slower
from benchmarks.tasks import square

PROCESSES = 2
STDLIB_MAP_SCALE = 0.1


def _warm_up(executor: Any) -> None:
    for future in [executor.submit(square, i) for i in range(2 * PROCESSES)]:
        future.result()


def _warm_up_pool(pool: Any) -> None:
    for result in [pool.apply_async(square, (i,)) for i in range(2 * PROCESSES)]:
        result.get()


# -- submit then all results -------------------------------------------------

PROCESS_SUBMIT = case(
    "process-submit",
    group="process",
    title="{n:,} tiny calls submitted to 2 worker processes, then all results",
    unit="µs/call",
    n=20_000,
    quick_n=2_000,
    targets=(faster("stdlib", 2.5), no_slower("mp.Pool")),
)


def _submit_all(executor: Any, n: int) -> float:
    _warm_up(executor)
    start = perf_counter()
    futures = [executor.submit(square, i) for i in range(n)]
    for future in futures:
        future.result()
    elapsed = perf_counter() - start
    executor.shutdown()
    return per_call_us(elapsed, n)


@PROCESS_SUBMIT.implementation("greenpool")
def process_submit_greenpool(n: int) -> float:
    from greenpool.process import ProcessPoolExecutor

    return _submit_all(ProcessPoolExecutor(PROCESSES), n)


@PROCESS_SUBMIT.implementation("stdlib")
def process_submit_stdlib(n: int) -> float:
    from concurrent.futures import ProcessPoolExecutor

    return _submit_all(ProcessPoolExecutor(PROCESSES), n)


@PROCESS_SUBMIT.implementation("mp.Pool", note="apply_async")
def process_submit_mp_pool(n: int) -> float:
    import multiprocessing

    pool = multiprocessing.Pool(PROCESSES)
    _warm_up_pool(pool)
    start = perf_counter()
    results = [pool.apply_async(square, (i,)) for i in range(n)]
    for result in results:
        result.get()
    elapsed = perf_counter() - start
    pool.close()
    pool.join()
    return per_call_us(elapsed, n)


@PROCESS_SUBMIT.implementation("futurist")
def process_submit_futurist(n: int) -> float:
    from futurist import ProcessPoolExecutor

    return _submit_all(ProcessPoolExecutor(PROCESSES), n)


# -- map ---------------------------------------------------------------------

PROCESS_MAP = case(
    "process-map",
    group="process",
    title="map over {n:,} tiny items on 2 worker processes, default arguments",
    unit="µs/item",
    n=100_000,
    quick_n=10_000,
    targets=(faster("mp.Pool.imap", 4), faster("stdlib map", 20)),
)


def _map_all(executor: Any, n: int) -> float:
    _warm_up(executor)
    start = perf_counter()
    for _ in executor.map(square, range(n)):
        pass
    elapsed = perf_counter() - start
    executor.shutdown()
    return per_call_us(elapsed, n)


@PROCESS_MAP.implementation("greenpool")
def process_map_greenpool(n: int) -> float:
    from greenpool.process import ProcessPoolExecutor

    return _map_all(ProcessPoolExecutor(PROCESSES), n)


@PROCESS_MAP.implementation("mp.Pool.imap")
def process_map_mp_pool(n: int) -> float:
    import multiprocessing

    pool = multiprocessing.Pool(PROCESSES)
    _warm_up_pool(pool)
    start = perf_counter()
    for _ in pool.imap(square, range(n)):
        pass
    elapsed = perf_counter() - start
    pool.close()
    pool.join()
    return per_call_us(elapsed, n)


@PROCESS_MAP.implementation(
    "stdlib map",
    scale=STDLIB_MAP_SCALE,
    note="a tenth of the items: it is slow",
)
def process_map_stdlib(n: int) -> float:
    from concurrent.futures import ProcessPoolExecutor

    return _map_all(ProcessPoolExecutor(PROCESSES), n)
