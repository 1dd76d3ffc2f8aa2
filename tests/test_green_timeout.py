"""GreenThreadPoolExecutor.submit_with_timeout: interrupts overrunning calls, spares the rest."""

from __future__ import annotations

import concurrent.futures

import eventlet
import pytest

import greenpool

pytestmark = [pytest.mark.core, pytest.mark.timeout(20)]


def test_overrunning_call_fails_with_call_timeout_error_and_counts_as_failure() -> None:
    with greenpool.GreenThreadPoolExecutor(2) as executor:
        future = executor.submit_with_timeout(0.05, eventlet.sleep, 10)
        with pytest.raises(greenpool.CallTimeoutError) as raised:
            future.result(timeout=5)
    assert isinstance(raised.value, concurrent.futures.TimeoutError)
    stats = executor.statistics
    assert (stats.executed, stats.failures) == (1, 1)
    assert stats.max_runtime < 5  # Interrupted, not run to the end of its 10 s sleep.


def test_call_that_finishes_in_time_returns_normally() -> None:
    with greenpool.GreenThreadPoolExecutor(1) as executor:
        future = executor.submit_with_timeout(5, lambda x: x * 2, 21)
        assert future.result(timeout=5) == 42
    assert executor.statistics.failures == 0


def test_worker_survives_a_timeout_and_runs_the_next_call() -> None:
    with greenpool.GreenThreadPoolExecutor(1) as executor:
        slow = executor.submit_with_timeout(0.05, eventlet.sleep, 10)
        after = executor.submit(lambda: "next")
        assert after.result(timeout=5) == "next"
        assert isinstance(slow.exception(timeout=5), greenpool.CallTimeoutError)
        assert executor.num_workers == 1


def test_time_in_the_queue_does_not_count_toward_the_timeout() -> None:
    with greenpool.GreenThreadPoolExecutor(1) as executor:
        blocker = executor.submit(eventlet.sleep, 0.2)
        # Waits ~0.2 s for the only worker, then runs for ~0.01 s: well inside 0.1 s.
        queued = executor.submit_with_timeout(0.1, lambda: (eventlet.sleep(0.01), "done")[1])
        assert queued.result(timeout=5) == "done"
        blocker.result(timeout=5)
    assert executor.statistics.failures == 0


def test_timeout_timer_is_cancelled_after_the_call() -> None:
    """A finished call's timer must not fire later into whatever the worker runs next."""
    with greenpool.GreenThreadPoolExecutor(1) as executor:
        executor.submit_with_timeout(0.05, lambda: None).result(timeout=5)
        later = executor.submit(eventlet.sleep, 0.15)  # Spans the first call's deadline.
        assert later.result(timeout=5) is None
    assert executor.statistics.failures == 0


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (float("nan"), ValueError),
        (float("-inf"), ValueError),
        ("1", TypeError),
        (None, TypeError),
        (True, TypeError),
    ],
)
def test_bad_timeout_is_refused_and_changes_nothing(timeout: object, error: type) -> None:
    executor = greenpool.GreenThreadPoolExecutor(1)
    with pytest.raises(error, match="timeout"):
        executor.submit_with_timeout(timeout, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        executor.submit_with_timeout(1, "not callable")  # type: ignore[arg-type]
    assert executor.statistics.submitted == 0
    executor.shutdown()


def test_rejection_applies_to_timed_submissions() -> None:
    executor = greenpool.GreenThreadPoolExecutor(1, greenpool.rejection.reject_when_reached(1))
    executor.submit_with_timeout(1, eventlet.sleep, 0.05)  # Runs: backlog 0.
    executor.submit_with_timeout(1, eventlet.sleep, 0.05)  # Waits: backlog was 0.
    with pytest.raises(greenpool.RejectedSubmission):  # Backlog 1 reached.
        executor.submit_with_timeout(1, eventlet.sleep, 0.05)
    executor.shutdown()
    assert executor.statistics.rejected == 1
