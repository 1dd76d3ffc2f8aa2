"""Process pool cases: greenpool.process against the stdlib, multiprocessing.Pool and futurist.

``greenpool.process`` is imported lazily: until it exists, its implementation
is reported as "not available". Every pool uses the platform's default start
method and two worker processes. Starting them is not timed: each pool is
created and warmed up (two calls per worker, waited for) first, so the
figures are the steady cost of a call, not of forking. The calls are
:func:`greenpool.bench.tasks.square`, importable by the workers.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from greenpool.bench._measure import per_call_us
from greenpool.bench._registry import case, faster, no_slower
from greenpool.bench.tasks import square

PROCESSES = 2
STDLIB_MAP_SCALE = 0.1


def _steady_us(executor: Any, run: Callable[[], object], n: int) -> float:
    """Microseconds per call of ``run()``, ``n`` calls through an executor already warm.

    Two calls per worker are made and waited for before the clock starts;
    shutting the executor down after it stops is not timed.
    """
    for future in [executor.submit(square, i) for i in range(2 * PROCESSES)]:
        future.result()
    start = perf_counter()
    run()
    elapsed = perf_counter() - start
    executor.shutdown()
    return per_call_us(elapsed, n)


def _mp_pool_us(run: Callable[[Any], object], n: int) -> float:
    """The same for ``run(pool)`` on a warm ``multiprocessing.Pool``, closed and joined untimed."""
    import multiprocessing

    pool = multiprocessing.Pool(PROCESSES)
    for result in [pool.apply_async(square, (i,)) for i in range(2 * PROCESSES)]:
        result.get()
    start = perf_counter()
    run(pool)
    elapsed = perf_counter() - start
    pool.close()
    pool.join()
    return per_call_us(elapsed, n)


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
    def run() -> None:
        futures = [executor.submit(square, i) for i in range(n)]
        for future in futures:
            future.result()

    return _steady_us(executor, run, n)


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
    def run(pool: Any) -> None:
        results = [pool.apply_async(square, (i,)) for i in range(n)]
        for result in results:
            result.get()

    return _mp_pool_us(run, n)


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
    def run() -> None:
        for _ in executor.map(square, range(n)):
            pass

    return _steady_us(executor, run, n)


@PROCESS_MAP.implementation("greenpool")
def process_map_greenpool(n: int) -> float:
    from greenpool.process import ProcessPoolExecutor

    return _map_all(ProcessPoolExecutor(PROCESSES), n)


@PROCESS_MAP.implementation("mp.Pool.imap")
def process_map_mp_pool(n: int) -> float:
    def run(pool: Any) -> None:
        for _ in pool.imap(square, range(n)):
            pass

    return _mp_pool_us(run, n)


@PROCESS_MAP.implementation(
    "stdlib map",
    scale=STDLIB_MAP_SCALE,
    note="a tenth of the items: it is slow",
)
def process_map_stdlib(n: int) -> float:
    from concurrent.futures import ProcessPoolExecutor

    return _map_all(ProcessPoolExecutor(PROCESSES), n)
