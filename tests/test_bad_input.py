"""Bad input gets a clear error at the call that made it, and changes nothing (issue 14).

One test (or parametrized family) per row of the README's "Bad input" table,
on every executor kind where the row applies (``any_executor``: green,
thread, dynamic, synchronous, process; the dask executor's rows are in
tests/test_dask.py). "Changes nothing" is checked, not assumed: no call
counted, no live executor left behind, no worker process started.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import greenlet
import pytest
from pool_tasks import square

import greenpool
from greenpool import waiters

pytestmark = [pytest.mark.core, pytest.mark.timeout(60)]

POOLS: dict[str, Callable[..., greenpool.Executor]] = {
    "green": greenpool.GreenThreadPoolExecutor,
    "thread": greenpool.ThreadPoolExecutor,
    "dynamic": greenpool.DynamicThreadPoolExecutor,
    "process": lambda *a, **k: greenpool.ProcessPoolExecutor(*a, **k),
}
KINDS: dict[str, Callable[..., greenpool.Executor]] = {
    **POOLS,
    "synchronous": lambda _workers=None, **k: greenpool.SynchronousExecutor(**k),
}


def assert_nothing_counted(executor: greenpool.Executor) -> None:
    stats = executor.statistics
    assert (stats.submitted, stats.rejected, stats.pending, stats.running) == (0, 0, 0, 0)
    assert stats.scheduled == 0


# -- construction ------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(POOLS))
@pytest.mark.parametrize(
    ("max_workers", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)],
    ids=["0", "-1", "1.5", "'3'", "True"],
)
def test_max_workers_that_is_not_a_positive_int(
    kind: str, max_workers: object, error: type[Exception]
) -> None:
    live = len(greenpool.executors())
    children = set(multiprocessing.active_children())
    with pytest.raises(error, match="max_workers"):
        POOLS[kind](max_workers)
    assert len(greenpool.executors()) == live
    assert set(multiprocessing.active_children()) == children


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_check_and_reject_that_is_not_callable(kind: str) -> None:
    live = len(greenpool.executors())
    with pytest.raises(TypeError, match="check_and_reject must be callable"):
        KINDS[kind](2, check_and_reject="reject")
    assert len(greenpool.executors()) == live


# -- submission ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.submit(42),
        lambda e: e.submit_after(0.1, 42),
        lambda e: e.map(42, [1]),
    ],
    ids=["submit", "submit_after", "map"],
)
def test_a_fn_that_is_not_callable(
    any_executor: greenpool.Executor, call: Callable[..., Any]
) -> None:
    with pytest.raises(TypeError, match="42 is not callable"):
        call(any_executor)
    assert_nothing_counted(any_executor)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda e: e.submit_after(-1, abs, 1), ValueError, "non-negative"),
        (lambda e: e.submit_after(math.nan, abs, 1), ValueError, "NaN"),
        (lambda e: e.submit_after(math.inf, abs, 1), ValueError, "finite"),
        (lambda e: e.submit_after("1", abs, 1), TypeError, "delay must be"),
        (lambda e: e.submit_after(True, abs, 1), TypeError, "delay must be"),
    ],
    ids=["-1", "NaN", "inf", "'1'", "True"],
)
def test_a_delay_that_is_not_a_number_of_seconds(
    any_executor: greenpool.Executor, call: Callable[..., Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(any_executor)
    assert_nothing_counted(any_executor)


@pytest.mark.parametrize(
    ("timeout", "error", "message"),
    [
        (math.nan, ValueError, "NaN"),
        ("1", TypeError, "timeout must be a number of seconds or None"),
        (True, TypeError, "timeout must be a number of seconds or None"),
    ],
    ids=["NaN", "'1'", "True"],
)
def test_a_wait_timeout_that_is_not_a_number_of_seconds(
    any_executor: greenpool.Executor, timeout: object, error: type[Exception], message: str
) -> None:
    future = any_executor.submit(square, 3)
    waits: list[Callable[[], object]] = [
        lambda: future.result(timeout),  # type: ignore[arg-type]
        lambda: future.exception(timeout),  # type: ignore[arg-type]
        lambda: waiters.wait_for_any([future], timeout),  # type: ignore[arg-type]
        lambda: waiters.wait_for_all([future], timeout),  # type: ignore[arg-type]
        lambda: list(any_executor.map(square, [1], timeout=timeout)),  # type: ignore[arg-type]
    ]
    for wait in waits:
        with pytest.raises(error, match=message):
            wait()
    assert future.result(30) == 9  # The future itself is untouched.


def test_a_negative_wait_timeout_does_not_block_as_in_the_stdlib(
    any_executor: greenpool.Executor,
) -> None:
    future = any_executor.submit(square, 3)
    future.result(30)
    assert future.result(-1) == 9
    unresolved: greenpool.Future[int] = greenpool.Future()
    with pytest.raises(greenpool.TimeoutError):  # The builtin one only from 3.11.
        unresolved.result(-1)


@pytest.mark.parametrize("kind", ["green", "process"])
@pytest.mark.parametrize(
    ("timeout", "error"),
    [(0, ValueError), (-1, ValueError), (math.nan, ValueError), ("1", TypeError)],
    ids=["0", "-1", "NaN", "'1'"],
)
def test_a_call_timeout_that_is_not_a_positive_number(
    kind: str, timeout: object, error: type[Exception]
) -> None:
    executor = POOLS[kind](1)
    try:
        with pytest.raises(error, match="timeout"):
            executor.submit_with_timeout(timeout, square, 2)  # type: ignore[arg-type]
        assert_nothing_counted(executor)
    finally:
        executor.shutdown()


@pytest.mark.parametrize("chunksize", [0, -1, 1.5, True], ids=["0", "-1", "1.5", "True"])
def test_a_chunksize_below_one(any_executor: greenpool.Executor, chunksize: object) -> None:
    with pytest.raises(ValueError, match="chunksize must be a positive int"):
        any_executor.map(square, [1, 2], chunksize=chunksize)  # type: ignore[arg-type]
    assert_nothing_counted(any_executor)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_check_and_reject_that_raises_something_else(kind: str) -> None:
    """The submit raises it; nothing is queued, nor counted as submitted or rejected."""

    def broken(_executor: object, _backlog: int) -> None:
        raise LookupError("the policy itself failed")

    executor = KINDS[kind](2, check_and_reject=broken)
    try:
        with pytest.raises(LookupError, match="the policy itself failed"):
            executor.submit(square, 2)
        assert_nothing_counted(executor)
        assert executor.queue_size == 0
    finally:
        executor.shutdown()


# -- what a call does inside a worker -----------------------------------------------


def raise_it(kind: str) -> None:
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt("inside a worker")
    if kind == "SystemExit":
        raise SystemExit(3)
    raise greenlet.GreenletExit("inside a worker")


def worker_pid() -> int:
    return os.getpid()


@pytest.mark.parametrize("error", ["KeyboardInterrupt", "SystemExit", "GreenletExit"])
def test_a_base_exception_inside_a_worker(any_executor: greenpool.Executor, error: str) -> None:
    """The future gets it, the worker survives or is replaced, the pool goes on.

    On the synchronous executor the caller is the worker: a ``GreenletExit``
    is re-raised in it after the future has it (a kill of the calling green
    thread must still end it).
    """
    if isinstance(any_executor, greenpool.SynchronousExecutor) and error == "GreenletExit":
        with pytest.raises(greenlet.GreenletExit):
            any_executor.submit(raise_it, error)
    else:
        future = any_executor.submit(raise_it, error)
        assert type(future.exception(30)).__name__ == error
    # The pool goes on, more than once per worker.
    assert [f.result(30) for f in [any_executor.submit(square, i) for i in range(6)]] == [
        0,
        1,
        4,
        9,
        16,
        25,
    ]
    stats = any_executor.statistics
    assert stats.failures == 1 and stats.executed == 7
    assert stats.pending == stats.running == 0


def test_a_callable_the_process_pool_cannot_pickle() -> None:
    executor = greenpool.ProcessPoolExecutor(1)
    try:
        error = executor.submit(lambda: 1).exception(30)
        assert isinstance(error, Exception) and "pickle" in str(error).lower()
        assert executor.submit(square, 4).result(30) == 16  # The pool goes on.
        assert executor.statistics.failures == 1
    finally:
        executor.shutdown()
