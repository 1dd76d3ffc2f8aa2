"""What the executor base tells policies: in_flight, oldest_wait, done and shutdown listeners.

On every executor kind (see :mod:`policy_rigs`): ``in_flight`` is pending
plus running; ``oldest_wait`` is the wait of the oldest call still waiting
for a worker; a done-listener hears each accepted call end exactly once
(finished, failed, cancelled, withdrawn by shutdown), with its run time or
``None``, in whichever thread ended it, after it was counted; a shutdown
listener runs once; a listener that raises is logged and the others run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import eventlet
import pytest
from policy_rigs import KINDS, QUEUEING, Rig, until
from policy_workers import fail, identity

from greenpool import RejectedSubmission
from greenpool.rejection import block_when_reached, reject_when_reached

pytestmark = pytest.mark.timeout(30)

#: The ``rigs`` fixture, shared with the other policy tests.
pytest_plugins = ["policy_rigs"]


class Heard:
    """A done-listener that records each call: its argument, its thread, the calls ended then."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.calls: list[tuple[float | None, int, int]] = []
        self._lock = threading.Lock()
        executor.add_done_listener(self)

    def __call__(self, runtime: float | None) -> None:
        stats = self.executor.statistics
        with self._lock:
            self.calls.append((runtime, threading.get_ident(), stats.executed + stats.cancelled))

    @property
    def arguments(self) -> list[float | None]:
        return [runtime for runtime, _, _ in self.calls]

    def until(self, count: int) -> None:
        """Wait until ``count`` calls were heard; then make sure no more come."""
        until(lambda: len(self.calls) >= count)
        eventlet.sleep(0.02)
        assert len(self.calls) == count, self.calls

    def check_counted_first(self) -> None:
        """Each call was heard after it was counted as ended: the k-th saw at least k ended."""
        for position, (_, _, ended) in enumerate(self.calls, 1):
            assert ended >= position, self.calls


def in_thread(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` in a new native thread; its result and that thread's ident."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["ident"] = threading.get_ident()
        outcome["result"] = fn()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    until(lambda: not thread.is_alive())
    return outcome["result"], outcome["ident"]


# -- in_flight ---------------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("kind", KINDS)
def test_in_flight_is_pending_plus_running(rigs: Callable[..., Rig], kind: str) -> None:
    rig = rigs(kind)
    executor = rig.executor

    def check(pending: int, running: int) -> None:
        stats = executor.statistics
        assert (stats.pending, stats.running) == (pending, running)
        assert executor.in_flight == stats.pending + stats.running

    check(0, 0)
    rig.hold(3)
    if kind == "synchronous":
        check(0, 3)  # Each caller runs its own call.
    else:
        rig.until_running(2)
        check(1, 2)
        cancelled = rig.submit_token_call()
        check(2, 2)
        assert cancelled.cancel()
        check(1, 2)
    rig.release(1)
    until(lambda: executor.statistics.executed == 1)
    if kind == "synchronous":
        check(0, 2)
    else:
        rig.until_running(2)  # The waiting call took the freed worker.
        check(0, 2)
    rig.drain()
    check(0, 0)
    assert executor.submit(fail, "x").exception(timeout=10) is not None
    check(0, 0)


# -- oldest_wait ---------------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_oldest_wait_grows_while_a_call_waits_and_drops_when_it_starts(
    rigs: Callable[..., Rig], kind: str
) -> None:
    rig = rigs(kind)
    executor = rig.executor
    assert executor.oldest_wait == 0.0  # The first read starts the record of arrivals.
    rig.hold(2)
    rig.until_running(2)
    assert executor.oldest_wait == 0.0  # Both calls run: nothing waits.

    rig.submit_token_call()  # First to wait: "a".
    after_a = time.monotonic()
    first = executor.oldest_wait
    eventlet.sleep(0.05)
    second = executor.oldest_wait
    assert second > first
    assert second >= 0.05  # It has waited at least that long since it was accepted.
    eventlet.sleep(0.1)
    before_b = time.monotonic()
    rig.submit_token_call()  # Second to wait: "b", 0.1 s younger.
    assert executor.oldest_wait >= 0.15  # Still a's wait: a is the oldest.

    rig.release(1)  # A worker is free: a starts, b waits on.
    until(lambda: executor.statistics.started == 3)
    assert executor.statistics.pending == 1
    started_reading = time.monotonic()
    wait = executor.oldest_wait
    ended_reading = time.monotonic()
    assert wait <= ended_reading - before_b  # b's wait...
    assert wait < started_reading - after_a  # ...and no longer a's.

    rig.release(1)  # b starts too: nothing waits.
    until(lambda: executor.statistics.pending == 0)
    assert executor.oldest_wait == 0.0
    rig.drain()
    assert executor.oldest_wait == 0.0


@pytest.mark.core
def test_oldest_wait_is_zero_on_the_synchronous_executor(rigs: Callable[..., Rig]) -> None:
    rig = rigs("synchronous")
    executor = rig.executor
    assert executor.oldest_wait == 0.0
    rig.hold(3)  # Three callers in their calls: none waits for a worker.
    eventlet.sleep(0.02)
    assert executor.oldest_wait == 0.0
    rig.drain()


# -- done listeners ----------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_done_listeners_hear_every_ended_call_once_with_its_run_time_or_none(
    rigs: Callable[..., Rig], kind: str
) -> None:
    rig = rigs(kind)
    executor = rig.executor
    heard = Heard(executor)
    main = threading.get_ident()

    # Finished and failed: each heard with its run time.
    fn, args = rig.sleep_call(0.02)
    finished = [executor.submit(fn, *args) for _ in range(3)]
    failed = [executor.submit(fail, str(i)) for i in range(2)]
    slept = None if kind == "green" else 0.02  # eventlet.sleep returns None.
    assert [future.result(timeout=10) for future in finished] == [slept] * 3
    for future in failed:
        assert isinstance(future.exception(timeout=10), ValueError)
    heard.until(5)
    runtimes = heard.arguments
    assert all(isinstance(runtime, float) and runtime >= 0.0 for runtime in runtimes)
    assert sum(runtime >= 0.01 for runtime in runtimes) >= 3  # The three that slept.
    stats = executor.statistics
    assert max(runtimes) == stats.max_runtime
    assert sum(runtimes) == pytest.approx(stats.runtime)
    threads = {ident for _, ident, _ in heard.calls}
    if kind == "green":
        assert threads == {main}  # Its workers are green threads of this thread's hub.
    else:
        assert main not in threads  # Worker threads, or the process pool's manager thread.

    # Cancelled by its caller, in another thread: heard there, with None.
    rig.hold(2)
    rig.until_running(2)
    queued = [rig.submit_token_call() for _ in range(3)]
    cancelled, canceller = in_thread(queued[0].cancel)
    assert cancelled
    heard.until(6)
    assert heard.calls[5][:2] == (None, canceller)

    # Withdrawn by shutdown(cancel_futures=True): heard with None.
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(future.cancelled() for future in queued)
    heard.until(8)
    assert heard.arguments[6:] == [None, None]

    # The calls that were running end after the shutdown: heard with their run times.
    rig.release(2)
    heard.until(10)
    assert all(isinstance(runtime, float) for runtime in heard.arguments[8:])
    stats = executor.statistics
    assert (stats.executed, stats.cancelled) == (7, 3)
    heard.check_counted_first()


@pytest.mark.core
def test_done_listeners_on_the_synchronous_executor_run_in_the_caller(
    rigs: Callable[..., Rig],
) -> None:
    rig = rigs("synchronous")
    executor = rig.executor
    heard = Heard(executor)
    assert executor.submit(identity, 1).result() == 1
    assert isinstance(executor.submit(fail, "no").exception(), ValueError)
    _, other = in_thread(lambda: executor.submit(identity, 2).result())
    heard.until(3)
    assert all(isinstance(runtime, float) for runtime in heard.arguments)
    main = threading.get_ident()
    assert [ident for _, ident, _ in heard.calls] == [main, main, other]
    heard.check_counted_first()


@pytest.mark.core
@pytest.mark.parametrize("kind", ["thread", "dynamic"])
def test_done_listeners_run_in_the_worker_thread_that_ran_the_call(
    rigs: Callable[..., Rig], kind: str
) -> None:
    rig = rigs(kind)
    heard = Heard(rig.executor)
    futures = [rig.executor.submit(threading.get_ident) for _ in range(6)]
    ran_in = [future.result(timeout=10) for future in futures]
    heard.until(6)
    assert sorted(ident for _, ident, _ in heard.calls) == sorted(ran_in)


@pytest.mark.core
@pytest.mark.parametrize("kind", ["green", "thread", "process"])
def test_refused_submissions_are_not_ended_calls(rigs: Callable[..., Rig], kind: str) -> None:
    rig = rigs(kind, reject_when_reached(1))
    heard = Heard(rig.executor)
    rig.hold(2)
    rig.submit_token_call()
    for _ in range(3):
        with pytest.raises(RejectedSubmission):
            rig.submit_token_call()
    # A delayed call refused when it falls due was never accepted either.
    refused_later = rig.executor.submit_after(0.01, identity, 1)
    assert isinstance(refused_later.exception(timeout=10), RejectedSubmission)
    # Nor was one cancelled before it fell due.
    never_due = rig.executor.submit_after(60, identity, 1)
    assert never_due.cancel()
    eventlet.sleep(0.02)
    assert heard.calls == []
    assert rig.executor.statistics.rejected == 4
    rig.drain()
    heard.until(3)
    # A delayed call accepted when due is heard once it ends, as any call.
    assert rig.executor.submit_after(0.01, identity, 2).result(timeout=10) == 2
    heard.until(4)


@pytest.mark.core
@pytest.mark.parametrize("kind", KINDS)
def test_a_listener_that_raises_is_logged_and_the_others_still_run(
    rigs: Callable[..., Rig], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="greenpool")
    rig = rigs(kind)
    executor = rig.executor
    before = Heard(executor)

    def boom(runtime: float | None) -> None:
        raise RuntimeError("listener boom")

    executor.add_done_listener(boom)
    after = Heard(executor)
    futures = [executor.submit(identity, i) for i in range(4)]
    assert [future.result(timeout=10) for future in futures] == [0, 1, 2, 3]
    after.until(4)
    before.until(4)
    records = [record for record in caplog.records if record.exc_info is not None]
    assert len(records) == 4
    for record in records:
        assert record.levelno == logging.ERROR
        assert "listener" in record.getMessage()
        assert record.exc_info[0] is RuntimeError
    # The executor is none the worse.
    assert executor.submit(identity, 5).result(timeout=10) == 5
    stats = executor.statistics
    assert (stats.executed, stats.failures) == (5, 0)


@pytest.mark.core
@pytest.mark.parametrize("kind", ["green", "thread", "process"])
def test_a_done_listener_may_submit(rigs: Callable[..., Rig], kind: str) -> None:
    """Listeners run outside every lock: one may submit to the same executor."""
    rig = rigs(kind)
    executor = rig.executor
    followed: list[Any] = []

    def follow_up(runtime: float | None) -> None:
        if not followed:
            followed.append(executor.submit(identity, "follow-up"))

    executor.add_done_listener(follow_up)
    assert executor.submit(identity, 1).result(timeout=10) == 1
    until(lambda: bool(followed))
    assert followed[0].result(timeout=10) == "follow-up"


@pytest.mark.core
def test_listeners_must_be_callable(rigs: Callable[..., Rig]) -> None:
    executor = rigs("green").executor
    with pytest.raises(TypeError):
        executor.add_done_listener(None)
    with pytest.raises(TypeError):
        executor.add_shutdown_listener("not callable")
    assert executor.submit(identity, 1).result(timeout=5) == 1


# -- shutdown listeners ------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("kind", KINDS)
def test_the_shutdown_listener_runs_once_even_if_shutdown_is_called_again(
    rigs: Callable[..., Rig], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="greenpool")
    rig = rigs(kind)
    executor = rig.executor
    first: list[int] = []
    last: list[int] = []
    executor.add_shutdown_listener(lambda: first.append(threading.get_ident()))

    def boom() -> None:
        raise RuntimeError("shutdown listener boom")

    executor.add_shutdown_listener(boom)
    executor.add_shutdown_listener(lambda: last.append(threading.get_ident()))
    assert executor.submit(identity, 1).result(timeout=10) == 1
    assert (first, last) == ([], [])
    executor.shutdown(wait=False)
    assert (first, last) == ([threading.get_ident()], [threading.get_ident()])
    executor.shutdown(wait=True)
    in_thread(lambda: executor.shutdown(wait=True))
    assert (len(first), len(last)) == (1, 1)
    records = [record for record in caplog.records if record.exc_info is not None]
    assert [record.exc_info[0] for record in records] == [RuntimeError]


@pytest.mark.parametrize("kind", ["green", "thread", "process"])
def test_concurrent_shutdowns_run_the_shutdown_listener_once(
    rigs: Callable[..., Rig], kind: str
) -> None:
    rig = rigs(kind)
    executor = rig.executor
    ran: list[int] = []
    executor.add_shutdown_listener(lambda: ran.append(threading.get_ident()))
    rig.hold(2)
    start = threading.Event()

    def shut_down() -> None:
        start.wait(10)
        executor.shutdown(wait=True)

    threads = [threading.Thread(target=shut_down, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    green = eventlet.spawn(shut_down)
    start.set()
    until(lambda: len(ran) == 1)
    rig.release(2)  # Now the shutdowns that wait can end.
    green.wait()
    until(lambda: not any(thread.is_alive() for thread in threads))
    assert len(ran) == 1


@pytest.mark.core
@pytest.mark.parametrize("kind", KINDS)
def test_a_shutdown_listener_runs_outside_the_submit_lock(
    rigs: Callable[..., Rig], kind: str
) -> None:
    """It may call submit (refused: shut down), and read the executor."""
    rig = rigs(kind, block_when_reached(1))
    executor = rig.executor
    outcomes: list[Any] = []

    def listener() -> None:
        try:
            executor.submit(identity, 1)
        except BaseException as exc:
            outcomes.append(exc)
        outcomes.append(executor.alive)

    executor.add_shutdown_listener(listener)
    executor.shutdown(wait=True)
    assert len(outcomes) == 2
    assert isinstance(outcomes[0], RuntimeError)
    assert outcomes[1] is False
