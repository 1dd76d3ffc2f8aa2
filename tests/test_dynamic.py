"""DynamicThreadPoolExecutor: grows and shrinks by the share of busy threads; idle_timeout."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any

import pytest
from helpers import thread_idents
from hypothesis import given, settings
from hypothesis import strategies as st

import greenpool
from greenpool import DynamicThreadPoolExecutor, RejectedSubmission, rejection

pytestmark = pytest.mark.core

LONG = 10.0


def wait_until(predicate: Any, timeout: float = LONG) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


def test_a_new_pool_has_no_threads_and_sequential_calls_use_one() -> None:
    executor = DynamicThreadPoolExecutor(max_workers=3)
    assert (executor.num_workers, executor.idle_workers, executor.queue_size) == (0, 0, 0)
    for _ in range(10):
        executor.submit(lambda: None).result(timeout=LONG)
    assert executor.num_workers == 1
    wait_until(lambda: executor.get_num_idle_workers() == 1)
    executor.shutdown()


def test_it_grows_to_max_workers_under_load_and_maintain_shrinks_it_to_min() -> None:
    executor = DynamicThreadPoolExecutor(max_workers=10)
    started = threading.Barrier(11, timeout=LONG)
    done = threading.Event()

    def task() -> None:
        started.wait()
        done.wait(LONG)

    futures = [executor.submit(task) for _ in range(10)]
    started.wait()
    assert (executor.num_workers, executor.idle_workers, executor.queue_size) == (10, 0, 0)
    assert executor.statistics.running == 10
    done.set()
    concurrent.futures.wait(futures, timeout=LONG)
    wait_until(lambda: executor.idle_workers == 10)
    executor.maintain()
    assert (executor.num_workers, executor.idle_workers) == (1, 1)
    executor.shutdown()


def test_submits_shrink_an_idle_pool_one_thread_each() -> None:
    # shrink_after=0: a submit that finds the pool idle stops a thread, as futurist's does.
    executor = DynamicThreadPoolExecutor(max_workers=6, min_workers=2, shrink_after=0)
    release = threading.Event()
    futures = [executor.submit(release.wait, LONG) for _ in range(6)]
    wait_until(lambda: executor.statistics.running == 6)
    assert executor.num_workers == 6
    release.set()
    concurrent.futures.wait(futures, timeout=LONG)
    wait_until(lambda: executor.idle_workers == 6)
    for _ in range(6):
        executor.submit(lambda: None).result(timeout=LONG)
    wait_until(lambda: executor.num_workers == 2)
    executor.shutdown()
    assert executor.statistics.executed == 12


def test_a_pool_idle_for_less_than_shrink_after_keeps_its_threads() -> None:
    executor = DynamicThreadPoolExecutor(max_workers=4, shrink_after=3600)
    release = threading.Event()
    futures = [executor.submit(release.wait, LONG) for _ in range(4)]
    wait_until(lambda: executor.statistics.running == 4)
    release.set()
    concurrent.futures.wait(futures, timeout=LONG)
    wait_until(lambda: executor.idle_workers == 4)
    for _ in range(20):
        executor.submit(lambda: None).result(timeout=LONG)
    assert executor.num_workers == 4
    executor.shutdown()


def test_a_burst_of_short_calls_does_not_start_and_stop_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts = [0]
    original_start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        starts[0] += 1
        original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    executor = DynamicThreadPoolExecutor(max_workers=8)
    futures = [executor.submit(abs, -i) for i in range(20_000)]
    assert [f.result(timeout=LONG) for f in futures] == list(range(20_000))
    executor.shutdown()
    assert starts[0] <= 8


def test_maintain_starts_min_workers_and_grows_while_the_busy_share_is_high() -> None:
    executor = DynamicThreadPoolExecutor(min_workers=5, max_workers=20)
    executor.maintain()
    assert (executor.num_workers, executor.idle_workers) == (5, 5)
    executor.shutdown()
    executor = DynamicThreadPoolExecutor(max_workers=20)
    release = threading.Event()
    futures = [executor.submit(release.wait, LONG) for _ in range(8)]
    wait_until(lambda: executor.statistics.running == 8)
    executor.maintain()
    # Grown until the busy share is below grow_threshold (0.8): 8 of 10 is not, 8 of 11 is.
    assert executor.num_workers == 11
    assert executor.idle_workers == 3
    release.set()
    concurrent.futures.wait(futures, timeout=LONG)
    executor.shutdown()


def test_idle_threads_exit_on_their_own_after_idle_timeout() -> None:
    executor = DynamicThreadPoolExecutor(max_workers=8, min_workers=2, idle_timeout=0.05)
    release = threading.Event()
    futures = [executor.submit(release.wait, LONG) for _ in range(8)]
    wait_until(lambda: executor.statistics.running == 8)
    assert executor.num_workers == 8
    release.set()
    concurrent.futures.wait(futures, timeout=LONG)
    wait_until(lambda: executor.num_workers == 2)
    time.sleep(0.2)  # Several timeouts more: the minimum stays.
    assert (executor.num_workers, executor.idle_workers) == (2, 2)
    # The survivors still run calls.
    assert executor.submit(abs, -3).result(timeout=LONG) == 3
    executor.shutdown()


def test_shutdown_waits_for_queued_calls() -> None:
    results: list[int] = []
    lock = threading.Lock()

    def slow(task_id: int) -> None:
        time.sleep(0.05)
        with lock:
            results.append(task_id)

    executor = DynamicThreadPoolExecutor(max_workers=2, min_workers=1)
    for i in range(5):
        executor.submit(slow, i)
    executor.shutdown(wait=True)
    assert sorted(results) == list(range(5))
    assert executor.num_workers == 0


def test_shutdown_with_cancel_futures_cancels_queued_calls() -> None:
    executor = DynamicThreadPoolExecutor(max_workers=2)
    release = threading.Event()
    running = [executor.submit(release.wait, LONG) for _ in range(2)]
    queued = [executor.submit(abs, -1) for _ in range(5)]
    wait_until(lambda: executor.statistics.running == 2)
    release.set()
    executor.shutdown(wait=True, cancel_futures=True)
    assert all(f.result() for f in running)
    stats = executor.statistics
    assert stats.cancelled + stats.executed == 7
    assert sum(f.cancelled() for f in queued) == stats.cancelled


def test_backlog_and_rejection_mean_what_they_mean_everywhere() -> None:
    executor = DynamicThreadPoolExecutor(
        max_workers=2, check_and_reject=rejection.reject_when_reached(1)
    )
    release = threading.Event()
    for _ in range(2):
        executor.submit(release.wait, LONG)
    executor.submit(abs, -1)  # backlog 0 -> accepted, queued: backlog is now 1.
    assert executor.backlog == 1
    with pytest.raises(RejectedSubmission):
        executor.submit(abs, -1)
    assert executor.statistics.rejected == 1
    release.set()
    executor.shutdown()
    stats = executor.statistics
    assert (stats.submitted, stats.executed) == (3, 3)


def test_its_threads_are_real_os_threads_under_monkey_patching(python: Any) -> None:
    done = python(
        """
        import eventlet
        eventlet.monkey_patch()
        from eventlet import patcher
        import greenpool
        real_threading = patcher.original("threading")
        executor = greenpool.DynamicThreadPoolExecutor(max_workers=4, idle_timeout=0.05)
        idents = set(executor.map(lambda _: real_threading.get_ident(), range(8)))
        assert real_threading.get_ident() not in idents, idents
        executor.shutdown()
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"min_workers": 0}, ValueError, "min_workers must be greater than zero"),
        ({"min_workers": -1}, ValueError, "min_workers must be greater than zero"),
        ({"min_workers": 1.5}, TypeError, "min_workers must be an int"),
        ({"max_workers": 2, "min_workers": 2}, ValueError, "less than max_workers"),
        ({"min_workers": 1_000}, ValueError, "less than max_workers"),
        ({"grow_threshold": 0}, ValueError, r"grow_threshold must be within \(0, 1\]"),
        ({"grow_threshold": 1.5}, ValueError, r"grow_threshold must be within \(0, 1\]"),
        ({"shrink_threshold": -0.1}, ValueError, r"shrink_threshold must be within \[0, 1\)"),
        ({"shrink_threshold": 1.0}, ValueError, r"shrink_threshold must be within \[0, 1\)"),
        ({"grow_threshold": 0.5, "shrink_threshold": 0.5}, ValueError, "less than grow"),
        ({"grow_threshold": "0.8"}, TypeError, "grow_threshold must be a number"),
        ({"idle_timeout": 0}, ValueError, "idle_timeout"),
        ({"shrink_after": -1}, ValueError, "shrink_after"),
        ({"shrink_after": float("inf")}, ValueError, "shrink_after"),
        ({"shrink_after": None}, TypeError, "shrink_after"),
        ({"idle_timeout": "1"}, TypeError, "idle_timeout"),
        ({"max_workers": 0}, ValueError, "max_workers"),
    ],
)
def test_bad_configuration_is_refused_at_construction(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    threads_before = thread_idents()
    with pytest.raises(error, match=message):
        DynamicThreadPoolExecutor(**kwargs)
    assert thread_idents() - threads_before == set()  # No thread started.


def test_it_is_a_thread_pool_with_every_executor_s_api() -> None:
    executor = DynamicThreadPoolExecutor(4, name="dyn")
    assert isinstance(executor, greenpool.ThreadPoolExecutor)
    assert executor.name == "dyn"
    assert list(executor.map(abs, [-1, -2, -3])) == [1, 2, 3]
    assert executor.submit_after(0.01, abs, -4).result(timeout=LONG) == 4
    executor.shutdown()
    assert not executor.alive


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.sampled_from(["quick", "block", "maintain", "release"]), min_size=1, max_size=25),
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=2, max_value=6),
)
def test_the_thread_count_stays_within_its_bounds(
    steps: list[str], min_workers: int, extra: int
) -> None:
    max_workers = min_workers + extra
    executor = DynamicThreadPoolExecutor(max_workers=max_workers, min_workers=min_workers)
    release = threading.Event()
    futures = []
    for step in steps:
        if step == "quick":
            futures.append(executor.submit(abs, -1))
        elif step == "block":
            futures.append(executor.submit(release.wait, LONG))
        elif step == "maintain":
            executor.maintain()
            assert executor.num_workers >= min_workers
        else:
            release.set()
            release = threading.Event()
        assert 0 <= executor.idle_workers <= executor.num_workers <= max_workers
        stats = executor.statistics
        assert stats.submitted == stats.executed + stats.cancelled + stats.pending + stats.running
    release.set()
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert stats.executed == len(futures) == stats.submitted
    assert executor.num_workers == 0
