"""Timeouts everywhere: checked at the call, NaN refused, infinity and years honoured.

Every public call that takes a duration goes through ``greenpool._timeouts``.
These tests feed each of them the values that used to slip through or break
something far away: NaN (``timeout <= 0`` is false for it), infinity and
timeouts longer than a real lock or ``poll()`` can wait in one go (a
process pool's manager thread died of ``OverflowError`` and took the pool
with it), and values of the wrong type.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import eventlet
import pytest
from helpers import eventually, run_native
from hypothesis import given
from hypothesis import strategies as st

import greenpool
from greenpool import CallTimeoutError, _timeouts, waiters
from greenpool.process import ProcessPoolExecutor

pytestmark = pytest.mark.timeout(60)

#: Thirty days: past the 24.9 days (2**31 ms) that poll() can wait in one go.
THIRTY_DAYS = 30 * 86_400.0
NAN = float("nan")

BAD_WAIT_TIMEOUTS = [
    pytest.param(NAN, ValueError, id="nan"),
    pytest.param("1", TypeError, id="str"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param([1], TypeError, id="list"),
]


def finish_later(future: greenpool.Future[Any], value: Any, seconds: float = 0.05) -> None:
    """Resolve ``future`` with ``value`` from a native thread, ``seconds`` from now."""
    timer = threading.Timer(seconds, future.set_result, (value,))
    timer.daemon = True
    timer.start()


# -- the checks themselves ---------------------------------------------------------------


@pytest.mark.core
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_wait_timeout_is_none_or_a_finite_non_negative_float_or_refused(value: float) -> None:
    if math.isnan(value):
        with pytest.raises(ValueError, match="NaN"):
            _timeouts.wait_timeout(value)
        return
    seconds = _timeouts.wait_timeout(value)
    if value == math.inf:
        assert seconds is None
    else:
        assert seconds == max(0.0, value)
        assert _timeouts.os_wait(seconds) <= _timeouts.LONGEST_OS_WAIT


@pytest.mark.core
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_call_timeout_is_positive_or_refused(value: float) -> None:
    if math.isnan(value) or value <= 0:
        with pytest.raises(ValueError, match="timeout"):
            _timeouts.call_timeout(value)
    else:
        assert _timeouts.call_timeout(value) == value


@pytest.mark.core
@pytest.mark.parametrize(("value", "error"), BAD_WAIT_TIMEOUTS)
def test_bad_wait_timeouts_are_refused_by_every_wait(value: Any, error: type) -> None:
    future: greenpool.Future[int] = greenpool.Future()
    for wait in (
        lambda: future.result(timeout=value),
        lambda: future.exception(timeout=value),
        lambda: waiters.wait_for_any([future], timeout=value),
        lambda: waiters.wait_for_all([future], timeout=value),
    ):
        with pytest.raises(error, match="timeout"):
            wait()
    # Nothing changed: no waiter left behind, and the future completes as usual.
    assert future._waiter_list in (None, [])
    future.set_result(1)
    assert future.result(timeout=value if error is None else 0) == 1
    # Refused even when the answer is ready: bad input is an error at the call.
    with pytest.raises(error):
        future.result(timeout=value)


@pytest.mark.core
@pytest.mark.parametrize(("value", "error"), BAD_WAIT_TIMEOUTS)
def test_map_refuses_a_bad_timeout_before_submitting_anything(
    any_executor: greenpool.Executor, value: Any, error: type
) -> None:
    with pytest.raises(error, match="timeout"):
        any_executor.map(abs, [-1, -2], timeout=value)
    assert any_executor.statistics.submitted == 0


@pytest.mark.core
def test_map_with_an_infinite_or_huge_timeout_returns_every_result(
    any_executor: greenpool.Executor,
) -> None:
    assert list(any_executor.map(abs, [-1, -2], timeout=math.inf)) == [1, 2]
    assert list(any_executor.map(abs, [-3], timeout=1e12)) == [3]


# -- infinite and very long waits work, from native and green threads ---------------------


@pytest.mark.core
@pytest.mark.parametrize("timeout", [math.inf, 1e12, THIRTY_DAYS], ids=["inf", "1e12", "30d"])
def test_a_native_thread_waits_with_a_timeout_longer_than_a_lock_can_take(
    timeout: float,
) -> None:
    # A real lock's acquire overflows on 1e12 s (and refuses inf): the wait is made in steps.
    future: greenpool.Future[str] = greenpool.Future()
    finish_later(future, "done")
    assert future.result(timeout=timeout) == "done"
    other: greenpool.Future[str] = greenpool.Future()
    finish_later(other, "done")
    done, not_done = waiters.wait_for_all([other], timeout=timeout)
    assert (done, not_done) == ({other}, set())
    assert other.exception(timeout=timeout) is None


@pytest.mark.core
@pytest.mark.parametrize("timeout", [math.inf, 1e12], ids=["inf", "1e12"])
def test_a_green_thread_waits_with_an_infinite_or_huge_timeout(timeout: float) -> None:
    executor = greenpool.GreenThreadPoolExecutor(1)
    future = executor.submit(eventlet.sleep, 0.02)
    assert future.result(timeout=timeout) is None
    executor.shutdown()


@pytest.mark.core
def test_a_native_wait_longer_than_one_os_wait_is_made_of_several(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_timeouts, "LONGEST_OS_WAIT", 0.01)
    future: greenpool.Future[str] = greenpool.Future()
    finish_later(future, "done", 0.1)  # Ten steps later.
    assert run_native(lambda: future.result(timeout=30)) == "done"
    never: greenpool.Future[None] = greenpool.Future()
    started = time.monotonic()
    with pytest.raises(concurrent.futures.TimeoutError):
        run_native(lambda: never.result(timeout=0.05))
    assert time.monotonic() - started >= 0.05  # Not given up at the first step.


# -- submit_with_timeout ------------------------------------------------------------------


@pytest.mark.core
def test_green_submit_with_timeout_refuses_nan_and_honours_long_and_infinite_timeouts() -> None:
    executor = greenpool.GreenThreadPoolExecutor(2)
    with pytest.raises(ValueError, match="NaN"):
        executor.submit_with_timeout(NAN, eventlet.sleep, 0.01)
    assert executor.statistics.submitted == 0
    assert executor.submit_with_timeout(THIRTY_DAYS, eventlet.sleep, 0.02).result(5) is None
    assert executor.submit_with_timeout(math.inf, eventlet.sleep, 0.02).result(5) is None
    assert executor.statistics.failures == 0
    executor.shutdown()


def sleep_then_return(seconds: float, value: Any) -> Any:
    time.sleep(seconds)
    return value


@pytest.mark.core
def test_a_process_timeout_longer_than_poll_can_wait_leaves_the_pool_working() -> None:
    # Once: OverflowError in the manager thread's poll(), and every later call
    # failed with BrokenProcessPool.
    with ProcessPoolExecutor(1) as executor:
        assert (
            executor.submit_with_timeout(THIRTY_DAYS, sleep_then_return, 0.1, "a").result(
                timeout=30
            )
            == "a"
        )
        assert (
            executor.submit_with_timeout(math.inf, sleep_then_return, 0.1, "b").result(timeout=30)
            == "b"
        )
        with pytest.raises(ValueError, match="NaN"):
            executor.submit_with_timeout(NAN, sleep_then_return, 0.1, "c")
        assert executor.submit(sleep_then_return, 0, "d").result(timeout=30) == "d"
        stats = executor.statistics
    assert (stats.submitted, stats.executed, stats.failures) == (3, 3, 0)


@pytest.mark.core
def test_a_process_deadline_waited_for_in_steps_still_expires_on_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_timeouts, "LONGEST_OS_WAIT", 0.02)
    with ProcessPoolExecutor(1) as executor:
        future = executor.submit_with_timeout(0.3, sleep_then_return, 10, "late")
        with pytest.raises(CallTimeoutError):
            future.result(timeout=30)
        assert executor.submit(sleep_then_return, 0, "next").result(timeout=30) == "next"


@pytest.mark.core
def test_a_green_call_timeout_of_thirty_days_does_not_fire_early() -> None:
    executor = greenpool.GreenThreadPoolExecutor(1)
    future = executor.submit_with_timeout(THIRTY_DAYS, eventlet.sleep, 0.05)
    eventually(future.done)
    assert future.exception() is None
    executor.shutdown()


def in_a_hub_that_watches_a_descriptor(body: Callable[[], Any]) -> Any:
    """Run ``body`` as the main green thread of a new OS thread whose hub watches a pipe.

    eventlet hands the time to its next timer straight to ``epoll``, which
    takes a 32-bit count of milliseconds: a timer 30 days away raises
    ``OverflowError`` out of the hub's loop once it is the next one.
    """
    import os

    from eventlet import hubs

    def run() -> Any:
        hub = hubs.get_hub()
        read_fd, write_fd = os.pipe()
        listener = hub.add(hub.READ, read_fd, lambda _fd: None, lambda *_args: None, None)
        try:
            return body()
        finally:
            hub.remove(listener)
            os.close(read_fd)
            os.close(write_fd)

    return run_native(run)


@pytest.mark.core
def test_a_green_wait_of_thirty_days_in_a_hub_that_watches_a_descriptor() -> None:
    def body() -> Any:
        future: greenpool.Future[str] = greenpool.Future()
        finish_later(future, "done", 0.1)
        return future.result(timeout=THIRTY_DAYS)

    assert in_a_hub_that_watches_a_descriptor(body) == "done"


@pytest.mark.core
def test_a_green_call_timeout_of_thirty_days_in_a_hub_that_watches_a_descriptor() -> None:
    def body() -> Any:
        executor = greenpool.GreenThreadPoolExecutor(1)
        release: greenpool.Future[None] = greenpool.Future()
        finish_later(release, None, 0.1)
        future = executor.submit_with_timeout(THIRTY_DAYS, release.result)
        try:
            # No timeout of its own here: the call's is the hub's only timer.
            return future.result(), executor.statistics.failures
        finally:
            executor.shutdown()

    assert in_a_hub_that_watches_a_descriptor(body) == (None, 0)
