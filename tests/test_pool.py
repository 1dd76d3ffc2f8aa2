"""greenpool.Pool's own promises, beyond multiprocessing.Pool's (tests/test_pool_conformance.py
compares the two side by side): laziness, waiting for room, statistics, green callers."""

from __future__ import annotations

import gc
import itertools
import os
import pickle
import signal
import threading
import time
import warnings

import pytest

import greenpool
from greenpool.pool import PoolTerminated
from greenpool.rejection import reject_when_reached


def square(x: int) -> int:
    return x * x


def die_if(x: int, doomed: int) -> int:
    """Kill this worker process (SIGKILL, no clean-up) on ``doomed``; else square ``x``."""
    if x == doomed:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return x * x


def pulled(counter: list[int], items: int | None = None):
    """Yield 0, 1, 2, ... (for ever, or ``items`` of them), counting how many were taken."""
    for value in itertools.count() if items is None else range(items):
        counter[0] += 1
        yield value


@pytest.mark.timeout(30)
@pytest.mark.parametrize("ordered", [True, False])
def test_imap_pulls_a_bounded_window_of_an_endless_input(ordered: bool) -> None:
    with greenpool.ThreadPoolExecutor(2) as executor:
        pool = greenpool.Pool(executor=executor)
        counter = [0]
        imap = pool.imap if ordered else pool.imap_unordered
        results = imap(square, pulled(counter))
        first = [next(results) for _ in range(10)]
        if ordered:
            assert first == [x * x for x in range(10)]
        else:
            assert len(set(first)) == 10
        # A window of 2 chunks per worker is in flight, never the whole input.
        window = 2 * executor.max_workers
        assert counter[0] <= 10 + window + 1
        time.sleep(0.05)  # Nothing is pulled while nobody takes results.
        assert counter[0] <= 10 + window + 1
        pool.close()
        pool.join()


@pytest.mark.timeout(60)
def test_imap_over_processes_batches_items_and_keeps_order() -> None:
    with greenpool.Pool(2) as pool:
        results = list(pool.imap(square, range(20_000)))
        assert results == [x * x for x in range(20_000)]
        # chunksize=1 lets the process pool batch items from measured time:
        # far fewer calls than items, every one counted.
        statistics = pool.statistics
        assert 1 <= statistics.submitted < 20_000
        assert statistics.executed == statistics.submitted


@pytest.mark.timeout(60)
def test_a_worker_that_dies_fails_only_the_call_it_was_running() -> None:
    with greenpool.Pool(2) as pool:
        results = [pool.apply_async(die_if, (n, 3)) for n in range(8)]
        for n, result in enumerate(results):
            if n == 3:
                with pytest.raises(greenpool.WorkerLostError, match="SIGKILL"):
                    result.get(timeout=30)
            else:
                assert result.get(timeout=30) == n * n
        # The pool goes on, on a replacement worker.
        assert pool.map(square, range(10)) == [x * x for x in range(10)]


def test_a_pool_cannot_be_pickled() -> None:
    with greenpool.ThreadPoolExecutor(1) as executor:
        pool = greenpool.Pool(executor=executor)
        with pytest.raises(NotImplementedError):
            pickle.dumps(pool)
        pool.close()
        pool.join()


@pytest.mark.timeout(30)
def test_map_waits_for_room_while_apply_async_is_refused() -> None:
    executor = greenpool.ThreadPoolExecutor(1, check_and_reject=reject_when_reached(1))
    pool = greenpool.Pool(executor=executor)
    gate = threading.Event()
    held = pool.apply_async(gate.wait)
    queued = pool.apply_async(square, (3,))
    with pytest.raises(greenpool.RejectedSubmission):
        pool.apply_async(square, (4,))
    threading.Timer(0.1, gate.set).start()
    assert pool.map(square, range(50)) == [x * x for x in range(50)]
    assert held.get(timeout=5) is True and queued.get(timeout=5) == 9
    assert pool.statistics.rejected >= 1
    pool.close()
    pool.join()
    executor.shutdown()


@pytest.mark.timeout(30)
def test_the_pool_drives_an_executor_it_does_not_own() -> None:
    executor = greenpool.ThreadPoolExecutor(2)
    pool = greenpool.Pool(executor=executor)
    assert pool.executor is executor and pool.map(square, [1, 2]) == [1, 4]
    pool.close()
    pool.join()
    # Not the pool's to shut down: it still takes work.
    assert executor.submit(square, 5).result(timeout=5) == 25
    executor.shutdown()


@pytest.mark.timeout(30)
def test_terminate_fails_calls_not_started_with_pool_terminated() -> None:
    executor = greenpool.ThreadPoolExecutor(1)
    pool = greenpool.Pool(executor=executor)
    gate = threading.Event()
    running = pool.apply_async(gate.wait, (5,))
    waiting = [pool.apply_async(square, (n,)) for n in range(3)]
    pool.terminate()
    for result in waiting:
        with pytest.raises(PoolTerminated):
            result.get(timeout=5)
        assert result.ready() and not result.successful()
    gate.set()
    assert running.get(timeout=5) is True
    pool.join()
    with pytest.raises(ValueError, match="Pool not running"):
        pool.apply_async(square, (1,))
    executor.shutdown()


@pytest.mark.timeout(60)
def test_a_pool_collected_without_close_stops_the_workers_it_made() -> None:
    pool = greenpool.Pool(1)
    assert pool.apply(square, (7,)) == 49
    executor = pool.executor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del pool
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    deadline = time.monotonic() + 30
    while executor.num_workers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert executor.num_workers == 0
    with pytest.raises(RuntimeError):
        executor.submit(square, 1)


@pytest.mark.timeout(30)
def test_a_green_caller_waits_in_its_hub() -> None:
    eventlet = pytest.importorskip("eventlet")
    executor = greenpool.GreenThreadPoolExecutor(4)
    pool = greenpool.Pool(executor=executor)
    ticks = []

    def ticker() -> None:
        for _ in range(5):
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    beside = eventlet.spawn(ticker)
    # Each call sleeps green; waiting for them must let the ticker run.
    assert pool.map(eventlet.sleep, [0.02] * 8) == [None] * 8
    result = pool.map_async(square, range(10))
    assert result.get(timeout=5) == [x * x for x in range(10)]
    beside.wait()
    assert len(ticks) == 5
    pool.close()
    pool.join()
    executor.shutdown()


@pytest.mark.timeout(30)
def test_callbacks_run_before_the_result_is_ready_and_a_raising_one_is_logged(caplog) -> None:
    with greenpool.ThreadPoolExecutor(2) as executor:
        pool = greenpool.Pool(executor=executor)
        seen: list[object] = []
        result = pool.apply_async(square, (6,), callback=seen.append)
        result.wait(timeout=5)
        assert seen == [36]

        def explode(value: object) -> None:
            raise RuntimeError("callback failed")

        with caplog.at_level("ERROR", logger="greenpool"):
            broken = pool.apply_async(square, (2,), callback=explode)
            assert broken.get(timeout=5) == 4
        assert "callback failed" in caplog.text
        assert pool.map(square, [3]) == [9]  # The pool goes on.
        pool.close()
        pool.join()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda pool: pool.apply_async(42), TypeError),
        (lambda pool: pool.apply_async(square, (1,), callback=3), TypeError),
        (lambda pool: pool.map(square, [1], chunksize=0), ValueError),
        (lambda pool: pool.imap(square, [1], chunksize=-1), ValueError),
        (lambda pool: pool.map("not callable", [1]), TypeError),
        (lambda pool: pool.map_async(square, [1], callback=3), TypeError),
    ],
)
@pytest.mark.timeout(30)
def test_bad_input_is_refused_at_the_call_and_changes_nothing(call, error) -> None:
    with greenpool.ThreadPoolExecutor(1) as executor:
        pool = greenpool.Pool(executor=executor)
        with pytest.raises(error):
            call(pool)
        assert executor.statistics.submitted == 0
        pool.close()
        pool.join()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", ["map", "map_async", "starmap", "imap"])
def test_a_non_callable_func_leaves_the_input_untouched(method: str) -> None:
    with greenpool.ThreadPoolExecutor(1) as executor:
        pool = greenpool.Pool(executor=executor)
        counter = [0]
        with pytest.raises(TypeError):
            getattr(pool, method)("not callable", pulled(counter, 5))
        assert counter[0] == 0
        pool.close()
        pool.join()


def test_executor_with_process_settings_is_refused() -> None:
    with greenpool.ThreadPoolExecutor(1) as executor:
        for settings in ({"processes": 2}, {"initializer": print}, {"maxtasksperchild": 1}):
            with pytest.raises(ValueError, match="executor= cannot be combined"):
                greenpool.Pool(executor=executor, **settings)
        with pytest.raises(TypeError):
            greenpool.Pool(executor=object())  # type: ignore[arg-type]


def test_the_timeout_error_is_both_kinds() -> None:
    import builtins
    import multiprocessing

    error = greenpool.pool.TimeoutError("late")
    assert isinstance(error, multiprocessing.TimeoutError)
    assert isinstance(error, builtins.TimeoutError)
