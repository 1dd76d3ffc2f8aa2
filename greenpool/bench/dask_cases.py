"""``greenpool.DaskExecutor`` against dask's own client (issue 13), and every executor side by side.

Each dask implementation starts the same cluster in its own interpreter: a
``LocalCluster`` of two worker processes with one thread each on
127.0.0.1, no dashboard, its scheduler in the measuring process (as a
``LocalCluster`` has it). Starting it is not timed: it is warmed up first
(two calls per worker thread, waited for), and closed after the clock
stops. On this machine the scheduler, both workers and the client share
two cores, so a call's cost is mostly the scheduler's: these cases compare
what each way of submitting adds to it. The calls are
:func:`greenpool.bench.tasks.square`, importable by the workers.

* ``dask-submit``: a burst of calls, then every result: ``DaskExecutor.submit``
  (with its full statistics) against ``Client.submit`` (``pure=False``, as an
  executor runs every call, then one ``Client.gather``) and
  ``Client.get_executor().submit``; and ``DaskExecutor.submit`` in a process
  eventlet has monkey patched (``patched``), where the client and the
  ``LocalCluster`` live in its helper process.
* ``dask-map``: ``map`` over 10,000 items: the executor's (chunked, as on
  every executor whose calls cross to another process), ``Client.map`` then
  ``gather``, and ``Client.get_executor().map``.
* ``executor-per-call``: the same burst on each of greenpool's executors, two
  workers each (green threads, native threads, a dynamic pool, worker
  processes, the dask cluster), for the README's "which executor" table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Any

from greenpool.bench._measure import per_call_us
from greenpool.bench._registry import case, no_slower, within
from greenpool.bench.tasks import square

WORKERS = 2


@contextmanager
def _cluster() -> Iterator[Any]:
    """A warm client of a fresh two-worker ``LocalCluster``, closed afterwards."""
    import logging

    import distributed

    dask: Any = distributed  # Untyped: its calls would each need an ignore.
    cluster = dask.LocalCluster(
        n_workers=WORKERS,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = dask.Client(cluster)
    try:
        client.gather([client.submit(square, i, pure=False) for i in range(2 * WORKERS)])
        yield client
    finally:
        client.close()
        cluster.close()


def _timed_us(run: Callable[[], object], n: int) -> float:
    start = perf_counter()
    run()
    return per_call_us(perf_counter() - start, n)


def _executor_burst(executor: Any, n: int) -> float:
    """A burst of ``n`` submits then every result, on an executor already warm."""

    def run() -> None:
        futures = [executor.submit(square, i) for i in range(n)]
        for future in futures:
            future.result()

    for future in [executor.submit(square, i) for i in range(2 * WORKERS)]:
        future.result()
    return _timed_us(run, n)


# -- submit then all results -------------------------------------------------

DASK_SUBMIT = case(
    "dask-submit",
    group="dask",
    title="{n:,} tiny calls submitted to a 2-worker LocalCluster, then all results",
    unit="µs/call",
    n=3_000,
    quick_n=300,
    targets=(within("Client.submit", 1.2), within("greenpool", 2.0, reference="patched")),
)


@DASK_SUBMIT.implementation("greenpool", note="DaskExecutor.submit")
def dask_submit_greenpool(n: int) -> float:
    from greenpool import DaskExecutor

    with _cluster() as client:
        executor = DaskExecutor(client)
        figure = _executor_burst(executor, n)
        executor.shutdown()
        return figure


@DASK_SUBMIT.implementation("patched", note="the same, monkey patched: client in a helper")
def dask_submit_patched(n: int) -> float:
    import eventlet

    eventlet.monkey_patch()
    from greenpool import DaskExecutor

    # The helper starts the LocalCluster: on two cores its default is the same
    # two worker processes of one thread each (checked below).
    executor = DaskExecutor()
    if executor.max_workers != WORKERS:
        raise RuntimeError(f"the helper's LocalCluster has {executor.max_workers} threads")
    figure = _executor_burst(executor, n)
    executor.shutdown()
    return figure


@DASK_SUBMIT.implementation("Client.submit", note="pure=False, then gather")
def dask_submit_client(n: int) -> float:
    with _cluster() as client:

        def run() -> None:
            client.gather([client.submit(square, i, pure=False) for i in range(n)])

        return _timed_us(run, n)


@DASK_SUBMIT.implementation("get_executor", note="Client.get_executor().submit")
def dask_submit_get_executor(n: int) -> float:
    with _cluster() as client:
        executor = client.get_executor()
        figure = _executor_burst(executor, n)
        executor.shutdown()
        return figure


# -- map ---------------------------------------------------------------------

DASK_MAP = case(
    "dask-map",
    group="dask",
    title="map over {n:,} tiny items on a 2-worker LocalCluster, every result",
    unit="µs/item",
    n=10_000,
    quick_n=1_000,
    targets=(no_slower("Client.map"),),
)


@DASK_MAP.implementation("greenpool", note="DaskExecutor.map, chunked")
def dask_map_greenpool(n: int) -> float:
    from greenpool import DaskExecutor

    with _cluster() as client:
        executor = DaskExecutor(client)

        def run() -> None:
            for _ in executor.map(square, range(n)):
                pass

        figure = _timed_us(run, n)
        executor.shutdown()
        return figure


@DASK_MAP.implementation("Client.map", note="pure=False, then gather")
def dask_map_client(n: int) -> float:
    with _cluster() as client:

        def run() -> None:
            client.gather(client.map(square, range(n), pure=False))

        return _timed_us(run, n)


@DASK_MAP.implementation("get_executor", note="Client.get_executor().map")
def dask_map_get_executor(n: int) -> float:
    with _cluster() as client:
        executor = client.get_executor()

        def run() -> None:
            for _ in executor.map(square, range(n)):
                pass

        figure = _timed_us(run, n)
        executor.shutdown()
        return figure


# -- every executor ----------------------------------------------------------

PER_CALL = case(
    "executor-per-call",
    group="choice",
    title="{n:,} tiny calls submitted, then all results, on each greenpool executor (2 workers)",
    unit="µs/call",
    n=20_000,
    quick_n=2_000,
    reference="green",
)


@PER_CALL.implementation("green", note="GreenThreadPoolExecutor")
def per_call_green(n: int) -> float:
    from greenpool import GreenThreadPoolExecutor

    return _executor_burst(GreenThreadPoolExecutor(WORKERS), n)


@PER_CALL.implementation("thread", note="ThreadPoolExecutor")
def per_call_thread(n: int) -> float:
    from greenpool import ThreadPoolExecutor

    return _executor_burst(ThreadPoolExecutor(WORKERS), n)


@PER_CALL.implementation("dynamic", note="DynamicThreadPoolExecutor")
def per_call_dynamic(n: int) -> float:
    from greenpool import DynamicThreadPoolExecutor

    return _executor_burst(DynamicThreadPoolExecutor(WORKERS), n)


@PER_CALL.implementation("process", note="ProcessPoolExecutor")
def per_call_process(n: int) -> float:
    from greenpool import ProcessPoolExecutor

    return _executor_burst(ProcessPoolExecutor(WORKERS), n)


@PER_CALL.implementation("cluster", scale=0.1, note="DaskExecutor, LocalCluster")
def per_call_cluster(n: int) -> float:
    from greenpool import DaskExecutor

    with _cluster() as client:
        executor = DaskExecutor(client)
        figure = _executor_burst(executor, n)
        executor.shutdown()
        return figure
