"""submit_after on every executor: when it runs, what it counts, cancel, shutdown, bad input."""

from __future__ import annotations

import concurrent.futures
import itertools
import math
import threading
import time
from typing import Any

import eventlet
import pytest
from helpers import LONG, Ticker, eventually, thread_idents
from hypothesis import given, settings
from hypothesis import strategies as st

import greenpool
from greenpool import RejectedSubmission

pytestmark = pytest.mark.core


def invariant_holds(stats: greenpool.ExecutorStatistics) -> bool:
    return stats.submitted == stats.executed + stats.cancelled + stats.pending + stats.running


def test_a_delayed_call_counts_only_as_scheduled_until_it_falls_due(
    any_executor: greenpool.Executor,
) -> None:
    # Due in a minute, so that no pause of the test's thread (a loaded CI
    # machine once took over 50 ms between two lines) can let it fall due.
    future = any_executor.submit_after(60, time.monotonic)
    stats = any_executor.statistics
    assert (stats.scheduled, stats.submitted, stats.pending) == (1, 0, 0), stats
    assert future.cancel()
    stats = any_executor.statistics
    assert (stats.scheduled, stats.submitted, stats.cancelled) == (0, 0, 0), stats


def test_a_delayed_call_runs_no_sooner_than_its_delay(any_executor: greenpool.Executor) -> None:
    before = time.monotonic()
    future = any_executor.submit_after(0.05, time.monotonic)
    ran_at = future.result(timeout=LONG)
    assert ran_at - before >= 0.05
    stats = any_executor.statistics
    assert (stats.scheduled, stats.submitted, stats.executed) == (0, 1, 1)
    assert invariant_holds(stats)
    assert isinstance(future, greenpool.Future)


def test_delayed_calls_run_in_deadline_order_not_submission_order(
    any_executor: greenpool.Executor,
) -> None:
    futures = [any_executor.submit_after(delay, time.monotonic) for delay in (0.3, 0.1, 0.2)]
    times = [future.result(timeout=LONG) for future in futures]
    assert times[1] < times[2] < times[0]


def test_a_zero_delay_runs_at_once_and_args_and_kwargs_are_passed(
    any_executor: greenpool.Executor,
) -> None:
    future = any_executor.submit_after(0, divmod, 17, 5)
    assert future.result(timeout=LONG) == (3, 2)
    assert any_executor.submit_after(0, int, "ff", base=16).result(timeout=LONG) == 255


def test_a_delayed_call_that_raises_fails_its_future_and_counts_a_failure(
    any_executor: greenpool.Executor,
) -> None:
    future = any_executor.submit_after(0.01, int, "not a number")
    assert isinstance(future.exception(timeout=LONG), ValueError)
    stats = any_executor.statistics
    assert (stats.failures, stats.executed) == (1, 1)


def test_cancel_before_due_stops_it_and_counts_it_nowhere(
    any_executor: greenpool.Executor,
) -> None:
    # Half a second: room for a pause of the test's thread on a loaded machine
    # (one took over 50 ms between two lines) before the cancel.
    future = any_executor.submit_after(0.5, time.monotonic)
    assert future.cancel()
    assert future.cancelled()
    assert any_executor.statistics.scheduled == 0
    # Past its deadline, and after a later call, it has still not run.
    assert any_executor.submit_after(0.6, abs, -1).result(timeout=LONG) == 1
    stats = any_executor.statistics
    assert future.cancelled()
    assert (stats.submitted, stats.cancelled, stats.scheduled, stats.executed) == (1, 0, 0, 1)


def test_a_cancelled_call_never_runs() -> None:
    ran: list[int] = []
    executor = greenpool.ThreadPoolExecutor(2)
    future = executor.submit_after(0.5, ran.append, 1)  # Room for a pause before the cancel.
    assert future.cancel()
    executor.submit_after(0.6, ran.append, 2).result(timeout=LONG)
    executor.shutdown()
    assert ran == [2]


@pytest.mark.parametrize(
    ("delay", "error"),
    [
        (-1, ValueError),
        (-0.001, ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        ("1", TypeError),
        (None, TypeError),
        (True, TypeError),
    ],
)
def test_a_bad_delay_is_refused_at_the_call_and_changes_nothing(
    any_executor: greenpool.Executor, delay: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="delay"):
        any_executor.submit_after(delay, abs, -1)
    assert any_executor.statistics == greenpool.ExecutorStatistics()


def test_a_callable_that_is_not_callable_is_refused(any_executor: greenpool.Executor) -> None:
    with pytest.raises(TypeError, match="not callable"):
        any_executor.submit_after(0, "abs")  # type: ignore[arg-type]
    assert any_executor.statistics.scheduled == 0


def test_submit_after_after_shutdown_raises(any_executor: greenpool.Executor) -> None:
    any_executor.shutdown(wait=False)
    with pytest.raises(RuntimeError, match="shutdown"):
        any_executor.submit_after(0, abs, -1)
    assert any_executor.statistics.scheduled == 0


@pytest.mark.parametrize("kind", ["green", "thread", "dynamic", "synchronous"])
def test_check_and_reject_runs_when_the_call_falls_due_not_before(kind: str) -> None:
    refusing = threading.Event()
    seen: list[int] = []

    def check_and_reject(executor: greenpool.Executor, backlog: int) -> None:
        seen.append(backlog)
        if refusing.is_set():
            raise RejectedSubmission("full")

    executor = make_kind(kind, check_and_reject)
    # Due in a minute: no pause of the test's thread can let it fall due before
    # the check below (one of over 100 ms did in CI, with a call due in 0.1 s).
    never = executor.submit_after(60, abs, -1)
    assert seen == []  # Not at submit_after.
    assert never.cancel()
    refusing.set()
    future = executor.submit_after(0.1, abs, -1)
    with pytest.raises(RejectedSubmission, match="full"):
        future.result(timeout=LONG)
    stats = executor.statistics
    assert seen == [0]
    assert (stats.rejected, stats.submitted, stats.scheduled, stats.failures) == (1, 0, 0, 0)
    refusing.clear()
    assert executor.submit_after(0, abs, -2).result(timeout=LONG) == 2
    assert executor.statistics.submitted == 1
    executor.shutdown()


def test_a_check_and_reject_that_fails_otherwise_fails_the_future_uncounted() -> None:
    def check_and_reject(executor: greenpool.Executor, backlog: int) -> None:
        raise KeyError("broken policy")

    executor = greenpool.ThreadPoolExecutor(1, check_and_reject)
    future = executor.submit_after(0, abs, -1)
    assert isinstance(future.exception(timeout=LONG), KeyError)
    stats = executor.statistics
    assert (stats.rejected, stats.submitted, stats.scheduled) == (0, 0, 0)
    executor.shutdown()


def test_shutdown_with_cancel_futures_cancels_calls_not_yet_due(
    any_executor: greenpool.Executor,
) -> None:
    futures = [any_executor.submit_after(100.0, abs, -1) for _ in range(3)]
    started = time.monotonic()
    any_executor.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - started < LONG
    assert all(future.cancelled() for future in futures)
    stats = any_executor.statistics
    assert (stats.scheduled, stats.submitted, stats.cancelled) == (0, 0, 0)


def test_shutdown_waits_for_delayed_calls_to_fall_due_and_run(
    any_executor: greenpool.Executor,
) -> None:
    future = any_executor.submit_after(0.1, abs, -7)
    any_executor.shutdown(wait=True)
    assert future.done()
    assert future.result() == 7


def test_shutdown_without_wait_lets_delayed_calls_still_run(
    any_executor: greenpool.Executor,
) -> None:
    future = any_executor.submit_after(0.5, abs, -3)  # Not due before the check below.
    any_executor.shutdown(wait=False)
    assert not future.done()
    assert future.result(timeout=LONG) == 3
    any_executor.shutdown(wait=True)  # Returns: nothing is left.


def test_a_running_delayed_call_is_not_cancelled_by_shutdown() -> None:
    executor = greenpool.ThreadPoolExecutor(2)
    release = threading.Event()
    started = threading.Event()

    def hold() -> str:
        started.set()
        release.wait(LONG)
        return "done"

    future = executor.submit_after(0, hold)
    assert started.wait(LONG)
    assert future.running()
    release.set()
    executor.shutdown(wait=True, cancel_futures=True)
    assert future.result() == "done"


def test_green_delayed_calls_use_no_os_thread_and_do_not_block_the_hub() -> None:
    threads_before = thread_idents()
    executor = greenpool.GreenThreadPoolExecutor(4)
    futures = [executor.submit_after(0.01 * (i % 10), time.monotonic) for i in range(500)]
    assert thread_idents() - threads_before == set()  # No thread started.
    with Ticker() as ticker:
        ticks_before = ticker.ticks
        assert futures[-1].result(timeout=LONG) > 0
        greenpool.waiters.wait_for_all(futures, timeout=LONG)
        assert ticker.ticks > ticks_before
    assert all(future.done() for future in futures)
    assert thread_idents() - threads_before == set()
    executor.shutdown()


def test_a_thread_pool_keeps_every_delayed_call_on_one_timer_thread() -> None:
    executor = greenpool.ThreadPoolExecutor(2, name="one-timer")
    futures = [executor.submit_after(0.2 + i / 10_000, abs, -i) for i in range(1_000)]
    timer_threads = [t for t in threading.enumerate() if t.name == "one-timer_delayed"]
    assert len(timer_threads) == 1
    assert timer_threads[0].daemon
    assert executor.statistics.scheduled == 1_000
    concurrent.futures.wait(futures, timeout=LONG)
    assert [future.result() for future in futures] == list(range(1_000))
    executor.shutdown()
    timer_threads[0].join(LONG)
    assert not timer_threads[0].is_alive()


def test_a_green_executor_takes_delayed_calls_from_another_os_thread() -> None:
    executor = greenpool.GreenThreadPoolExecutor(2)
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(executor.submit_after(0.05, time.time)))
    thread.start()
    thread.join(LONG)
    future = box[0]
    eventually(future.done)
    assert future.result() > 0
    executor.shutdown()


def test_a_delayed_call_runs_even_if_its_executor_is_dropped() -> None:
    executor = greenpool.ThreadPoolExecutor(1)
    future = executor.submit_after(0.05, abs, -5)
    del executor
    import gc

    gc.collect()
    assert future.result(timeout=LONG) == 5


def test_done_callbacks_run_once_for_delayed_calls(any_executor: greenpool.Executor) -> None:
    calls: list[Any] = []
    done = any_executor.submit_after(0.01, abs, -1)
    cancelled = any_executor.submit_after(100.0, abs, -1)
    done.add_done_callback(calls.append)
    cancelled.add_done_callback(calls.append)
    cancelled.cancel()
    done.result(timeout=LONG)
    if isinstance(any_executor, greenpool.GreenThreadPoolExecutor):
        eventually(lambda: len(calls) == 2)
    else:
        deadline = time.monotonic() + LONG
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
    assert sorted(map(id, calls)) == sorted([id(done), id(cancelled)])


def test_statistics_scheduled_is_in_as_dict() -> None:
    executor = greenpool.SynchronousExecutor()
    executor.submit_after(100.0, abs, -1)
    assert executor.statistics.as_dict()["scheduled"] == 1
    executor.shutdown(cancel_futures=True)


def test_interpreter_exit_cancels_delayed_calls_not_yet_due(python: Any) -> None:
    done = python(
        """
        import time, greenpool
        for kind in (greenpool.ThreadPoolExecutor, greenpool.GreenThreadPoolExecutor,
                     greenpool.SynchronousExecutor):
            executor = kind()
            executor.submit_after(3600, print, "never")
            executor.submit_after(0, print, kind.__name__)
        time.sleep(0.2)
        print("exiting", flush=True)
        """,
        30.0,
    )
    assert done.returncode == 0, done.stderr
    assert "never" not in done.stdout
    assert "exiting" in done.stdout


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=12), st.data())
def test_the_statistics_add_up_whatever_is_cancelled(delays_ms: list[int], data: Any) -> None:
    # One worker: calls then run in the order they fell due, which the last
    # check relies on. With several, two calls due 2 ms apart go to two
    # threads, and the OS may run the later one's thread first: an order the
    # executor never promised.
    executor = greenpool.ThreadPoolExecutor(1)
    futures = []
    # Each deadline counts from its own submit_after, somewhere between these
    # two clock readings (the first one also starts the alarm thread, which
    # can take milliseconds on a loaded machine).
    due_between = []
    for ms in delays_ms:
        before = time.monotonic()
        futures.append(executor.submit_after(ms / 1000, time.monotonic))
        due_between.append((before + ms / 1000, time.monotonic() + ms / 1000))
    to_cancel = data.draw(st.sets(st.sampled_from(range(len(futures)))))
    cancelled = {index for index in to_cancel if futures[index].cancel()}
    stats = executor.statistics
    assert invariant_holds(stats)
    # A call cancelled once due counts as submitted and cancelled; before, nowhere.
    assert stats.cancelled <= len(cancelled)
    assert stats.scheduled + stats.submitted - stats.cancelled == len(futures) - len(cancelled)
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert stats.scheduled == 0
    assert stats.executed == stats.submitted - stats.cancelled == len(futures) - len(cancelled)
    assert invariant_holds(stats)
    ran = [(due_between[i], f.result()) for i, f in enumerate(futures) if i not in cancelled]
    # A call certainly due before another (its latest possible deadline before
    # the other's earliest) fell due first, so ran first on the one worker.
    for (due_a, at_a), (due_b, at_b) in itertools.permutations(ran, 2):
        if due_a[1] < due_b[0]:
            assert at_a <= at_b, (due_a, at_a, due_b, at_b)


def make_kind(kind: str, check_and_reject: Any = None) -> greenpool.Executor:
    if kind == "green":
        return greenpool.GreenThreadPoolExecutor(2, check_and_reject)
    if kind == "thread":
        return greenpool.ThreadPoolExecutor(2, check_and_reject)
    if kind == "dynamic":
        return greenpool.DynamicThreadPoolExecutor(2, check_and_reject)
    return greenpool.SynchronousExecutor(check_and_reject=check_and_reject)


class _ComposedThread(greenpool.DelayedExecutorMixin, greenpool.ThreadPoolExecutor):
    pass


class _ComposedGreen(greenpool.GreenDelayedExecutorMixin, greenpool.GreenThreadPoolExecutor):
    pass


@pytest.mark.parametrize("cls", [_ComposedThread, _ComposedGreen])
def test_futurist_style_composition_gains_a_working_submit_after(cls: type[Any]) -> None:
    executor = cls(max_workers=2)
    assert isinstance(executor, greenpool.Executor)
    assert executor.submit_after(0.01, abs, -4).result(timeout=LONG) == 4
    tasks = [executor.Task(abs, (), {}, None, delay) for delay in (3, 1, 2)]
    assert [task.deadline for task in sorted(tasks)] == sorted(task.deadline for task in tasks)
    executor.shutdown()


def test_a_mixin_composed_with_a_stdlib_executor_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match="greenpool executors"):

        class _Broken(greenpool.DelayedExecutorMixin, concurrent.futures.ThreadPoolExecutor):
            pass


def test_eventlet_sleep_is_not_needed_for_green_delayed_calls_from_the_main_thread() -> None:
    executor = greenpool.GreenThreadPoolExecutor(1)
    future = executor.submit_after(0.02, eventlet.sleep, 0)
    assert future.result(timeout=LONG) is None
    executor.shutdown()


class _Traced(greenpool.ThreadPoolExecutor):
    """A subclass that overrides submit, as services do to add context or tracing."""

    def __init__(self) -> None:
        super().__init__(1)
        self.seen: list[Any] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.seen.append(fn)
        return super().submit(fn, *args, **kwargs)


def test_delayed_calls_go_through_an_overridden_submit() -> None:
    executor = _Traced()
    future = executor.submit_after(0.01, abs, -6)
    assert future.result(timeout=LONG) == 6
    assert executor.seen == [abs]
    stats = executor.statistics
    assert (stats.submitted, stats.executed, stats.scheduled) == (1, 1, 0)
    executor.shutdown()


def test_a_submit_patched_on_the_instance_that_raises_fails_the_delayed_call() -> None:
    executor = greenpool.ThreadPoolExecutor(1)

    def broken_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected dispatch failure")

    executor.submit = broken_submit  # type: ignore[method-assign]
    future = executor.submit_after(0, abs, -1)
    error = future.exception(timeout=LONG)
    assert isinstance(error, RuntimeError)
    assert "injected" in str(error)
    assert executor.statistics.scheduled == 0
    del executor.submit
    executor.shutdown()


def test_a_delayed_call_whose_overridden_submit_is_cancelled_reports_cancelled() -> None:
    executor = _Traced()
    release = threading.Event()
    executor.submit(release.wait, LONG)  # Occupies the only thread.
    future = executor.submit_after(0, abs, -1)
    eventually_native(lambda: len(executor.seen) == 2)
    assert future.running()  # Handed over: its inner call waits behind the first.
    executor.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert isinstance(future.exception(timeout=LONG), concurrent.futures.CancelledError)
    executor.shutdown(wait=True)


def eventually_native(predicate: Any) -> None:
    deadline = time.monotonic() + LONG
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_shutdown_does_not_wait_for_a_delayed_call_cancelled_before(
    any_executor: greenpool.Executor,
) -> None:
    quick = any_executor.submit_after(0.05, abs, -1)
    slow = any_executor.submit_after(100.0, abs, -2)
    assert slow.cancel()
    assert quick.result(timeout=LONG) == 1
    started = time.monotonic()
    any_executor.shutdown(wait=True)
    assert time.monotonic() - started < LONG / 2
    assert slow.cancelled()


def test_shutdown_stops_waiting_once_the_delayed_calls_it_waits_for_are_cancelled() -> None:
    executor = greenpool.ThreadPoolExecutor(1)
    slow = executor.submit_after(100.0, abs, -2)
    threading.Timer(0.1, slow.cancel).start()
    started = time.monotonic()
    executor.shutdown(wait=True)
    assert time.monotonic() - started < LONG / 2
    assert slow.cancelled()
    assert executor.statistics.scheduled == 0


@pytest.mark.parametrize("kind", ["green", "thread", "synchronous"])
def test_a_callback_of_a_call_refused_when_due_may_submit_again(kind: str) -> None:
    refusing = [True]

    def check_and_reject(executor: greenpool.Executor, backlog: int) -> None:
        if refusing[0]:
            raise RejectedSubmission("full")

    executor = make_kind(kind, check_and_reject)
    retried: list[Any] = []

    def retry(refused: Any) -> None:
        refusing[0] = False
        retried.append(executor.submit(abs, -9))  # Under the submit lock, this would hang.

    future = executor.submit_after(0, abs, -1)
    future.add_done_callback(retry)
    with pytest.raises(RejectedSubmission):
        future.result(timeout=LONG)
    if kind == "green":
        eventually(lambda: bool(retried))
    else:
        eventually_native(lambda: bool(retried))
    assert retried[0].result(timeout=LONG) == 9
    executor.shutdown()
