"""ThreadPoolExecutor: real threads, reused when idle, no polling, the base's contract.

Calls that must stay running are blocked on a ``threading.Event`` (the
``gate`` fixture), never on a sleep, so what each test sees is decided by
the test and not by the scheduler. Fresh interpreters (``run_python``) cover
monkey patching, interpreter exit and futurist's deadlock.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import gc
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import run_python
from greenlet import GreenletExit
from hypothesis import given, settings
from hypothesis import strategies as st

import greenpool
from greenpool import _native, rejection
from greenpool.thread import BrokenThreadPool, ThreadPoolExecutor


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` (for state a worker reaches just after resolving a future)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Blocks calls until the test sets it; always set at teardown."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def make_executor(gate: threading.Event) -> Iterator[Callable[..., ThreadPoolExecutor]]:
    """Creates executors that are shut down, gate opened first, whatever the test did."""
    made: list[ThreadPoolExecutor] = []

    def make(*args: Any, **kwargs: Any) -> ThreadPoolExecutor:
        executor = ThreadPoolExecutor(*args, **kwargs)
        made.append(executor)
        return executor

    yield make
    gate.set()
    for executor in made:
        executor.shutdown(wait=True, cancel_futures=True)


def gated(gate: threading.Event, started: threading.Event | None = None) -> Callable[[], str]:
    """A call that returns its thread's name once ``gate`` is set."""

    def call() -> str:
        if started is not None:
            started.set()
        assert gate.wait(10)
        return threading.current_thread().name

    return call


# -- construction ----------------------------------------------------------


@pytest.mark.core
def test_default_max_workers_is_the_stdlibs(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    assert make_executor().max_workers == min(32, (os.cpu_count() or 1) + 4)


@pytest.mark.core
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_workers": 0}, ValueError),
        ({"max_workers": "2"}, TypeError),
        ({"check_and_reject": 5}, TypeError),
        ({"initializer": "not callable"}, TypeError),
        ({"initargs": 5}, TypeError),
        ({"initargs": "ab"}, TypeError),
        ({"thread_name_prefix": 3}, TypeError),
        ({"name": 3}, TypeError),
    ],
)
def test_bad_arguments_fail_at_the_call(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        ThreadPoolExecutor(**kwargs)


# -- running calls ---------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(10)
def test_returns_greenpool_futures_with_results_and_exceptions(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    executor = make_executor(2)
    ok = executor.submit(pow, 2, 10)
    failed = executor.submit(int, "x")
    assert type(ok) is greenpool.WorkItem  # A greenpool.Future, as from every executor.
    assert isinstance(ok, greenpool.Future)
    assert ok.result(5) == 1024
    with pytest.raises(ValueError):
        failed.result(5)
    done, _ = concurrent.futures.wait([ok, failed], timeout=5)
    assert done == {ok, failed}


@pytest.mark.core
@pytest.mark.timeout(10)
def test_calls_run_on_named_worker_threads(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    prefixed = make_executor(2, thread_name_prefix="io")
    named = make_executor(1, name="db")
    first, second = prefixed.submit(gated(gate)), prefixed.submit(gated(gate))
    third = named.submit(threading.current_thread)
    gate.set()
    assert {first.result(5), second.result(5)} == {"io_0", "io_1"}
    assert third.result(5).name == "db_0"
    assert third.result(5) is not threading.current_thread()


@pytest.mark.core
@pytest.mark.timeout(10)
def test_sequential_calls_reuse_an_idle_thread(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    executor = make_executor(8)
    idents = {executor.submit(threading.get_ident).result(5) for _ in range(10)}
    # One thread, or two if a submit beat the first worker back to idle.
    assert len(idents) <= 2
    assert executor.num_workers <= 2


@pytest.mark.core
@pytest.mark.timeout(10)
def test_a_thread_is_started_only_when_every_worker_is_busy(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    executor = make_executor(4)
    first_gate, second_gate = threading.Event(), threading.Event()
    first = executor.submit(gated(first_gate))
    executor.submit(gated(first_gate))
    assert executor.num_workers == 2
    first_gate.set()
    first.result(5)
    wait_until(lambda: executor.get_num_idle_workers() == 2)

    executor.submit(gated(second_gate))
    executor.submit(gated(second_gate))
    assert executor.num_workers == 2  # Both idle threads were reused.
    assert executor.get_num_idle_workers() == 0
    executor.submit(gated(second_gate))
    assert executor.num_workers == 3
    second_gate.set()


@pytest.mark.core
@pytest.mark.timeout(10)
def test_calls_beyond_max_workers_wait_in_the_queue(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    executor = make_executor(2)
    started = [threading.Event(), threading.Event()]
    futures = [executor.submit(gated(gate, started[i])) for i in range(2)]
    futures += [executor.submit(gated(gate)) for _ in range(3)]
    for event in started:
        assert event.wait(5)
    assert executor.num_workers == 2
    assert executor.queue_size == 3
    assert executor.backlog == 3
    gate.set()
    assert len({future.result(5) for future in futures}) == 2


@pytest.mark.core
@pytest.mark.timeout(10)
def test_greenlet_exit_from_a_call_does_not_end_its_thread(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    def raise_greenlet_exit() -> None:
        raise GreenletExit

    executor = make_executor(1)
    assert isinstance(executor.submit(raise_greenlet_exit).exception(5), GreenletExit)
    assert executor.submit(lambda: 42).result(5) == 42
    assert executor.num_workers == 1


@pytest.mark.core
@pytest.mark.timeout(10)
def test_a_thread_that_cannot_start_leaves_the_call_to_the_others(
    make_executor: Callable[..., ThreadPoolExecutor],
    gate: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Unstartable(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    class Threading:
        Thread = Unstartable

    executor = make_executor(4)
    running = threading.Event()
    first = executor.submit(gated(gate, running))
    assert running.wait(5)
    monkeypatch.setattr(_native, "threading_module", lambda: Threading)
    second = executor.submit(lambda: "ran by the existing thread")
    assert executor.num_workers == 1
    gate.set()
    assert first.result(5) == f"{executor.name}_0"
    assert second.result(5) == "ran by the existing thread"

    empty = make_executor(4)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        empty.submit(print)
    assert empty.statistics.submitted == 0
    assert empty.num_workers == 0


# -- statistics and rejection ------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(10)
def test_check_and_reject_sees_the_backlog(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    seen: list[int] = []
    executor = make_executor(2, lambda executor, backlog: seen.append(backlog))
    for _ in range(5):
        executor.submit(gated(gate))
    assert seen == [0, 0, 0, 1, 2]


@pytest.mark.core
@pytest.mark.timeout(10)
def test_rejected_submissions_are_counted_and_not_run(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    executor = make_executor(1, rejection.reject_when_reached(1))
    executor.submit(gated(gate))
    executor.submit(gated(gate))  # Backlog 0: accepted, queued.
    with pytest.raises(greenpool.RejectedSubmission):
        executor.submit(gated(gate))
    stats = executor.statistics
    assert (stats.submitted, stats.rejected) == (2, 1)


@pytest.mark.core
@pytest.mark.timeout(10)
def test_statistics_count_failures_and_cancellations(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    executor = make_executor(1)
    blocker = executor.submit(gated(gate))
    queued = executor.submit(print)
    failing = executor.submit(int, "x")
    assert queued.cancel()
    stats = executor.statistics
    assert (stats.submitted, stats.cancelled, stats.pending + stats.running) == (3, 1, 2)
    gate.set()
    blocker.result(5)
    failing.exception(5)
    stats = executor.statistics
    assert (stats.executed, stats.failures, stats.cancelled, stats.pending) == (2, 1, 1, 0)


@pytest.mark.core
@pytest.mark.timeout(10)
def test_wait_time_is_kept_apart_from_runtime(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    executor = make_executor(1)
    executor.submit(gated(gate))
    quick = executor.submit(lambda: None)
    time.sleep(0.2)  # quick waits behind the gated call at least this long.
    gate.set()
    quick.result(5)
    stats = executor.statistics
    assert stats.max_wait_time >= 0.15
    assert stats.max_runtime >= 0.15  # The gated call.
    # The median of two is quick's own runtime: its time in the queue is not in it.
    assert stats.runtime_p50 < 0.1


@pytest.mark.core
@pytest.mark.timeout(40)
@settings(max_examples=25, deadline=None)
@given(
    max_workers=st.integers(1, 4),
    plans=st.lists(
        st.lists(st.sampled_from(["ok", "fail", "sleep", "cancel"]), max_size=12),
        min_size=1,
        max_size=6,
    ),
)
def test_statistics_add_up_under_concurrent_submits(
    max_workers: int, plans: list[list[str]]
) -> None:
    calls: dict[str, Callable[[], object]] = {
        "ok": lambda: None,
        "fail": lambda: 1 / 0,
        "sleep": lambda: time.sleep(0.001),
        "cancel": lambda: time.sleep(0.001),
    }
    executor = ThreadPoolExecutor(max_workers)
    broken_snapshots: list[greenpool.ExecutorStatistics] = []
    snapshots = 0
    watching = True

    def watch() -> None:
        nonlocal snapshots
        while watching:
            stats = executor.statistics
            snapshots += 1
            if stats.submitted != stats.executed + stats.cancelled + stats.pending + stats.running:
                broken_snapshots.append(stats)

    barrier = threading.Barrier(len(plans))

    def submit_all(plan: list[str]) -> None:
        barrier.wait()
        for kind in plan:
            future = executor.submit(calls[kind])
            if kind == "cancel":
                future.cancel()

    watcher = threading.Thread(target=watch)
    watcher.start()
    submitters = [threading.Thread(target=submit_all, args=(plan,)) for plan in plans]
    for thread in submitters:
        thread.start()
    for thread in submitters:
        thread.join()
    executor.shutdown(wait=True)
    watching = False
    watcher.join()

    assert snapshots > 0
    assert broken_snapshots == []
    total = sum(len(plan) for plan in plans)
    stats = executor.statistics
    assert stats.submitted == total
    assert stats.executed + stats.cancelled == total
    assert stats.failures == sum(plan.count("fail") for plan in plans)
    assert stats.cancelled <= sum(plan.count("cancel") for plan in plans)
    assert (stats.pending, stats.running) == (0, 0)
    assert executor.num_workers == 0


# -- map ---------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(10)
def test_map_keeps_input_order(make_executor: Callable[..., ThreadPoolExecutor]) -> None:
    executor = make_executor(4)

    def slower_first(x: int) -> int:
        time.sleep((8 - x) * 0.002)
        return x * x

    assert list(executor.map(slower_first, range(8))) == [x * x for x in range(8)]


@pytest.mark.core
@pytest.mark.timeout(10)
def test_map_is_lazy_and_takes_endless_input(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    executor = make_executor(2)
    consumed = 0

    def numbers() -> Iterator[int]:
        nonlocal consumed
        for number in itertools.count():
            consumed += 1
            yield number

    results = executor.map(str, numbers())
    assert consumed <= 4  # 2 * max_workers in flight.
    assert list(itertools.islice(results, 10)) == [str(n) for n in range(10)]
    assert consumed <= 14
    results.close()  # type: ignore[attr-defined]


# -- shutdown ----------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(10)
def test_shutdown_runs_queued_calls_then_joins_every_thread(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    executor = make_executor(3)
    threads = [executor.submit(threading.current_thread) for _ in range(9)]
    slow = [executor.submit(time.sleep, 0.01) for _ in range(6)]
    executor.shutdown(wait=True)
    assert all(future.done() for future in slow)
    assert not any(future.result().is_alive() for future in threads)
    assert executor.num_workers == 0
    assert not executor.alive
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(print)


@pytest.mark.core
@pytest.mark.timeout(10)
def test_idle_pool_shuts_down_promptly(make_executor: Callable[..., ThreadPoolExecutor]) -> None:
    executor = make_executor(4)
    gate = threading.Event()
    futures = [executor.submit(gated(gate)) for _ in range(4)]
    gate.set()
    threads = {future.result(5) for future in futures}
    assert len(threads) == 4
    wait_until(lambda: executor.get_num_idle_workers() == 4)
    started = time.monotonic()
    executor.shutdown(wait=True)
    # Correctness bound, not a benchmark: a worker polling once a second would miss it.
    assert time.monotonic() - started < 0.5
    assert executor.num_workers == 0
    assert not threads & {thread.name for thread in threading.enumerate()}


@pytest.mark.core
@pytest.mark.timeout(10)
def test_shutdown_cancel_futures_cancels_only_queued_calls(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    executor = make_executor(1)
    running = threading.Event()
    first = executor.submit(gated(gate, running))
    queued = [executor.submit(print) for _ in range(3)]
    assert running.wait(5)
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(future.cancelled() for future in queued)
    gate.set()
    executor.shutdown(wait=True)
    assert first.result() == f"{executor.name}_0"
    stats = executor.statistics
    assert (stats.executed, stats.cancelled, stats.pending) == (1, 3, 0)


@pytest.mark.core
@pytest.mark.timeout(10)
def test_shutdown_from_inside_a_call_waits_for_the_others_only(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    executor = make_executor(2)
    other_done = threading.Event()

    def other() -> None:
        assert gate.wait(5)
        time.sleep(0.05)
        other_done.set()

    def shut_down_here() -> bool:
        gate.set()
        executor.shutdown(wait=True)
        return other_done.is_set()

    executor.submit(other)
    assert executor.submit(shut_down_here).result(5) is True
    executor.shutdown(wait=True)
    assert executor.num_workers == 0


@pytest.mark.core
@pytest.mark.timeout(20)
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_shutting_their_pool_down_at_once_all_return(
    make_executor: Callable[..., ThreadPoolExecutor], workers: int
) -> None:
    # Each used to wait until at most one thread (itself) was left: each
    # waited for the others, for ever.
    executor = make_executor(workers)
    barrier = threading.Barrier(workers, timeout=10)

    def call(i: int) -> int:
        barrier.wait()
        executor.shutdown(wait=True)
        return i

    futures = [executor.submit(call, i) for i in range(workers)]
    done, not_done = greenpool.waiters.wait_for_all(futures, timeout=10)
    assert not not_done
    assert sorted(f.result() for f in done) == list(range(workers))
    executor.shutdown(wait=True)
    assert executor.num_workers == 0


@pytest.mark.core
@pytest.mark.timeout(20)
def test_workers_shutting_down_together_still_wait_for_one_that_is_not(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    executor = make_executor(3)
    slow_done = threading.Event()

    def slow() -> None:
        assert gate.wait(10)
        slow_done.set()

    barrier = threading.Barrier(2, timeout=10)
    inside = threading.Semaphore(0)

    def quit_together() -> bool:
        barrier.wait()
        inside.release()
        executor.shutdown(wait=True)
        return slow_done.is_set()

    executor.submit(slow)
    quitters = [executor.submit(quit_together) for _ in range(2)]
    assert inside.acquire(timeout=10) and inside.acquire(timeout=10)
    assert not any(f.done() for f in quitters)
    gate.set()
    assert [f.result(timeout=10) for f in quitters] == [True, True]


@pytest.mark.core
@pytest.mark.timeout(10)
def test_a_call_submitting_during_shutdown_gets_runtime_error(
    make_executor: Callable[..., ThreadPoolExecutor],
) -> None:
    executor = make_executor(2)
    started = threading.Event()

    def submit_once_shutting_down() -> str:
        started.set()
        wait_until(lambda: not executor.alive)
        try:
            executor.submit(print)
        except RuntimeError as exc:
            return str(exc)
        return "accepted"

    future = executor.submit(submit_once_shutting_down)
    assert started.wait(5)
    executor.shutdown(wait=True)
    assert future.result() == "cannot schedule new futures after shutdown"


SUBMIT_DURING_SHUTDOWN = """
import threading, time
from {module} import ThreadPoolExecutor

executor = ThreadPoolExecutor(2)
started = threading.Event()

def call():
    started.set()
    while executor.alive:
        time.sleep(0.001)
    print("submitting during shutdown", flush=True)
    try:
        executor.submit(print)
    except RuntimeError:
        print("RuntimeError", flush=True)

executor.submit(call)
started.wait()
executor.shutdown(wait=True)
print("shutdown returned", flush=True)
"""


@pytest.mark.timeout(30)
def test_futurist_deadlocks_where_greenpool_raises() -> None:
    # futurist's shutdown holds the submit lock while it waits for the queue
    # to drain, so the running call's submit never gets the lock.
    with pytest.raises(subprocess.TimeoutExpired) as info:
        run_python(SUBMIT_DURING_SHUTDOWN.format(module="futurist"), 5.0)
    output = info.value.stdout or b""
    text = output.decode() if isinstance(output, bytes) else output
    assert "submitting during shutdown" in text
    assert "shutdown returned" not in text

    done = run_python(SUBMIT_DURING_SHUTDOWN.format(module="greenpool.thread"), 20.0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[1:3] == ["RuntimeError", "shutdown returned"]


@pytest.mark.core
@pytest.mark.timeout(20)
def test_exit_without_shutdown_finishes_queued_calls() -> None:
    done = run_python(
        """
        import time
        from greenpool.thread import ThreadPoolExecutor

        executor = ThreadPoolExecutor(1)
        idle = ThreadPoolExecutor(2)
        idle.submit(print, "idle pool used").result()
        for i in range(3):
            executor.submit(lambda i=i: (time.sleep(0.02), print("ran", i, flush=True)))
        """,
        15.0,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["idle", "pool", "used", "ran", "0", "ran", "1", "ran", "2"]


@pytest.mark.core
@pytest.mark.timeout(10)
def test_a_dropped_executor_stops_its_threads() -> None:
    executor = ThreadPoolExecutor(2)
    thread = executor.submit(threading.current_thread).result(5)
    del executor
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


# -- initializer -------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(10)
def test_initializer_runs_once_in_each_new_thread(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    initialized: list[tuple[str, str]] = []

    def initializer(tag: str) -> None:
        initialized.append((tag, threading.current_thread().name))

    executor = make_executor(3, initializer=initializer, initargs=("db",))
    first = [executor.submit(gated(gate)) for _ in range(3)]
    gate.set()
    names = {future.result(5) for future in first}
    for _ in range(5):
        executor.submit(print).result(5)
    assert sorted(initialized) == sorted(("db", name) for name in names)


@pytest.mark.core
@pytest.mark.timeout(10)
def test_failing_initializer_breaks_the_pool(
    make_executor: Callable[..., ThreadPoolExecutor], gate: threading.Event
) -> None:
    def initializer() -> None:
        assert gate.wait(5)
        raise OSError("no database")

    executor = make_executor(1, initializer=initializer)
    futures = [executor.submit(print) for _ in range(3)]  # One given, two queued.
    gate.set()
    for future in futures:
        error = future.exception(5)
        assert isinstance(error, concurrent.futures.thread.BrokenThreadPool)
        assert isinstance(error, BrokenThreadPool)
        assert isinstance(error.__cause__, OSError)
    with pytest.raises(BrokenThreadPool) as info:
        executor.submit(print)
    assert isinstance(info.value.__cause__, OSError)
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.submitted, stats.executed, stats.failures, stats.pending) == (3, 3, 3, 0)
    assert executor.num_workers == 0


# -- eventlet ----------------------------------------------------------------

MONKEY_PATCHED = """
import eventlet
eventlet.monkey_patch()
import time
from eventlet import patcher
from greenpool.thread import ThreadPoolExecutor

real_thread = patcher.original("_thread")
real_threading = patcher.original("threading")
real_time = patcher.original("time")
ticks = 0

def ticker():
    global ticks
    while True:
        eventlet.sleep(0.005)
        ticks += 1

def blocking_call():
    real_time.sleep(0.2)  # Blocks its OS thread, not the hub.
    return real_thread.get_ident(), real_threading.current_thread().name

eventlet.spawn(ticker)
executor = ThreadPoolExecutor(2, thread_name_prefix="real")
ident, name = executor.submit(blocking_call).result(10)
assert ident != real_thread.get_ident(), "ran in the hub's thread"
assert name == "real_0", name
assert ticks >= 3, f"the hub was blocked while a green thread waited: {ticks} ticks"

executor.submit(real_time.sleep, 0.2)
ticks = 0
executor.shutdown(wait=True)
assert ticks >= 3, f"the hub was blocked during shutdown: {ticks} ticks"
assert executor.num_workers == 0

idle = ThreadPoolExecutor(2)
idle.submit(print).result()
started = time.monotonic()
idle.shutdown(wait=True)
print("idle shutdown", time.monotonic() - started)
print("OK")
"""


@pytest.mark.core
@pytest.mark.timeout(20)
def test_monkey_patched_calls_run_on_real_threads_without_blocking_the_hub() -> None:
    done = run_python(MONKEY_PATCHED, 15.0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "OK"
    assert float(done.stdout.split()[-2]) < 0.5


@pytest.mark.core
@pytest.mark.timeout(20)
def test_executor_created_before_monkey_patching_still_starts_real_threads() -> None:
    done = run_python(
        """
        import _thread
        from greenpool.thread import ThreadPoolExecutor

        real_get_ident = _thread.get_ident
        executor = ThreadPoolExecutor(2)

        import eventlet
        eventlet.monkey_patch()

        def call():
            return real_get_ident()

        ident = executor.submit(call).result(10)
        assert ident != real_get_ident(), "ran on a green thread"
        executor.shutdown(wait=True)
        print("OK")
        """,
        15.0,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OK"]


@pytest.mark.core
@pytest.mark.parametrize("kind", ["ThreadPoolExecutor", "DynamicThreadPoolExecutor"])
def test_thread_pools_cannot_stop_a_running_call_so_refuse_submit_with_timeout(kind: str) -> None:
    executor = getattr(greenpool, kind)(2)
    with pytest.raises(NotImplementedError, match="cannot stop a running call"):
        executor.submit_with_timeout(1.0, abs, -1)
    assert executor.statistics.submitted == 0
    executor.shutdown()


@pytest.mark.core
@pytest.mark.parametrize("kind", ["ThreadPoolExecutor", "DynamicThreadPoolExecutor"])
def test_a_caller_submitting_as_soon_as_each_result_is_in_uses_one_thread(kind: str) -> None:
    # Each call is counted finished before its future resolves, so the next
    # submit can come before the thread is back at the queue: it must wait
    # for that thread, not start another.
    executor = getattr(greenpool, kind)(8)
    for i in range(300):
        assert executor.submit(abs, -i).result(timeout=10) == i
    assert executor.num_workers == 1
    executor.shutdown()
