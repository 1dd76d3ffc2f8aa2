"""greenpool.Future: the stdlib Future's semantics, waitable from green and native threads alike."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import json
import logging
import os
import random
import signal
import textwrap
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import eventlet.event
import eventlet.patcher
import greenlet
import pytest
from helpers import (
    LONG,
    PATCHED_TICKER,
    WOKEN_BOUND,
    Ticker,
    assert_no_stray_switch,
    eventually,
    run_native,
    timed_outcome,
)

import greenpool
from greenpool import GreenThreadPoolExecutor

pytestmark = pytest.mark.timeout(20)

STDLIB_AND_GREENPOOL = [
    pytest.param(concurrent.futures.Future, id="stdlib"),
    pytest.param(greenpool.Future, id="greenpool"),
]


def slow_abs(value: int) -> int:
    """Long enough for a test to add callbacks before a worker resolves the future."""
    time.sleep(0.3)
    return abs(value)


# -- helpers ------------------------------------------------------------------


def normalized_repr(future: concurrent.futures.Future[Any]) -> str:
    return repr(future).replace(f"{id(future):#x}", "ID")


@pytest.fixture
def executor() -> Iterator[GreenThreadPoolExecutor]:
    executor = GreenThreadPoolExecutor(4)
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def not_patched() -> None:
    assert not eventlet.patcher.is_monkey_patched("thread")


# -- identity -----------------------------------------------------------------


@pytest.mark.core
def test_is_a_stdlib_future_and_green_future_is_the_same_class() -> None:
    assert issubclass(greenpool.Future, concurrent.futures.Future)
    assert isinstance(greenpool.Future(), concurrent.futures.Future)
    assert greenpool.GreenFuture is greenpool.Future
    assert greenpool.TimeoutError is concurrent.futures.TimeoutError
    assert greenpool.CancelledError is concurrent.futures.CancelledError
    assert greenpool.Future[int] is not None  # Generic, like the stdlib's.


@pytest.mark.core
def test_executor_futures_are_greenpool_futures(executor: GreenThreadPoolExecutor) -> None:
    future = executor.submit(int, "7")
    # A WorkItem: the Future subclass that also carries the call (one object
    # per call instead of two). Users see a Future, repr included.
    assert isinstance(future, greenpool.Future)
    assert type(future) is greenpool.WorkItem
    assert repr(future).startswith("<Future at ")
    assert future.result(timeout=LONG) == 7


@pytest.mark.core
def test_a_work_item_starts_with_every_field_of_a_new_future() -> None:
    # WorkItem.__init__ sets Future's fields itself rather than calling
    # super().__init__() (a measurable share of a submit): it must not miss
    # one, nor start one differently.
    executor = greenpool.SynchronousExecutor()
    item = greenpool.WorkItem(abs, (-1,), {}, executor._gatherer)
    plain: greenpool.Future[Any] = greenpool.Future()
    for name in greenpool.Future.__slots__:
        assert getattr(item, name) == getattr(plain, name), name


class _Watched:
    """A call or an argument that can be watched with a weak reference."""

    def __call__(self, *args: Any) -> None:
        pass


@pytest.mark.core
@pytest.mark.parametrize("backend", ["green", "thread"])
def test_a_held_future_does_not_keep_its_call_alive(backend: str) -> None:
    # The future also carries its call until a worker takes it (WorkItem).
    # Once the call has run or was cancelled (by cancel() or by shutdown),
    # a caller holding the future must not be holding the call's function
    # and arguments too.
    if backend == "green":
        executor: Any = GreenThreadPoolExecutor(1)
        blocker: Any = eventlet.event.Event()
        release = lambda: blocker.ready() or blocker.send(None)  # noqa: E731
    else:
        executor = greenpool.ThreadPoolExecutor(1)
        blocker = threading.Event()
        release = blocker.set
    try:
        calls = [_Watched() for _ in range(3)]
        arguments = [_Watched() for _ in range(3)]
        ran = executor.submit(calls[0], arguments[0])
        assert ran.result(timeout=LONG) is None
        executor.submit(blocker.wait)
        cancelled = executor.submit(calls[1], arguments[1])
        dropped = executor.submit(calls[2], arguments[2])
        assert cancelled.cancel()
        executor.shutdown(wait=False, cancel_futures=True)
        assert dropped.cancelled()
        refs = [weakref.ref(thing) for thing in (*calls, *arguments)]
        del calls, arguments
        gc.collect()
        # The only worker is still blocked: nothing but the futures saw them.
        assert [ref() for ref in refs] == [None] * 6
        assert (ran.done(), cancelled.cancelled()) == (True, True)  # Still held.
    finally:
        release()
        executor.shutdown(wait=True)


# -- the stdlib's state machine, side by side --------------------------------


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_new_future_is_pending(future_class: type) -> None:
    future = future_class()
    assert (future.running(), future.done(), future.cancelled()) == (False, False, False)


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_cancel_pending_succeeds_and_is_idempotent(future_class: type) -> None:
    future = future_class()
    assert future.cancel() is True
    assert (future.cancelled(), future.done(), future.running()) == (True, True, False)
    assert future.cancel() is True
    with pytest.raises(concurrent.futures.CancelledError):
        future.result(timeout=0)
    with pytest.raises(concurrent.futures.CancelledError):
        future.exception(timeout=0)


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_cancel_running_or_finished_fails(future_class: type) -> None:
    running = future_class()
    assert running.set_running_or_notify_cancel() is True
    assert running.running()
    assert running.cancel() is False
    assert not running.cancelled()
    running.set_result(1)
    assert running.cancel() is False
    failed = future_class()
    failed.set_exception(ValueError("x"))
    assert failed.cancel() is False
    assert not failed.cancelled()


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_set_running_or_notify_cancel(future_class: type, caplog: Any) -> None:
    pending = future_class()
    assert pending.set_running_or_notify_cancel() is True
    caplog.set_level(logging.CRITICAL, logger="concurrent.futures")
    with pytest.raises(RuntimeError):
        pending.set_running_or_notify_cancel()  # Already running.
    assert any(record.levelno == logging.CRITICAL for record in caplog.records)

    cancelled = future_class()
    cancelled.cancel()
    # Cancelled but not yet notified: not done for concurrent.futures.wait.
    assert concurrent.futures.wait([cancelled], timeout=0).not_done == {cancelled}
    assert cancelled.set_running_or_notify_cancel() is False
    assert cancelled.cancelled()
    assert concurrent.futures.wait([cancelled], timeout=0).done == {cancelled}


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_setting_a_done_future_raises_invalid_state(future_class: type) -> None:
    finished = future_class()
    finished.set_result(1)
    with pytest.raises(concurrent.futures.InvalidStateError):
        finished.set_result(2)
    with pytest.raises(concurrent.futures.InvalidStateError):
        finished.set_exception(ValueError())
    assert finished.result() == 1
    failed = future_class()
    failed.set_exception(KeyError("k"))
    with pytest.raises(concurrent.futures.InvalidStateError):
        failed.set_exception(ValueError())
    with pytest.raises(concurrent.futures.InvalidStateError):
        failed.set_result(2)
    cancelled = future_class()
    cancelled.cancel()
    with pytest.raises(concurrent.futures.InvalidStateError):
        cancelled.set_result(2)
    cancelled.set_running_or_notify_cancel()
    with pytest.raises(concurrent.futures.InvalidStateError):
        cancelled.set_exception(ValueError())


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_result_and_exception_of_a_finished_future(future_class: type) -> None:
    ok = future_class()
    ok.set_result("v")
    assert ok.result() == "v"
    assert ok.exception() is None
    error = ValueError("boom")
    failed = future_class()
    failed.set_exception(error)
    assert failed.exception() is error
    with pytest.raises(ValueError, match="boom") as raised:
        failed.result()
    assert raised.value is error


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_result_and_exception_time_out_on_a_pending_future(future_class: type) -> None:
    future = future_class()
    with pytest.raises(concurrent.futures.TimeoutError):
        future.result(timeout=0.02)
    with pytest.raises(concurrent.futures.TimeoutError):
        future.exception(timeout=0.02)
    with pytest.raises(concurrent.futures.TimeoutError):
        future.result(timeout=0)
    with pytest.raises(concurrent.futures.TimeoutError):
        future.result(timeout=-1)
    future.set_result(3)  # Timed-out waiters left nothing behind that breaks completion.
    assert future.result(timeout=0) == 3


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_callbacks_run_once_in_order_on_completion_and_at_once_when_done(
    future_class: type,
) -> None:
    calls: list[tuple[str, Any]] = []
    future = future_class()
    future.add_done_callback(lambda f: calls.append(("first", f)))
    future.add_done_callback(lambda f: calls.append(("second", f)))
    assert calls == []
    future.set_result(1)
    assert calls == [("first", future), ("second", future)]
    future.add_done_callback(lambda f: calls.append(("late", f)))
    assert calls[-1] == ("late", future)
    assert len(calls) == 3


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_callbacks_run_on_cancel(future_class: type) -> None:
    calls: list[bool] = []
    future = future_class()
    future.add_done_callback(lambda f: calls.append(f.cancelled()))
    assert future.cancel()
    assert calls == [True]
    future.set_running_or_notify_cancel()
    assert calls == [True]  # Not called a second time by the notification.


@pytest.mark.core
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "error",
    [SystemExit(3), KeyboardInterrupt(), greenlet.GreenletExit(), ValueError("plain")],
    ids=["SystemExit", "KeyboardInterrupt", "GreenletExit", "ValueError"],
)
def test_a_callback_that_raises_anything_is_logged_and_the_executor_keeps_working(
    any_executor: greenpool.Executor, error: BaseException, caplog: Any
) -> None:
    # A BaseException from a done-callback used to escape into whoever
    # resolved the future: the process pool's manager thread died and the
    # pool broke, a green worker greenlet died, a thread worker dropped the
    # rest of the callbacks.
    calls: list[str] = []

    def bad(_future: Any) -> None:
        calls.append("bad")
        raise error

    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        future = any_executor.submit(slow_abs, -1)
        # Resolved by a worker, the manager thread, or (synchronous) already here.
        future.add_done_callback(bad)
        future.add_done_callback(lambda f: calls.append("after"))
        assert future.result(timeout=30) == 1
        eventually(lambda: len(calls) == 2)
        assert calls == ["bad", "after"]
        assert any_executor.submit(abs, -2).result(timeout=30) == 2
    logged = [r for r in caplog.records if "exception calling callback" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None and logged[0].exc_info[1] is error


@pytest.mark.core
@pytest.mark.parametrize("future_class", STDLIB_AND_GREENPOOL)
def test_raising_callback_is_logged_not_propagated(future_class: type, caplog: Any) -> None:
    calls: list[str] = []

    def bad(_future: Any) -> None:
        calls.append("bad")
        raise ValueError("callback failed")

    future = future_class()
    future.add_done_callback(bad)
    future.add_done_callback(lambda f: calls.append("after"))
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        future.set_result(1)  # Does not raise.
        future.add_done_callback(bad)  # Runs at once; does not raise either.
    assert calls == ["bad", "after", "bad"]
    logged = [r for r in caplog.records if r.name == "concurrent.futures"]
    assert len(logged) == 2
    for record in logged:
        assert record.levelno == logging.ERROR
        assert "exception calling callback" in record.getMessage()
        assert record.exc_info is not None
        assert record.exc_info[0] is ValueError


def _futures_in_every_state(future_class: type) -> dict[str, concurrent.futures.Future[Any]]:
    running = future_class()
    running.set_running_or_notify_cancel()
    returned = future_class()
    returned.set_result(5)
    raised = future_class()
    raised.set_exception(KeyError("k"))
    cancelled = future_class()
    cancelled.cancel()
    notified = future_class()
    notified.cancel()
    notified.set_running_or_notify_cancel()
    return {
        "pending": future_class(),
        "running": running,
        "returned": returned,
        "raised": raised,
        "cancelled": cancelled,
        "cancelled and notified": notified,
    }


@pytest.mark.core
def test_repr_matches_the_stdlib_in_every_state() -> None:
    ours = {k: normalized_repr(f) for k, f in _futures_in_every_state(greenpool.Future).items()}
    stdlib = {
        k: normalized_repr(f) for k, f in _futures_in_every_state(concurrent.futures.Future).items()
    }
    assert ours["pending"] == "<Future at ID state=pending>"
    assert ours["returned"] == "<Future at ID state=finished returned int>"
    assert ours["raised"] == "<Future at ID state=finished raised KeyError>"
    # Both cancelled states print as state=cancelled, as in the stdlib (greenpool
    # once printed state=cancelled_and_notified).
    assert ours == stdlib


# -- the stdlib helpers and asyncio accept it (native threads) --------------


def complete_later(future: greenpool.Future[Any], value: Any, delay: float = 0.02) -> None:
    """Complete ``future`` from a new native thread after ``delay`` seconds."""

    def complete() -> None:
        time.sleep(delay)
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)

    threading.Thread(target=complete, daemon=True).start()


@pytest.mark.core
def test_concurrent_futures_wait_first_completed_and_all_completed() -> None:
    first, second, never = greenpool.Future(), greenpool.Future(), greenpool.Future()
    complete_later(first, 1)
    done, not_done = concurrent.futures.wait(
        [first, second, never], timeout=LONG, return_when=concurrent.futures.FIRST_COMPLETED
    )
    assert (done, not_done) == ({first}, {second, never})
    complete_later(second, ValueError("x"))
    done, not_done = concurrent.futures.wait(
        [second, never], timeout=LONG, return_when=concurrent.futures.FIRST_EXCEPTION
    )
    assert (done, not_done) == ({second}, {never})
    complete_later(never, 3)
    done, not_done = concurrent.futures.wait([first, second, never], timeout=LONG)
    assert (done, not_done) == ({first, second, never}, set())


@pytest.mark.core
def test_concurrent_futures_wait_on_many_executors_futures_from_many_threads() -> None:
    # concurrent.futures.wait acquires every future's condition at once, in
    # id order. Were the futures of each executor to share a lock of their
    # own, two threads waiting on mixes from two executors would take those
    # locks in opposite orders and could deadlock (the test's timeout).
    with (
        greenpool.ThreadPoolExecutor(2) as left,
        greenpool.ThreadPoolExecutor(2) as right,
    ):

        def waiter(seed: int) -> None:
            for round_ in range(150):
                futures = [
                    (left if (seed + round_ + i) % 2 else right).submit(time.sleep, 0)
                    for i in range(6)
                ]
                random.Random(seed * 1000 + round_).shuffle(futures)
                done, not_done = concurrent.futures.wait(futures, timeout=LONG)
                assert (len(done), not_done) == (6, set())

        threads = [threading.Thread(target=waiter, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(LONG)
        assert not any(thread.is_alive() for thread in threads)
        assert left.statistics.executed + right.statistics.executed == 4 * 150 * 6


@pytest.mark.core
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_changes_a_future_can_use_futures() -> None:
    # Every future's state shares one lock; a child forked while another
    # thread held it must not find it held forever.
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with greenpool.Future()._condition:  # Takes the shared state lock.
            held.set()
            release.wait(LONG)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(LONG)
        with warnings.catch_warnings():
            # 3.12+ warns that forking a process with threads may deadlock:
            # exactly what this test checks greenpool does not do.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                signal.alarm(10)  # A deadlock here ends the child, not the test run.
                future: greenpool.Future[int] = greenpool.Future()
                future.set_result(7)
                code = 0 if future.result(timeout=1) == 7 else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        holder.join(LONG)


@pytest.mark.core
def test_concurrent_futures_wait_timeout_returns_partial_result() -> None:
    done_one, pending = greenpool.Future(), greenpool.Future()
    complete_later(done_one, 1)
    done, not_done = concurrent.futures.wait([done_one, pending], timeout=0.2)
    assert (done, not_done) == ({done_one}, {pending})


@pytest.mark.core
def test_concurrent_futures_as_completed_yields_in_completion_order() -> None:
    first, second = greenpool.Future(), greenpool.Future()
    iterator = concurrent.futures.as_completed([first, second], timeout=LONG)
    complete_later(second, "second")
    assert next(iterator) is second
    complete_later(first, "first")
    assert next(iterator) is first
    with pytest.raises(StopIteration):
        next(iterator)


@pytest.mark.core
def test_concurrent_futures_as_completed_times_out_on_a_pending_future() -> None:
    done_one, pending = greenpool.Future(), greenpool.Future()
    done_one.set_result(1)
    iterator = concurrent.futures.as_completed([done_one, pending], timeout=0.05)
    assert next(iterator) is done_one
    with pytest.raises(concurrent.futures.TimeoutError):
        next(iterator)


def _run_async(main: Callable[[], Any]) -> Any:
    """Run an asyncio program in its own native thread (no hub, its own loop)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = asyncio.run(main())
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(LONG)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@pytest.mark.core
def test_asyncio_wrap_future_completed_by_a_thread_pool() -> None:
    def work(future: greenpool.Future[int]) -> None:
        if future.set_running_or_notify_cancel():
            time.sleep(0.02)
            future.set_result(7)

    async def main() -> int:
        future: greenpool.Future[int] = greenpool.Future()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(work, future)
            return await asyncio.wait_for(asyncio.wrap_future(future), LONG)

    assert _run_async(main) == 7


@pytest.mark.core
def test_asyncio_wrap_future_completed_by_a_native_thread() -> None:
    async def main() -> tuple[Any, Any]:
        ok, failed = greenpool.Future(), greenpool.Future()
        complete_later(ok, "value")
        complete_later(failed, KeyError("k"))
        value = await asyncio.wait_for(asyncio.wrap_future(ok), LONG)
        with pytest.raises(KeyError):
            await asyncio.wait_for(asyncio.wrap_future(failed), LONG)
        return value, failed.exception()

    value, error = _run_async(main)
    assert value == "value"
    assert isinstance(error, KeyError)


@pytest.mark.core
def test_asyncio_cancelling_the_wrapper_cancels_the_future() -> None:
    async def main() -> bool:
        future: greenpool.Future[Any] = greenpool.Future()
        wrapper = asyncio.wrap_future(future)
        wrapper.cancel()
        for _ in range(10):
            await asyncio.sleep(0)
        return future.cancelled()

    assert _run_async(main) is True


# -- native threads waiting --------------------------------------------------


@pytest.mark.core
def test_native_threads_blocked_in_result_all_wake_on_completion() -> None:
    future: greenpool.Future[str] = greenpool.Future()
    outcomes: list[tuple[Any, float]] = []
    waiters = [
        threading.Thread(target=lambda: outcomes.append(timed_outcome(lambda: future.result(LONG))))
        for _ in range(5)
    ]
    for thread in waiters:
        thread.start()
    complete_later(future, "done")
    for thread in waiters:
        thread.join(LONG)
    assert len(outcomes) == 5
    for value, elapsed in outcomes:
        assert value == "done"
        assert elapsed < WOKEN_BOUND


@pytest.mark.core
def test_native_thread_blocked_in_result_wakes_on_cancel_and_on_exception() -> None:
    cancelled: greenpool.Future[Any] = greenpool.Future()
    failed: greenpool.Future[Any] = greenpool.Future()
    outcomes: dict[str, tuple[Any, float]] = {}
    threads = [
        threading.Thread(
            target=lambda: outcomes.__setitem__(
                "cancel", timed_outcome(lambda: cancelled.result(LONG))
            )
        ),
        threading.Thread(
            target=lambda: outcomes.__setitem__(
                "error", timed_outcome(lambda: failed.exception(LONG))
            )
        ),
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.02)
    assert cancelled.cancel()
    failed.set_exception(ValueError("x"))
    for thread in threads:
        thread.join(LONG)
    assert outcomes["cancel"][0] is concurrent.futures.CancelledError
    assert isinstance(outcomes["error"][0], ValueError)
    assert outcomes["cancel"][1] < WOKEN_BOUND
    assert outcomes["error"][1] < WOKEN_BOUND


# -- 2a: green threads waiting, without monkey patching ----------------------


@pytest.mark.core
def test_green_wait_on_executor_future_keeps_the_hub_running(
    not_patched: None, executor: GreenThreadPoolExecutor
) -> None:
    def call() -> int:
        eventlet.sleep(0.05)
        return 42

    def wait(future: greenpool.Future[int]) -> tuple[int, int]:
        before = ticker.ticks
        value = future.result(timeout=LONG)
        return value, ticker.ticks - before

    with Ticker() as ticker:
        value, ticked = eventlet.spawn(wait, executor.submit(call)).wait()
        assert value == 42
        assert ticked > 0
        value, ticked = wait(executor.submit(call))  # The test's own greenlet is green too.
        assert value == 42
        assert ticked > 0


@pytest.mark.core
def test_green_wait_on_future_completed_by_another_green_thread(not_patched: None) -> None:
    def wait(wait_for: Callable[[], Any]) -> tuple[Any, int]:
        before = ticker.ticks
        value, _elapsed = timed_outcome(wait_for)
        return value, ticker.ticks - before

    with Ticker() as ticker:
        ok: greenpool.Future[str] = greenpool.Future()
        eventlet.spawn_after(0.02, ok.set_result, "green")
        value, ticked = eventlet.spawn(wait, lambda: ok.result(LONG)).wait()
        assert (value, ticked > 0) == ("green", True)

        failed: greenpool.Future[str] = greenpool.Future()
        eventlet.spawn_after(0.02, failed.set_exception, KeyError("k"))
        value, ticked = eventlet.spawn(wait, lambda: failed.result(LONG)).wait()
        assert (value, ticked > 0) == (KeyError, True)

        cancelled: greenpool.Future[str] = greenpool.Future()
        eventlet.spawn_after(0.02, cancelled.cancel)
        value, ticked = eventlet.spawn(wait, lambda: cancelled.result(LONG)).wait()
        assert (value, ticked > 0) == (concurrent.futures.CancelledError, True)


@pytest.mark.core
def test_green_wait_times_out_while_the_hub_keeps_running(not_patched: None) -> None:
    future: greenpool.Future[Any] = greenpool.Future()
    with Ticker() as ticker:
        before = ticker.ticks
        with pytest.raises(concurrent.futures.TimeoutError):
            future.result(timeout=0.05)
        with pytest.raises(concurrent.futures.TimeoutError):
            future.exception(timeout=0.01)
        assert ticker.ticks > before
    eventlet.spawn_after(0.01, future.set_result, 1)
    assert future.result(LONG) == 1


@pytest.mark.core
def test_many_green_threads_waiting_on_one_future_all_wake(not_patched: None) -> None:
    future: greenpool.Future[str] = greenpool.Future()
    waiting = [eventlet.spawn(future.result, LONG) for _ in range(20)]
    eventlet.sleep(0.01)
    future.set_result("all")
    assert [green.wait() for green in waiting] == ["all"] * 20


@pytest.mark.core
def test_green_wait_given_up_by_eventlet_timeout_leaves_no_stray_switch(
    not_patched: None,
) -> None:
    future: greenpool.Future[str] = greenpool.Future()
    with pytest.raises(eventlet.Timeout), eventlet.Timeout(0.02):
        future.result()
    future.set_result("later")  # Must not resume the wait given up above.
    assert_no_stray_switch()
    assert future.result(timeout=0) == "later"


# -- 2b: green threads waiting, after monkey patching (fresh interpreters) --

PATCHED_PRELUDE = (
    """
import json, sys, time
if sys.argv[1] == "import_first":
    import greenpool
import eventlet
eventlet.monkey_patch()
import greenpool
from eventlet import patcher

assert patcher.is_monkey_patched("thread")
"""
    + PATCHED_TICKER
    + """
waiting = {}  # "before": the tick count when the current green_wait parked.

def green_wait(future, timeout):
    def wait():
        before = waiting["before"] = ticks[0]
        started = time.monotonic()
        try:
            value = future.result(timeout=timeout)
        except Exception as exc:
            value = type(exc).__name__
        return {"value": value, "elapsed": time.monotonic() - started, "ticked": ticks[0] > before}
    return eventlet.spawn(wait).wait()
"""
)

IMPORT_ORDERS = ["patch_first", "import_first"]


def run_patched(python: Any, body: str, order: str) -> tuple[dict[str, Any], str]:
    """Run ``body`` after PATCHED_PRELUDE in a fresh, monkey patched interpreter.

    Returns what it printed, as JSON, and its stderr, where the hub prints
    any error it swallows (dropping the descriptor involved).
    """
    proc = python(PATCHED_PRELUDE + textwrap.dedent(body), 30, order)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result, proc.stderr


@pytest.mark.core
@pytest.mark.timeout(40)
@pytest.mark.parametrize("order", IMPORT_ORDERS)
def test_monkey_patched_green_wait_on_executor_and_green_thread(python: Any, order: str) -> None:
    out, stderr = run_patched(
        python,
        """
        executor = greenpool.GreenThreadPoolExecutor(4)
        def call():
            eventlet.sleep(0.05)
            return "executor"
        out = {"executor": green_wait(executor.submit(call), 10)}
        future = greenpool.Future()
        eventlet.spawn_after(0.05, future.set_result, "green")
        out["green"] = green_wait(future, 10)

        # A real OS thread waiting on a green future: it must not sleep to its timeout.
        native = {}
        future = executor.submit(call)
        def native_wait():
            started = time.monotonic()
            native["value"] = future.result(timeout=10)
            native["elapsed"] = time.monotonic() - started
        thread = RealThread(target=native_wait)
        thread.start()
        while thread.is_alive():
            eventlet.sleep(0.005)
        out["native"] = native
        executor.shutdown()
        print(json.dumps(out))
        """,
        order,
    )
    for source in ("executor", "green"):
        assert out[source]["value"] == source, stderr
        assert out[source]["ticked"]
        assert out[source]["elapsed"] < 5
    assert out["native"]["value"] == "executor"
    assert out["native"]["elapsed"] < 5
    assert "Traceback" not in stderr, stderr


@pytest.mark.core
@pytest.mark.timeout(40)
@pytest.mark.parametrize("order", IMPORT_ORDERS)
def test_monkey_patched_green_wait_on_future_completed_by_real_os_thread(
    python: Any, order: str
) -> None:
    # Regression: _hubcall once read its pipe with os.read, which monkey_patch()
    # makes green; in the hub that raises "do not call blocking functions from
    # the mainloop", the hub drops the pipe, and this wake-up and every later
    # one are lost, so the green thread slept to its timeout.
    out, stderr = run_patched(
        python,
        """
        waits = []
        for n in range(2):  # Twice: the pipe must keep working after its first use.
            future = greenpool.Future()
            waiting.clear()
            def complete(future=future, n=n):
                # Complete only once the hub has ticked while the green thread waits.
                deadline = time.monotonic() + 1.5
                while time.monotonic() < deadline and ticks[0] < waiting.get("before", 1e9) + 3:
                    real_sleep(0.001)
                future.set_result(n)
            thread = RealThread(target=complete, daemon=True)
            thread.start()
            waits.append(green_wait(future, 2))
            thread.join()
        print(json.dumps({"waits": waits}))
        """,
        order,
    )
    for n, wait in enumerate(out["waits"]):
        assert wait["value"] == n
        assert wait["ticked"]
        assert wait["elapsed"] < 1, stderr  # Half its 2 s timeout: woken, not timed out.
    assert "Traceback" not in stderr, stderr


# -- 2c: a native thread waiting on a future that completes in the hub ------


@pytest.mark.core
def test_native_wait_on_green_future_wakes_when_done_not_at_timeout(
    executor: GreenThreadPoolExecutor,
) -> None:
    def call() -> int:
        eventlet.sleep(0.05)
        return 42

    future = executor.submit(call)
    value, elapsed = run_native(timed_outcome, lambda: future.result(timeout=LONG))
    assert value == 42
    assert elapsed < WOKEN_BOUND  # It did not sleep to its 10 s timeout.


@pytest.mark.core
def test_several_native_threads_wait_on_green_futures(
    executor: GreenThreadPoolExecutor,
) -> None:
    def call(n: int) -> int:
        eventlet.sleep(0.01 * n)
        if n == 3:
            raise ValueError(n)
        return n

    futures = [executor.submit(call, n) for n in range(5)]
    outcomes: dict[int, tuple[Any, float]] = {}
    threads = [
        threading.Thread(
            target=lambda n=n: outcomes.__setitem__(
                n, timed_outcome(lambda: futures[n].result(LONG))
            )
        )
        for n in range(5)
    ]
    for thread in threads:
        thread.start()
    eventually(lambda: not any(thread.is_alive() for thread in threads))
    assert {n: value for n, (value, _) in outcomes.items()} == {
        0: 0,
        1: 1,
        2: 2,
        3: ValueError,
        4: 4,
    }
    assert all(elapsed < WOKEN_BOUND for _, elapsed in outcomes.values())


@pytest.mark.core
def test_native_wait_wakes_when_a_queued_green_call_is_cancelled() -> None:
    executor = GreenThreadPoolExecutor(1)
    gate = eventlet.event.Event()
    try:
        executor.submit(gate.wait)
        queued = executor.submit(int, "1")

        def cancel_soon() -> None:
            eventlet.sleep(0.02)
            assert queued.cancel()

        eventlet.spawn(cancel_soon)
        value, elapsed = run_native(timed_outcome, lambda: queued.result(timeout=LONG))
        assert value is concurrent.futures.CancelledError
        assert elapsed < WOKEN_BOUND
    finally:
        gate.send(None)
        executor.shutdown(wait=True)


@pytest.mark.timeout(40)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_futurist_native_wait_sleeps_until_timeout(python: Any) -> None:
    """What greenpool fixes: futurist's green future makes a native waiter sleep to its timeout."""
    proc = python(
        """
        import json, threading, time, warnings
        warnings.simplefilter("ignore")
        import concurrent.futures
        import eventlet, futurist

        executor = futurist.GreenThreadPoolExecutor(4)
        finished = []
        def call():
            eventlet.sleep(0.05)
            finished.append(time.monotonic())
            return 42
        future = executor.submit(call)
        out = {}
        def native_wait():
            started = out["started"] = time.monotonic()
            try:
                out["value"] = future.result(timeout=1)
            except concurrent.futures.TimeoutError:
                out["value"] = "timeout"
            out["elapsed"] = time.monotonic() - started
        thread = threading.Thread(target=native_wait)
        thread.start()
        while thread.is_alive():
            eventlet.sleep(0.005)
        out["finished_after"] = finished[0] - out["started"]
        print(json.dumps(out))
        """,
        30,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["value"] in (42, "timeout")
    # The call was done within its 50 ms, yet the native waiter slept on until
    # about its 1 s timeout: futurist's green condition cannot wake it.
    assert out["elapsed"] >= 0.9
    assert out["elapsed"] - out["finished_after"] >= 0.5


# -- 2d: a green thread waiting on a future completed by a native thread ----


@pytest.mark.core
@pytest.mark.parametrize(
    ("complete", "expected"),
    [
        pytest.param(lambda f: f.set_result("value"), "value", id="result"),
        pytest.param(lambda f: f.set_exception(KeyError("k")), KeyError, id="exception"),
        pytest.param(lambda f: f.cancel(), concurrent.futures.CancelledError, id="cancel"),
    ],
)
def test_green_wait_on_future_completed_by_native_thread(
    not_patched: None, complete: Callable[[greenpool.Future[Any]], Any], expected: Any
) -> None:
    future: greenpool.Future[Any] = greenpool.Future()
    seen: list[int] = []

    def complete_once_the_hub_has_ticked() -> None:
        seen.append(ticker.wait_from_native(before + 3))
        complete(future)

    with Ticker() as ticker:
        before = ticker.ticks
        thread = threading.Thread(target=complete_once_the_hub_has_ticked, daemon=True)
        thread.start()
        value, elapsed = timed_outcome(lambda: future.result(timeout=LONG))
        assert value == expected
        assert elapsed < WOKEN_BOUND  # Woken through the hub's pipe, not at its timeout.
        assert seen[0] >= before + 3  # The hub ran while the green thread waited.
        eventually(lambda: not thread.is_alive())


@pytest.mark.core
def test_green_waits_on_many_native_completions_in_a_row(not_patched: None) -> None:
    """The hub's pipe keeps working, one completion after another and in bursts."""
    futures: list[greenpool.Future[int]] = [greenpool.Future() for _ in range(50)]

    def complete_all() -> None:
        for n, future in enumerate(futures):
            if n % 10 == 0:
                time.sleep(0.002)
            future.set_result(n)

    waiting = [eventlet.spawn(future.result, LONG) for future in futures]
    thread = threading.Thread(target=complete_all, daemon=True)
    thread.start()
    started = time.monotonic()
    assert [green.wait() for green in waiting] == list(range(50))
    assert time.monotonic() - started < WOKEN_BOUND
    eventually(lambda: not thread.is_alive())


@pytest.mark.core
def test_green_thread_of_another_hub_waits_on_main_hub_future(
    executor: GreenThreadPoolExecutor,
) -> None:
    """A native thread running its own hub parks green, woken across hubs."""

    def call() -> str:
        eventlet.sleep(0.05)
        return "main hub"

    future = executor.submit(call)

    def other_hub() -> tuple[Any, float, int]:
        ticks = [0]

        def tick() -> None:
            while True:
                ticks[0] += 1
                eventlet.sleep(0.001)

        ticker = eventlet.spawn(tick)  # Creates this thread's own hub.
        try:
            value, elapsed = timed_outcome(lambda: future.result(timeout=LONG))
            return value, elapsed, ticks[0]
        finally:
            ticker.kill()

    value, elapsed, ticks = run_native(other_hub)
    assert value == "main hub"
    assert elapsed < WOKEN_BOUND
    assert ticks > 0  # That thread's hub ran while its green thread waited.
