"""DaskExecutor on a real LocalCluster: two worker processes on 127.0.0.1, no dashboard.

Marked ``dask``: CI runs them on the default Python, where ``.ci/run``
installs the extra (``greenpool[dask]``, in ``dev``); the other Pythons run
``-m core`` only. The calls the workers run are in ``tests/dask_tasks.py``.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import dask_tasks
import pytest
from conftest import run_program

import greenpool
from greenpool import rejection, waiters

distributed = pytest.importorskip("distributed", reason="the extra greenpool[dask]")

pytestmark = [
    pytest.mark.dask,
    pytest.mark.timeout(120),
    # A second cluster's scheduler serves its health routes (no dashboard) on another port.
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use"),
]


def start_cluster(workers: int = 2, **config: Any) -> Any:
    import dask

    with dask.config.set(config):
        return distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    cluster = start_cluster()
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    client = distributed.Client(cluster)
    yield client
    client.close()


@pytest.fixture
def executor(client: Any) -> Iterator[greenpool.DaskExecutor]:
    executor = greenpool.DaskExecutor(client)
    yield executor
    executor.shutdown(cancel_futures=True)


def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``condition()`` holds (state the cluster reaches on its own time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def assert_counts_add_up(executor: greenpool.Executor, futures: list[Any]) -> None:
    stats = executor.statistics
    assert stats.pending == stats.running == 0
    assert stats.submitted == stats.executed + stats.cancelled
    assert stats.cancelled == sum(f.cancelled() for f in futures)
    assert stats.failures == sum(not f.cancelled() and f.exception() is not None for f in futures)


# -- what import and construction promise --------------------------------------


def test_import_greenpool_imports_no_dask(python: Any) -> None:
    done = python(
        """
        import sys, greenpool
        greenpool.ThreadPoolExecutor
        assert "distributed" not in sys.modules and "dask" not in sys.modules, sys.modules
        """
    )
    assert done.returncode == 0, done.stderr


def test_without_the_extra_an_import_error_names_it(python: Any) -> None:
    done = python(
        """
        import sys
        sys.modules["distributed"] = None  # As if it were not installed.
        import greenpool
        try:
            greenpool.DaskExecutor
        except ImportError as exc:
            print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'greenpool[dask]'" in done.stdout


def run_patched(scenario: str, *args: str) -> str:
    """``tests/programs/dask_patched.py SCENARIO ...`` under eventlet.monkey_patch(): its output."""
    done = run_program("dask_patched.py", 110.0, scenario, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "OK", done.stdout + done.stderr
    return done.stdout


def test_under_monkey_patching_the_client_runs_in_a_helper_process() -> None:
    """Without an address the helper starts a LocalCluster of its own, and closes it."""
    output = run_patched("calls")
    for check in [
        "result and remote traceback",
        "green threads waited",
        "cancel",
        "map and Pool",
        "a lambda argument reached the worker",
        "statistics add up; helper exited 0",
    ]:
        assert check in output, output


def test_under_monkey_patching_on_a_given_scheduler(cluster: Any) -> None:
    output = run_patched("calls", cluster.scheduler_address)
    assert "max_workers 2" in output, output


def test_under_monkey_patching_a_helper_that_dies_fails_its_calls(cluster: Any) -> None:
    output = run_patched("helper-killed", cluster.scheduler_address)
    assert "refused after: the dask helper process" in output, output


def test_under_monkey_patching_a_client_object_is_refused() -> None:
    output = run_patched("client-refused")
    assert (
        "refused: under eventlet monkey patching DaskExecutor takes a scheduler address" in output
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_in_flight": 0}, ValueError, "at least 1"),
        ({"max_in_flight": -1}, ValueError, "at least 1"),
        ({"max_in_flight": 1.5}, TypeError, "int or None"),
        ({"max_in_flight": "3"}, TypeError, "int or None"),
        ({"max_in_flight": True}, TypeError, "int or None"),
        ({"check_and_reject": 3}, TypeError, "check_and_reject must be callable"),
        ({"name": 5}, TypeError, "name must be a str"),
        ({"client_or_address": 42}, TypeError, "distributed.Client, a scheduler address"),
    ],
)
def test_bad_arguments_refused_before_anything_starts(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    import multiprocessing

    children = set(multiprocessing.active_children())
    live = len(greenpool.executors())
    with pytest.raises(error, match=message):
        greenpool.DaskExecutor(**kwargs)
    assert set(multiprocessing.active_children()) == children
    assert len(greenpool.executors()) == live


def test_owns_and_closes_the_local_cluster_it_starts() -> None:
    executor = greenpool.DaskExecutor()
    client = executor.client
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert executor.max_workers == sum(client.nthreads().values()) > 0
    assert executor.submit(dask_tasks.inc, 1).result(timeout=30) == 2
    executor.shutdown()
    assert client.status == "closed"


def test_a_given_client_is_left_open(client: Any) -> None:
    executor = greenpool.DaskExecutor(client, name="given")
    assert executor.submit(dask_tasks.inc, 2).result(timeout=30) == 3
    executor.shutdown()
    assert client.status == "running"
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(dask_tasks.inc, 1)


def test_connects_to_a_scheduler_address(cluster: Any) -> None:
    executor = greenpool.DaskExecutor(cluster.scheduler_address)
    assert executor.submit(dask_tasks.inc, 41).result(timeout=30) == 42
    executor.shutdown()
    assert executor.client.status == "closed"
    assert cluster.status.name == "running"


# -- futures, results and errors --------------------------------------------------


def test_returns_greenpool_futures_the_stdlib_and_waiters_accept(
    executor: greenpool.DaskExecutor,
) -> None:
    futures = [executor.submit(dask_tasks.inc, i) for i in range(50)]
    assert all(isinstance(f, greenpool.Future) for f in futures)
    done, not_done = concurrent.futures.wait(futures, timeout=30)
    assert len(done) == 50
    assert not not_done
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures)) == list(
        range(1, 51)
    )
    assert len(waiters.wait_for_all(futures, timeout=30).done) == 50
    assert_counts_add_up(executor, futures)
    assert executor.statistics.executed == 50


def test_exception_keeps_the_worker_traceback(executor: greenpool.DaskExecutor) -> None:
    future = executor.submit(dask_tasks.fail, "on the worker")
    with pytest.raises(dask_tasks.TaskError, match="on the worker") as raised:
        future.result(timeout=30)
    cause = str(raised.value.__cause__)
    assert "dask_tasks.py" in cause and "in fail" in cause
    assert executor.statistics.failures == 1


@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "SystemExit"])
def test_base_exceptions_fail_the_call_and_the_worker_goes_on(
    executor: greenpool.DaskExecutor, kind: str
) -> None:
    future = executor.submit(dask_tasks.raise_base, kind)
    assert type(future.exception(timeout=30)).__name__ == kind
    assert executor.submit(dask_tasks.inc, 1).result(timeout=30) == 2


def test_results_too_big_for_an_event_are_fetched(executor: greenpool.DaskExecutor) -> None:
    from greenpool.dask._remote import INLINE_LIMIT

    assert executor.submit(dask_tasks.big, 10 * INLINE_LIMIT).result(timeout=30) == b"x" * (
        10 * INLINE_LIMIT
    )
    assert executor.submit(dask_tasks.big, 10).result(timeout=30) == b"x" * 10


def test_a_result_that_cannot_be_pickled_fails_the_call(executor: greenpool.DaskExecutor) -> None:
    error = executor.submit(dask_tasks.unpicklable_result).exception(timeout=30)
    assert isinstance(error, TypeError) and "pickle" in str(error)
    assert executor.statistics.failures == 1


def test_an_argument_that_cannot_be_pickled_fails_the_call(
    executor: greenpool.DaskExecutor,
) -> None:
    error = executor.submit(dask_tasks.inc, threading.Lock()).exception(timeout=30)
    assert isinstance(error, TypeError)
    assert str(error) == (
        "the call cannot be pickled for the dask cluster: cannot pickle '_thread.lock' object"
    )
    assert executor.submit(dask_tasks.inc, 1).result(timeout=30) == 2


def test_a_green_thread_waiting_does_not_block_the_hub(executor: greenpool.DaskExecutor) -> None:
    import eventlet

    ticks = []

    def ticker() -> None:
        for _ in range(1000):
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    ticking = eventlet.spawn(ticker)
    waiting = eventlet.spawn(lambda: executor.submit(dask_tasks.nap, 0.5, "slept").result(30))
    assert waiting.wait() == "slept"
    ticking.kill()
    assert len(ticks) >= 10  # The ticker ran while the other green thread waited.


# -- statistics ----------------------------------------------------------------------


def test_run_time_is_the_workers_and_wait_time_ends_at_the_start(
    executor: greenpool.DaskExecutor,
) -> None:
    assert executor.max_workers == 2
    futures = [executor.submit(dask_tasks.nap, 0.3) for _ in range(4)]
    eventually(lambda: executor.statistics.running == 2)
    assert executor.statistics.pending == 2
    assert executor.backlog == 2
    waiters.wait_for_all(futures, timeout=30)
    stats = executor.statistics
    assert stats.executed == 4 and stats.failures == 0
    assert stats.runtime >= 4 * 0.3
    # Two calls waited for a worker about a call's time; that wait is not run time.
    assert stats.max_wait_time >= 0.25
    assert stats.max_runtime < 0.3 + 0.25


def test_check_and_reject_sees_the_backlog_and_refusals_count(client: Any) -> None:
    executor = greenpool.DaskExecutor(client, check_and_reject=rejection.reject_when_reached(1))
    try:
        futures = [executor.submit(dask_tasks.nap, 0.5) for _ in range(3)]  # Backlog 0, 0, 1.
        with pytest.raises(greenpool.RejectedSubmission):
            executor.submit(dask_tasks.nap, 0.5)
        assert executor.statistics.rejected == 1
        assert executor.statistics.submitted == 3
        waiters.wait_for_all(futures, timeout=30)
    finally:
        executor.shutdown()


def test_max_in_flight_keeps_the_rest_here_cancellable(client: Any, tmp_path: Any) -> None:
    executor = greenpool.DaskExecutor(client, max_in_flight=1)
    try:
        first = executor.submit(dask_tasks.nap, 0.5)
        marks = [str(tmp_path / f"mark{i}") for i in range(3)]
        rest = [executor.submit(dask_tasks.mark_then_nap, mark, 0.0) for mark in marks]
        eventually(lambda: executor.statistics.running == 1)
        assert executor.statistics.pending == 3  # Two worker threads, one call handed over.
        assert rest[1].cancel()
        waiters.wait_for_all([first, rest[0], rest[2]], timeout=30)
        assert executor.statistics.running == 0
        assert [os.path.exists(mark) for mark in marks] == [True, False, True]
        assert_counts_add_up(executor, [first, *rest])
    finally:
        executor.shutdown()


# -- cancel, shutdown, delayed calls, map ----------------------------------------------


def test_cancel_of_a_call_not_started_cancels_it_on_the_cluster(
    executor: greenpool.DaskExecutor, tmp_path: Any
) -> None:
    busy = [executor.submit(dask_tasks.nap, 0.5) for _ in range(2)]
    eventually(lambda: executor.statistics.running == 2)
    mark = str(tmp_path / "mark")
    queued = executor.submit(dask_tasks.mark_then_nap, mark, 0.0)
    time.sleep(0.1)  # Handed to the scheduler, which holds it for a free worker.
    assert queued.cancel() and queued.cancelled()
    assert not busy[0].cancel()  # Running: too late.
    waiters.wait_for_all(busy, timeout=30)
    time.sleep(0.3)  # A worker is free now: the call would have run by then.
    assert not os.path.exists(mark)
    # The scheduler has forgotten it, rather than holding it for nobody.
    eventually(lambda: executor.client.run_on_scheduler(_marking_tasks) == 0)
    assert_counts_add_up(executor, [*busy, queued])


def _marking_tasks(dask_scheduler: Any) -> int:
    return sum(key.startswith("mark_then_nap-") for key in dask_scheduler.tasks)


@pytest.mark.parametrize("cancel_futures", [False, True])
def test_shutdown_waits_and_cancel_futures_cancels_what_has_not_started(
    client: Any, cancel_futures: bool
) -> None:
    executor = greenpool.DaskExecutor(client)
    futures = [executor.submit(dask_tasks.nap, 0.3, i) for i in range(6)]
    eventually(lambda: executor.statistics.running == 2)
    executor.shutdown(wait=True, cancel_futures=cancel_futures)
    assert all(f.done() for f in futures)
    cancelled = sum(f.cancelled() for f in futures)
    assert cancelled == (4 if cancel_futures else 0)
    assert_counts_add_up(executor, futures)


def test_shutdown_without_waiting_returns_and_the_calls_still_end(client: Any) -> None:
    executor = greenpool.DaskExecutor(client)
    futures = [executor.submit(dask_tasks.nap, 0.2, i) for i in range(4)]
    executor.shutdown(wait=False)
    assert [f.result(timeout=30) for f in futures] == [0, 1, 2, 3]
    executor.shutdown(wait=True)  # Returns once the session has closed.


def test_submit_after(executor: greenpool.DaskExecutor) -> None:
    later = executor.submit_after(0.2, dask_tasks.inc, 1)
    never = executor.submit_after(30, dask_tasks.inc, 2)
    assert executor.statistics.scheduled == 2
    assert never.cancel()
    assert later.result(timeout=30) == 2
    assert executor.statistics.executed == 1


def test_map_is_lazy_bounded_and_in_order(executor: greenpool.DaskExecutor) -> None:
    assert list(executor.map(dask_tasks.inc, range(2000))) == list(range(1, 2001))
    endless = executor.map(dask_tasks.inc, itertools.count())
    assert list(itertools.islice(endless, 100)) == list(range(1, 101))
    endless.close()
    with pytest.raises(dask_tasks.TaskError, match="third"):
        list(executor.map(dask_tasks.fail, ["third"]))


def test_pool_over_the_dask_executor(executor: greenpool.DaskExecutor) -> None:
    pool = greenpool.Pool(executor=executor)
    assert pool.apply(dask_tasks.inc, (1,)) == 2
    assert pool.map(dask_tasks.inc, range(500)) == list(range(1, 501))
    assert list(pool.imap(dask_tasks.inc, range(100))) == list(range(1, 101))
    assert sorted(pool.imap_unordered(dask_tasks.inc, range(100))) == list(range(1, 101))
    pool.close()
    pool.join()
    assert executor.alive  # The pool did not own it.


# -- workers lost and added --------------------------------------------------------------


@pytest.mark.parametrize("allowed_failures", [3, 0])
def test_a_worker_killed_mid_call(tmp_path: Any, allowed_failures: int) -> None:
    """dask runs the call again on the other worker; with no retries allowed it gives up."""
    cluster = start_cluster(**{"distributed.scheduler.allowed-failures": allowed_failures})
    executor = greenpool.DaskExecutor(distributed.Client(cluster))
    try:
        mark = str(tmp_path / "mark")
        future = executor.submit(dask_tasks.mark_then_nap, mark, 2.0)
        eventually(lambda: os.path.exists(mark))
        with open(mark) as file:
            victim = int(file.read())
        eventually(lambda: executor.statistics.running == 1)
        os.remove(mark)
        os.kill(victim, signal.SIGKILL)
        if allowed_failures:
            survivor = future.result(timeout=60)
            assert survivor != victim
            assert executor.statistics.executed == 1
            assert executor.statistics.failures == 0
        else:
            error = future.exception(timeout=60)
            assert isinstance(error, greenpool.WorkerLostError)
            assert "gave up on this call" in str(error)
            assert isinstance(error.__cause__, distributed.KilledWorker)
            assert executor.statistics.failures == 1
        assert_counts_add_up(executor, [future])
        # The cluster goes on: the nanny started a new worker.
        assert executor.submit(dask_tasks.inc, 1).result(timeout=60) == 2
    finally:
        executor.shutdown()
        executor.client.close()
        cluster.close()


def test_a_worker_added_while_calls_are_queued(tmp_path: Any) -> None:
    cluster = start_cluster(workers=1)
    executor = greenpool.DaskExecutor(distributed.Client(cluster))
    try:
        assert executor.max_workers == 1
        futures = [
            executor.submit(dask_tasks.mark_then_nap, str(tmp_path / str(i)), 0.5) for i in range(6)
        ]
        eventually(lambda: executor.statistics.running == 1)
        assert executor.backlog == 5
        cluster.scale(2)
        eventually(lambda: executor.max_workers == 2)
        assert executor.statistics.max_workers == 2
        eventually(lambda: executor.statistics.running == 2)
        pids = {f.result(timeout=60) for f in futures}
        assert len(pids) == 2  # The new worker took some of the queued calls.
        assert_counts_add_up(executor, futures)
        assert executor.statistics.executed == 6
    finally:
        executor.shutdown()
        executor.client.close()
        cluster.close()
