"""GreenThreadPoolExecutor behaviour: workers, submit, map, shutdown, errors and other threads."""

from __future__ import annotations

import concurrent.futures
import gc
import itertools
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import eventlet.event
import eventlet.greenthread
import eventlet.hubs
import greenlet
import pytest
from helpers import eventually

import greenpool
from greenpool import GreenThreadPoolExecutor

pytestmark = pytest.mark.timeout(20)


class Gate:
    """Calls that wait at a gate until the test opens it, recording who started."""

    def __init__(self) -> None:
        self._event = eventlet.event.Event()
        self.started: list[Any] = []

    def wait(self, tag: Any = None) -> Any:
        self.started.append(tag)
        self._event.wait()
        return tag

    def open(self) -> None:
        if not self._event.ready():
            self._event.send(None)


@pytest.fixture
def gate(make: Callable[..., GreenThreadPoolExecutor]) -> Iterator[Gate]:
    """A gate that is opened after the test, before ``make`` shuts its executors down."""
    gate = Gate()
    yield gate
    gate.open()


# -- workers ---------------------------------------------------------------


@pytest.mark.core
def test_workers_are_started_lazily_up_to_max_workers(make: Callable[..., Any], gate: Gate) -> None:
    executor = make(3)
    assert executor.num_workers == 0
    first = executor.submit(gate.wait, 0)
    assert executor.num_workers == 1
    futures = [first] + [executor.submit(gate.wait, i) for i in range(1, 6)]
    assert executor.num_workers == 3
    eventually(lambda: len(gate.started) == 3)
    eventlet.sleep(0.01)
    assert sorted(gate.started) == [0, 1, 2]
    stats = executor.statistics
    assert (stats.running, stats.pending) == (3, 3)
    gate.open()
    assert [f.result(timeout=5) for f in futures] == list(range(6))
    assert executor.num_workers == 3


@pytest.mark.core
def test_work_beyond_max_workers_is_queued_and_all_of_it_runs(make: Callable[..., Any]) -> None:
    executor = make(2)
    running = 0
    most_running = 0

    def call(i: int) -> int:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        eventlet.sleep(0.001)
        running -= 1
        return i * i

    futures = [executor.submit(call, i) for i in range(20)]
    assert [f.result(timeout=5) for f in futures] == [i * i for i in range(20)]
    assert most_running == 2
    assert executor.num_workers <= 2
    assert executor.statistics.executed == 20


@pytest.mark.core
def test_an_idle_worker_is_reused_rather_than_a_new_one_started(make: Callable[..., Any]) -> None:
    executor = make(10)
    workers = set()

    def call() -> None:
        workers.add(greenlet.getcurrent())

    for _ in range(50):
        executor.submit(call).result(timeout=5)
    assert executor.num_workers == 1
    assert len(workers) == 1


@pytest.mark.core
def test_submit_passes_positional_and_keyword_arguments_even_one_named_fn(
    make: Callable[..., Any],
) -> None:
    executor = make(2)

    def call(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return args, kwargs

    future = executor.submit(call, 1, 2, fn="f", self="s", args=3)
    assert future.result(timeout=5) == ((1, 2), {"fn": "f", "self": "s", "args": 3})
    assert isinstance(future, greenpool.Future)


# -- map -------------------------------------------------------------------


@pytest.mark.core
def test_map_yields_results_in_input_order_even_when_calls_finish_out_of_order(
    make: Callable[..., Any],
) -> None:
    executor = make(4)
    finished: list[int] = []

    def call(i: int, delay: float) -> int:
        eventlet.sleep(delay)
        finished.append(i)
        return i

    delays = [0.03, 0.02, 0.01, 0.0, 0.03, 0.0]
    assert list(executor.map(call, range(6), delays)) == list(range(6))
    assert finished != sorted(finished)  # They really did finish out of order.


@pytest.mark.core
def test_map_timeout_raises_concurrent_futures_timeout_error(
    make: Callable[..., Any], gate: Gate
) -> None:
    executor = make(2)
    results = executor.map(gate.wait, [1, 2], timeout=0.05)
    with pytest.raises(concurrent.futures.TimeoutError):
        next(results)
    gate.open()


@pytest.mark.core
def test_map_timeout_cancels_calls_not_yet_started(make: Callable[..., Any], gate: Gate) -> None:
    # Both calls, including the one map was waiting on when the timeout struck
    # (concurrent.futures cancels that one too).
    executor = make(1)
    blocker = executor.submit(gate.wait, "blocker")
    calls: list[int] = []
    results = executor.map(calls.append, [1, 2], timeout=0.05)
    with pytest.raises(concurrent.futures.TimeoutError):
        next(results)
    gate.open()
    blocker.result(timeout=5)
    executor.shutdown(wait=True)
    assert calls == []
    assert executor.statistics.cancelled == 2


@pytest.mark.core
def test_map_is_lazy_and_works_over_an_endless_iterator(make: Callable[..., Any]) -> None:
    executor = make(4)
    results = executor.map(lambda x: x * 2, itertools.count())
    assert list(itertools.islice(results, 50)) == [2 * i for i in range(50)]
    results.close()  # type: ignore[attr-defined]
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert stats.submitted <= 50 + 2 * 4
    assert stats.submitted == stats.executed + stats.cancelled


@pytest.mark.core
def test_closing_the_map_iterator_early_cancels_calls_not_yet_started(
    make: Callable[..., Any],
) -> None:
    executor = make(1)
    calls: list[int] = []

    def call(i: int) -> int:
        calls.append(i)
        eventlet.sleep(0.005)
        return i

    results = executor.map(call, range(10))
    assert next(results) == 0
    results.close()  # type: ignore[attr-defined]
    started_before_close = list(calls)
    executor.shutdown(wait=True)
    assert calls == started_before_close
    stats = executor.statistics
    assert stats.cancelled >= 1
    assert stats.submitted == stats.executed + stats.cancelled
    assert stats.executed == len(calls)


@pytest.mark.core
def test_map_keeps_at_most_two_windows_of_max_workers_in_flight(make: Callable[..., Any]) -> None:
    executor = make(2)
    results = executor.map(lambda x: x, itertools.count())
    for taken, value in enumerate(itertools.islice(results, 30), start=1):
        assert value == taken - 1
        eventlet.sleep(0.002)  # Consume slowly: the workers could run far ahead.
        submitted = executor.statistics.submitted
        assert taken <= submitted <= 2 * executor.max_workers + taken
    results.close()  # type: ignore[attr-defined]


@pytest.mark.core
def test_map_after_shutdown_raises_at_the_call(make: Callable[..., Any]) -> None:
    executor = make(2)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.map(abs, [1, 2])


# -- shutdown --------------------------------------------------------------


@pytest.mark.core
def test_shutdown_wait_runs_every_queued_call_before_returning(make: Callable[..., Any]) -> None:
    executor = make(1)
    done: list[int] = []

    def call(i: int) -> None:
        eventlet.sleep(0.002)
        done.append(i)

    futures = [executor.submit(call, i) for i in range(8)]
    executor.shutdown(wait=True)
    assert done == list(range(8))
    assert all(f.done() and not f.cancelled() for f in futures)
    assert executor.num_workers == 0
    stats = executor.statistics
    assert (stats.executed, stats.pending, stats.running) == (8, 0, 0)


@pytest.mark.core
def test_shutdown_without_wait_returns_and_accepted_work_still_runs(
    make: Callable[..., Any], gate: Gate
) -> None:
    executor = make(1)
    futures = [executor.submit(gate.wait, i) for i in range(3)]
    executor.shutdown(wait=False)
    assert not executor.alive
    assert not any(f.done() for f in futures)
    gate.open()
    assert [f.result(timeout=5) for f in futures] == [0, 1, 2]


@pytest.mark.core
def test_shutdown_cancel_futures_cancels_every_pending_call(
    make: Callable[..., Any], gate: Gate
) -> None:
    executor = make(1)
    running = executor.submit(gate.wait, "running")
    queued = [executor.submit(gate.wait, i) for i in range(5)]
    eventually(lambda: gate.started == ["running"])
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    # The stdlib's wait must see them done at once: no worker will ever touch them.
    done, not_done = concurrent.futures.wait(queued, timeout=0)
    assert done == set(queued)
    assert not not_done
    with pytest.raises(concurrent.futures.CancelledError):
        queued[0].result(timeout=0)
    assert not running.cancelled()
    gate.open()
    assert running.result(timeout=5) == "running"
    executor.shutdown(wait=True)
    assert gate.started == ["running"]
    stats = executor.statistics
    assert (stats.executed, stats.cancelled, stats.pending, stats.running) == (1, 5, 0, 0)


@pytest.mark.core
def test_shutdown_cancel_futures_cancels_calls_handed_to_workers_not_yet_started(
    make: Callable[..., Any],
) -> None:
    # With 1000 workers every call goes straight to a new or idle worker,
    # none to the queue; none has started when shutdown runs, so all are
    # cancelled. (All 500 used to run.)
    executor = make()
    callbacks: list[bool] = []
    futures = [executor.submit(abs, -i) for i in range(500)]
    for future in futures:
        future.add_done_callback(lambda f: callbacks.append(f.cancelled()))
    executor.shutdown(wait=True, cancel_futures=True)
    assert sum(f.cancelled() for f in futures) == 500
    assert callbacks == [True] * 500  # Each callback ran once.
    done, not_done = concurrent.futures.wait(futures, timeout=0)
    assert (len(done), not_done) == (500, set())
    stats = executor.statistics
    assert (stats.executed, stats.cancelled, stats.pending, stats.running) == (0, 500, 0, 0)
    assert executor.num_workers == 0


@pytest.mark.core
def test_shutdown_cancel_futures_from_another_thread_cancels_handed_and_in_transit_calls(
    make: Callable[..., Any],
) -> None:
    executor = make(4)
    idle = [executor.submit(abs, -i) for i in range(4)]
    assert [f.result(timeout=5) for f in idle] == [0, 1, 2, 3]  # Four idle workers now.
    handed = [executor.submit(abs, -i) for i in range(4)]  # To the idle workers, not run yet.
    queued = [executor.submit(abs, -i) for i in range(4)]
    in_transit: list[Any] = []

    def from_native_thread() -> None:
        in_transit.extend(executor.submit(abs, -i) for i in range(4))
        executor.shutdown(wait=False, cancel_futures=True)

    thread = threading.Thread(target=from_native_thread)
    thread.start()
    thread.join(10)  # Blocks the hub on purpose: no worker runs meanwhile.
    assert not thread.is_alive()
    everything = handed + queued + in_transit
    assert [f.cancelled() for f in everything] == [True] * 12
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.executed, stats.cancelled, stats.pending, stats.running) == (4, 12, 0, 0)


@pytest.mark.core
def test_shutdown_wait_and_cancel_futures_returns_once_running_calls_finish(
    make: Callable[..., Any], gate: Gate
) -> None:
    executor = make(2)
    futures = [executor.submit(gate.wait, i) for i in range(6)]
    eventually(lambda: len(gate.started) == 2)
    eventlet.spawn_after(0.02, gate.open)
    executor.shutdown(wait=True, cancel_futures=True)
    assert [f.result(timeout=0) for f in futures[:2]] == [0, 1]
    assert all(f.cancelled() for f in futures[2:])
    assert executor.num_workers == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_futurist_green_executor_ignores_cancel_futures() -> None:
    import futurist

    def run(executor: Any) -> tuple[list[int], int]:
        ran: list[int] = []
        futures = [executor.submit(ran.append, i) for i in range(4)]
        executor.shutdown(wait=True, cancel_futures=True)
        return ran, sum(f.cancelled() for f in futures)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = futurist.GreenThreadPoolExecutor(max_workers=1)
    assert run(theirs) == ([0, 1, 2, 3], 0)
    # None had started: the first was handed to a new worker not yet switched to.
    assert run(GreenThreadPoolExecutor(max_workers=1)) == ([], 4)


@pytest.mark.core
def test_submit_after_shutdown_raises_runtime_error_and_counts_nothing(
    make: Callable[..., Any],
) -> None:
    executor = make(2)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)
    stats = executor.statistics
    assert (stats.submitted, stats.rejected) == (0, 0)


@pytest.mark.core
def test_a_call_that_submits_while_shutdown_waits_gets_runtime_error(
    make: Callable[..., Any],
) -> None:
    executor = make(2)

    def call() -> BaseException | None:
        eventually(lambda: not executor.alive)
        try:
            executor.submit(abs, 1)
        except RuntimeError as exc:
            return exc
        return None

    future = executor.submit(call)
    eventlet.sleep(0)
    executor.shutdown(wait=True)
    assert isinstance(future.result(timeout=0), RuntimeError)
    assert executor.statistics.submitted == 1


@pytest.mark.core
def test_shutdown_wait_from_inside_a_worker_waits_for_the_others_and_returns(
    make: Callable[..., Any],
) -> None:
    executor = make(2)
    other = executor.submit(eventlet.sleep, 0.03)

    def call() -> bool:
        executor.shutdown(wait=True)
        return other.done()

    inside = executor.submit(call)
    assert inside.result(timeout=5) is True
    executor.shutdown(wait=True)
    assert executor.num_workers == 0


@pytest.mark.core
def test_shutdown_wait_from_the_only_worker_returns_and_queued_work_still_runs(
    make: Callable[..., Any],
) -> None:
    executor = make(1)
    inside = executor.submit(executor.shutdown, wait=True)
    queued = [executor.submit(abs, -i) for i in range(3)]
    assert inside.result(timeout=5) is None
    assert [f.result(timeout=5) for f in queued] == [0, 1, 2]


@pytest.mark.core
def test_two_workers_shutting_their_pool_down_at_once_both_return(
    make: Callable[..., Any],
) -> None:
    # Each used to wait until at most one worker (itself) was left: each
    # waited for the other, for ever.
    executor = make(2)
    both_in = eventlet.event.Event()
    arrived: list[int] = []

    def call(i: int) -> int:
        arrived.append(i)
        if len(arrived) == 2:
            both_in.send()
        both_in.wait()
        executor.shutdown(wait=True)
        return i

    futures = [executor.submit(call, i) for i in range(2)]
    done, not_done = greenpool.waiters.wait_for_all(futures, timeout=10)
    assert not not_done
    assert sorted(f.result() for f in done) == [0, 1]
    executor.shutdown(wait=True)
    assert executor.num_workers == 0


@pytest.mark.core
def test_workers_shutting_down_together_still_wait_for_a_worker_that_is_not(
    make: Callable[..., Any], gate: Gate
) -> None:
    executor = make(3)
    slow = executor.submit(gate.wait, "slow")
    both_in = eventlet.event.Event()
    arrived: list[int] = []

    def call(i: int) -> bool:
        arrived.append(i)
        if len(arrived) == 2:
            both_in.send()
        both_in.wait()
        executor.shutdown(wait=True)
        return slow.done()

    quitters = [executor.submit(call, i) for i in range(2)]
    eventually(lambda: len(arrived) == 2)
    for _ in range(20):
        eventlet.sleep(0)
    assert not any(f.done() for f in quitters)  # Waiting for the slow worker, not each other.
    gate.open()
    assert [f.result(timeout=5) for f in quitters] == [True, True]


@pytest.mark.core
def test_context_manager_shuts_down_and_waits() -> None:
    done: list[int] = []
    with GreenThreadPoolExecutor(2) as executor:
        assert executor.alive
        for i in range(5):
            executor.submit(lambda i=i: (eventlet.sleep(0.002), done.append(i)))
    assert not executor.alive
    assert sorted(done) == list(range(5))


# -- what users read ---------------------------------------------------------


@pytest.mark.core
def test_alive_name_and_max_workers(make: Callable[..., Any]) -> None:
    first, second = make(), make(5)
    assert first.max_workers == 1000  # futurist's default
    assert second.max_workers == 5
    assert first.name.startswith("GreenThreadPoolExecutor")
    assert first.name != second.name
    named = make(2, name="rpc-handlers")
    assert named.name == "rpc-handlers"
    assert "rpc-handlers" in repr(named)
    assert named.alive
    named.shutdown()
    assert not named.alive


@pytest.mark.core
def test_backlog_and_queue_size(make: Callable[..., Any], gate: Gate) -> None:
    executor = make(2)
    assert (executor.backlog, executor.queue_size) == (0, 0)
    futures = [executor.submit(gate.wait, i) for i in range(5)]
    assert executor.backlog == 3
    eventually(lambda: len(gate.started) == 2)
    assert (executor.backlog, executor.queue_size) == (3, 3)
    gate.open()
    for future in futures:
        future.result(timeout=5)
    assert (executor.backlog, executor.queue_size) == (0, 0)


@pytest.mark.core
@pytest.mark.parametrize("max_workers", [0, -1])
def test_max_workers_must_be_positive(max_workers: int) -> None:
    with pytest.raises(ValueError):
        GreenThreadPoolExecutor(max_workers)


@pytest.mark.core
@pytest.mark.parametrize("max_workers", ["3", 2.0, None, True])
def test_max_workers_must_be_an_int(max_workers: Any) -> None:
    with pytest.raises(TypeError):
        GreenThreadPoolExecutor(max_workers)


@pytest.mark.core
def test_name_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        GreenThreadPoolExecutor(2, name=7)  # type: ignore[arg-type]


@pytest.mark.core
def test_check_and_reject_must_be_callable() -> None:
    with pytest.raises(TypeError):
        GreenThreadPoolExecutor(2, "reject")  # type: ignore[arg-type]


@pytest.mark.core
def test_non_callable_fn_raises_type_error_at_submit_and_is_not_counted(
    make: Callable[..., Any],
) -> None:
    executor = make(2)
    with pytest.raises(TypeError):
        executor.submit(42)
    with pytest.raises(TypeError):
        executor.map(42, [1])
    stats = executor.statistics
    assert (stats.submitted, stats.pending, stats.rejected) == (0, 0, 0)
    assert executor.submit(abs, -3).result(timeout=5) == 3


# -- failures --------------------------------------------------------------


@pytest.mark.core
def test_exceptions_go_to_the_future_and_count_as_failures(make: Callable[..., Any]) -> None:
    executor = make(2)

    def boom(i: int) -> int:
        if i % 2:
            raise KeyError(i)
        return i

    futures = [executor.submit(boom, i) for i in range(6)]
    for i, future in enumerate(futures):
        if i % 2:
            assert isinstance(future.exception(timeout=5), KeyError)
            with pytest.raises(KeyError):
                future.result(timeout=0)
        else:
            assert future.result(timeout=5) == i
    stats = executor.statistics
    assert (stats.executed, stats.failures) == (6, 3)


@pytest.mark.core
def test_a_worker_killed_while_running_fails_only_its_call(
    make: Callable[..., Any], gate: Gate
) -> None:
    executor = make(1)
    workers: list[greenlet.greenlet] = []

    def victim() -> None:
        workers.append(greenlet.getcurrent())
        gate.wait()

    doomed = executor.submit(victim)
    queued = [executor.submit(abs, -i) for i in range(4)]
    eventually(lambda: bool(workers))
    eventlet.greenthread.kill(workers[0])
    assert isinstance(doomed.exception(timeout=5), greenlet.GreenletExit)
    assert [f.result(timeout=5) for f in queued] == [0, 1, 2, 3]
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.executed, stats.failures, stats.pending, stats.running) == (5, 1, 0, 0)


@pytest.mark.core
def test_a_worker_killed_while_idle_is_replaced(make: Callable[..., Any]) -> None:
    executor = make(1)
    worker = executor.submit(greenlet.getcurrent).result(timeout=5)
    eventlet.greenthread.kill(worker)
    assert worker.dead
    assert executor.num_workers == 0
    assert [executor.submit(abs, -i).result(timeout=5) for i in range(3)] == [0, 1, 2]
    assert executor.num_workers == 1
    assert executor.statistics.failures == 0


@pytest.mark.core
def test_a_call_raising_greenlet_exit_ends_its_worker_but_queued_work_runs(
    make: Callable[..., Any],
) -> None:
    executor = make(1)

    def exit_worker() -> None:
        raise greenlet.GreenletExit()

    doomed = executor.submit(exit_worker)
    queued = [executor.submit(abs, -i) for i in range(3)]
    assert isinstance(doomed.exception(timeout=5), greenlet.GreenletExit)
    assert [f.result(timeout=5) for f in queued] == [0, 1, 2]
    stats = executor.statistics
    assert (stats.executed, stats.failures) == (4, 1)


@pytest.mark.core
def test_a_worker_killed_by_greenlet_throw_from_the_hub(
    make: Callable[..., Any], gate: Gate
) -> None:
    executor = make(2)
    workers: list[greenlet.greenlet] = []

    def victim() -> None:
        workers.append(greenlet.getcurrent())
        gate.wait()

    doomed = executor.submit(victim)
    eventually(lambda: bool(workers))
    # Thrown from the hub greenlet, the worker's parent, so throw() returns there.
    eventlet.hubs.get_hub().schedule_call_global(0, workers[0].throw, greenlet.GreenletExit)
    assert isinstance(doomed.exception(timeout=5), greenlet.GreenletExit)
    assert [executor.submit(abs, -i).result(timeout=5) for i in range(4)] == [0, 1, 2, 3]
    gate.open()


# -- other OS threads --------------------------------------------------------


@pytest.mark.core
def test_a_native_thread_can_submit_and_wait_on_the_result(make: Callable[..., Any]) -> None:
    executor = make(2)
    hub_thread = threading.get_ident()
    outcome: dict[str, Any] = {}

    def in_native_thread() -> None:
        try:
            outcome["submitter"] = threading.get_ident()
            futures = [executor.submit(threading.get_ident) for _ in range(3)]
            outcome["ran_in"] = {f.result(timeout=10) for f in futures}
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=in_native_thread)
    thread.start()
    eventually(lambda: not thread.is_alive())  # The hub must keep running meanwhile.
    thread.join()
    assert "error" not in outcome, outcome
    assert outcome["submitter"] != hub_thread
    assert outcome["ran_in"] == {hub_thread}
    assert executor.statistics.executed == 3


@pytest.mark.core
def test_a_native_submit_wakes_the_hub_only_after_releasing_the_submit_lock(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wake-up is a write to the hub's pipe: a system call, which gives up
    # the GIL. Made under the submit lock, it left the lock held until the
    # native thread got the GIL back, a switch interval later, while every
    # green thread of the hub that wanted to submit waited (issue 8, item 8).
    from greenpool import _wakeup

    executor = make(2)
    lock_held_at_write: list[bool] = []
    write = _wakeup._os_write

    def recording_write(fd: int, data: bytes) -> int:
        lock_held_at_write.append(executor._submit_lock.locked())
        return write(fd, data)

    monkeypatch.setattr(_wakeup, "_os_write", recording_write)
    submitted: list[Any] = []
    for i in range(5):
        thread = threading.Thread(target=lambda i=i: submitted.append(executor.submit(abs, -i)))
        thread.start()
        thread.join(10)
        assert submitted[i].result(timeout=5) == i  # The hub drained the pipe: the next writes.
    assert lock_held_at_write
    assert not any(lock_held_at_write)


@pytest.mark.core
def test_a_native_thread_can_shut_the_executor_down_and_wait(make: Callable[..., Any]) -> None:
    executor = make(2)
    futures = [executor.submit(eventlet.sleep, 0.005) for _ in range(6)]
    seen: dict[str, Any] = {}

    def in_native_thread() -> None:
        try:
            executor.shutdown(wait=True)
            seen["done"] = [f.done() for f in futures]
            seen["stats"] = executor.statistics
        except BaseException as exc:
            seen["error"] = exc

    thread = threading.Thread(target=in_native_thread)
    thread.start()
    eventually(lambda: not thread.is_alive())
    thread.join()
    assert "error" not in seen, seen
    assert seen["done"] == [True] * 6
    assert (seen["stats"].executed, seen["stats"].pending, seen["stats"].running) == (6, 0, 0)
    assert executor.num_workers == 0


@pytest.mark.core
@pytest.mark.parametrize("cancel_futures", [False, True])
def test_shutdown_accounts_for_a_call_a_native_thread_just_submitted(
    make: Callable[..., Any], cancel_futures: bool
) -> None:
    # A submission from another OS thread is counted (statistics.pending) and
    # its future returned before it reaches the executor's queue: the hub
    # picks it up when it next runs the self-pipe callback. A shutdown made
    # before that must still wait for it or, with cancel_futures, cancel it.
    executor = make(2)
    submitted: list[Any] = []
    thread = threading.Thread(target=lambda: submitted.append(executor.submit(abs, -1)))
    thread.start()
    thread.join(10)  # Blocks the hub on purpose: the hand-over has not run yet.
    (future,) = submitted
    executor.shutdown(wait=True, cancel_futures=cancel_futures)
    stats = executor.statistics
    assert (stats.pending, stats.running) == (0, 0), stats
    assert future.done()
    assert future.cancelled() if cancel_futures else future.result(timeout=0) == 1


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def descriptors_left_by(target: Callable[[], object], threads: int = 200) -> int:
    """How many more descriptors are open after ``threads`` threads each ran ``target``."""
    gc.collect()
    before = open_descriptors()
    for _ in range(threads):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join(10)
        assert not thread.is_alive()
    gc.collect()
    return open_descriptors() - before


@pytest.mark.core
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd (Linux)")
def test_threads_that_use_a_green_executor_leave_no_descriptor_behind() -> None:
    # Each thread's hub had a self-pipe for wake-ups from other threads that
    # was never closed: two descriptors per thread. eventlet leaks one of its
    # own per thread (its epoll hub's), so the comparison is with eventlet alone.
    def eventlet_alone() -> None:
        eventlet.sleep(0)

    def with_an_executor() -> None:
        executor = GreenThreadPoolExecutor(2)
        assert executor.submit(abs, -1).result(timeout=5) == 1
        # Woken from another thread: the pipe is watched and written to.
        native = greenpool.Future[int]()
        threading.Timer(0.001, native.set_result, (2,)).start()
        assert native.result(timeout=5) == 2
        executor.shutdown()

    baseline = descriptors_left_by(eventlet_alone)
    assert descriptors_left_by(with_an_executor) - baseline <= 10


@pytest.mark.core
def test_an_executor_whose_hub_thread_has_ended_refuses_calls_and_shuts_down_at_once() -> None:
    # Nothing can ever run in that hub again: a call accepted now would never
    # finish, and shutdown(wait=True) would wait for ever for its workers.
    made: list[GreenThreadPoolExecutor] = []

    def in_a_thread() -> None:
        executor = GreenThreadPoolExecutor(2)
        executor.submit(eventlet.sleep, 60)
        eventlet.sleep(0)  # One worker is suspended in the call when the thread ends.
        made.append(executor)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(10)
    (executor,) = made
    with pytest.raises(RuntimeError, match="has ended"):
        executor.submit(abs, -1)
    assert executor.statistics.submitted == 1  # The refused call is not counted.
    executor.shutdown(wait=True)  # Returns: there is nothing it could wait for.
    assert not executor.alive


@pytest.mark.core
def test_a_wake_for_a_hub_whose_thread_has_ended_writes_nowhere() -> None:
    # Its pipe is closed when the thread ends, and its descriptor numbers may
    # be reused at once: a late wake must not write a byte into whatever
    # file or socket has them now.
    from greenpool._parking import hub_state

    states: list[Any] = []
    thread = threading.Thread(target=lambda: states.append(hub_state(eventlet.hubs.get_hub())))
    thread.start()
    thread.join(10)
    (state,) = states
    assert state.thread_ended
    read_fd, write_fd = os.pipe()  # Likely the numbers the closed pipe had.
    try:
        os.set_blocking(read_fd, False)
        state.channel.call_soon(lambda: None)
        with pytest.raises(BlockingIOError):
            os.read(read_fd, 1)
    finally:
        os.close(read_fd)
        os.close(write_fd)


@pytest.mark.core
def test_a_chain_of_calls_that_submit_calls_leaves_other_green_threads_their_turn(
    make: Callable[..., Any],
) -> None:
    # Each call hands the next to an idle worker. The hub switches to
    # workers in batches, one timer for all switches scheduled before it
    # fires; a batch must not also run the switches its own calls schedule,
    # or the chain would hold the hub (and its IO) until it ended.
    executor = make(2)
    done = eventlet.event.Event()

    def link(remaining: int) -> None:
        if remaining == 0:
            done.send(None)
        else:
            executor.submit(link, remaining - 1)

    ticks = [0]

    def tick() -> None:
        while not done.ready():
            ticks[0] += 1
            eventlet.sleep(0)

    ticker = eventlet.spawn(tick)
    executor.submit(link, 300)
    with eventlet.Timeout(10):
        done.wait()
        ticker.wait()
    assert ticks[0] >= 100, ticks  # About one tick a link: the hub turned between links.


class _Result:
    """A result that can be watched with a weak reference."""


@pytest.mark.core
def test_a_call_is_freed_once_it_has_run(make: Callable[..., Any]) -> None:
    # Neither a worker (idle, or the first switch's arguments that greenlet
    # keeps for the worker's life) nor map's suspended iterator may keep a
    # call's result alive after the caller dropped it. The hub may, until it
    # next runs: a hand-off timer holds its arguments until its switch
    # returns, which a worker that switches straight to a woken waiter
    # delays to the hub's next turn.
    executor = make(2)
    refs = [weakref.ref(executor.submit(_Result).result(timeout=5)) for _ in range(4)]
    for result in executor.map(lambda _: _Result(), range(6)):
        refs.append(weakref.ref(result))
        del result
        eventlet.sleep(0)
        gc.collect()
        assert refs[-1]() is None
    eventlet.sleep(0)
    gc.collect()
    assert [ref() for ref in refs] == [None] * len(refs)
