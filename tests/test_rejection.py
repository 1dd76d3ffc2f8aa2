"""check_and_reject: the backlog it is given, what a refusal does, and reject_when_reached."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import eventlet.event
import pytest
from helpers import eventually

import greenpool
from greenpool import GreenThreadPoolExecutor, RejectedSubmission
from greenpool.rejection import reject_when_reached

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def gate(make: Callable[..., GreenThreadPoolExecutor]) -> Iterator[eventlet.event.Event]:
    """An event calls wait on; sent after the test, before ``make`` shuts executors down."""
    event = eventlet.event.Event()
    yield event
    if not event.ready():
        event.send(None)


class Recorder:
    """A check_and_reject that records what it is given and refuses on demand."""

    def __init__(self, refuse_from: int | None = None) -> None:
        self.calls: list[tuple[Any, int]] = []
        self.refuse_from = refuse_from

    def __call__(self, executor: Any, backlog: int) -> None:
        self.calls.append((executor, backlog))
        if self.refuse_from is not None and backlog >= self.refuse_from:
            raise RejectedSubmission(f"backlog {backlog}")

    @property
    def backlogs(self) -> list[int]:
        return [backlog for _, backlog in self.calls]


# -- reject_when_reached -------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("max_backlog", [1, 2, 5])
def test_reject_when_reached_refuses_once_the_backlog_reaches_the_limit(max_backlog: int) -> None:
    rejector = reject_when_reached(max_backlog)
    for backlog in range(max_backlog):
        assert rejector(None, backlog) is None
    for backlog in (max_backlog, max_backlog + 1, 100):
        with pytest.raises(RejectedSubmission):
            rejector(None, backlog)


@pytest.mark.core
@pytest.mark.parametrize("max_backlog", [-1, -10])
def test_reject_when_reached_refuses_a_negative_limit(max_backlog: int) -> None:
    with pytest.raises(ValueError):
        reject_when_reached(max_backlog)


@pytest.mark.core
@pytest.mark.parametrize("max_backlog", ["3", 2.0, None, True])
def test_reject_when_reached_wants_an_int(max_backlog: Any) -> None:
    with pytest.raises(TypeError):
        reject_when_reached(max_backlog)


@pytest.mark.core
def test_reject_when_reached_limits_how_many_calls_wait_for_a_worker(
    make: Callable[..., Any], gate: eventlet.event.Event
) -> None:
    executor = make(2, reject_when_reached(2))
    accepted = 0
    for _ in range(10):
        try:
            executor.submit(gate.wait)
        except RejectedSubmission:
            continue
        accepted += 1
    assert accepted == 4  # Two running, two waiting.
    stats = executor.statistics
    assert (stats.submitted, stats.rejected) == (4, 6)


@pytest.mark.core
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_reject_when_reached_zero_refuses_every_submission_as_futurist_does(
    make: Callable[..., Any],
) -> None:
    """backlog is counted before the call and the rule is backlog >= max_backlog."""
    import futurist
    import futurist.rejection

    executor = make(2, reject_when_reached(0))
    theirs = futurist.GreenThreadPoolExecutor(2, futurist.rejection.reject_when_reached(0))
    for ours_or_theirs, refused in ((executor, RejectedSubmission),
                                    (theirs, futurist.RejectedSubmission)):  # fmt: skip
        with pytest.raises(refused):
            ours_or_theirs.submit(lambda: None)
    theirs.shutdown()
    assert executor.statistics.rejected == 1
    assert executor.statistics.submitted == 0


# -- the backlog ---------------------------------------------------------------


@pytest.mark.core
def test_backlog_counts_accepted_calls_no_worker_can_take(
    make: Callable[..., Any], gate: eventlet.event.Event
) -> None:
    recorder = Recorder()
    executor = make(2, recorder)
    for _ in range(5):  # No yield in between: no worker has started yet.
        executor.submit(gate.wait)
    assert recorder.backlogs == [0, 0, 0, 1, 2]
    assert executor.backlog == 3


@pytest.mark.core
def test_backlog_shrinks_as_calls_finish(make: Callable[..., Any]) -> None:
    recorder = Recorder()
    executor = make(1, recorder)
    futures = [executor.submit(eventlet.sleep, 0) for _ in range(3)]
    for future in futures:
        future.result(timeout=5)
    executor.submit(abs, 1).result(timeout=5)
    assert recorder.backlogs == [0, 0, 1, 0]


@pytest.mark.core
def test_check_and_reject_gets_the_executor_first(make: Callable[..., Any]) -> None:
    recorder = Recorder()
    executor = make(3, recorder)
    executor.submit(abs, 1).result(timeout=5)
    assert recorder.calls == [(executor, 0)]


@pytest.mark.core
def test_a_rejected_submission_queues_nothing_and_is_counted(
    make: Callable[..., Any], gate: eventlet.event.Event
) -> None:
    recorder = Recorder(refuse_from=1)
    executor = make(1, recorder)
    ran: list[int] = []

    def call(i: int) -> None:
        gate.wait()
        ran.append(i)

    executor.submit(call, 0)
    executor.submit(call, 1)
    with pytest.raises(RejectedSubmission):
        executor.submit(call, 2)
    stats = executor.statistics
    assert (stats.submitted, stats.rejected, stats.pending + stats.running) == (2, 1, 2)
    assert executor.backlog == 1
    gate.send(None)
    executor.shutdown(wait=True)
    assert ran == [0, 1]
    assert executor.statistics.executed == 2


@pytest.mark.core
def test_any_other_exception_propagates_unchanged_and_is_not_a_rejection(
    make: Callable[..., Any],
) -> None:
    error = KeyError("not a rejection")

    def check(executor: Any, backlog: int) -> None:
        raise error

    executor = make(2, check)
    ran: list[int] = []
    with pytest.raises(KeyError) as caught:
        executor.submit(ran.append, 1)
    assert caught.value is error
    executor.shutdown(wait=True)
    assert ran == []
    stats = executor.statistics
    assert (stats.submitted, stats.rejected, stats.pending) == (0, 0, 0)


@pytest.mark.core
def test_rejection_works_on_the_synchronous_executor_too() -> None:
    executor = greenpool.SynchronousExecutor(check_and_reject=Recorder(refuse_from=0))
    with pytest.raises(RejectedSubmission):
        executor.submit(abs, 1)
    assert (executor.statistics.submitted, executor.statistics.rejected) == (0, 1)


@pytest.mark.core
def test_a_check_that_yields_while_other_green_threads_submit_does_not_deadlock(
    make: Callable[..., Any],
) -> None:
    inside = 0
    most_inside = 0

    def check(executor: Any, backlog: int) -> None:
        nonlocal inside, most_inside
        inside += 1
        most_inside = max(most_inside, inside)
        eventlet.sleep(0)  # Say, logging to a green socket.
        inside -= 1
        if backlog >= 50:
            raise RejectedSubmission("full")

    executor = make(3, check)

    def submitter(n: int) -> list[Any]:
        return [executor.submit(eventlet.sleep, 0.001) for _ in range(n)]

    threads = [eventlet.spawn(submitter, 10) for _ in range(5)]
    futures = [f for thread in threads for f in thread.wait()]
    assert len(futures) == 50
    assert all(f.result(timeout=5) is None for f in futures)
    assert most_inside == 1  # The submit lock serialises the checks.
    stats = executor.statistics
    assert (stats.submitted, stats.executed, stats.rejected) == (50, 50, 0)


def cancelled_queue_backlogs(
    executor: Any, recorder: Recorder, gate: Any, until_started: Callable[[], object]
) -> list[int]:
    """Start a blocker, queue three calls and cancel them, then submit once more."""
    blocker = executor.submit(gate.wait)
    until_started()
    queued = [executor.submit(abs, -i) for i in range(3)]
    assert all(future.cancel() for future in queued)
    executor.submit(abs, 1)
    gate.open()
    assert blocker.result(timeout=5) is True
    executor.shutdown(wait=True)
    return recorder.backlogs


class ThreadGate:
    """A call for a native worker thread that reports it started and waits to be let go."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self._finish = threading.Event()

    def wait(self) -> bool:
        self.started.set()
        return self._finish.wait(5)

    def open(self) -> None:
        self._finish.set()


class GreenGate:
    """The same for a green worker."""

    def __init__(self) -> None:
        self.started = False
        self._finish = eventlet.event.Event()

    def wait(self) -> bool:
        self.started = True
        self._finish.wait()
        return True

    def open(self) -> None:
        self._finish.send(None)

    def until_started(self) -> None:
        eventually(lambda: self.started, timeout=5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_futurist_thread_pool_passes_its_raw_queue_length_instead() -> None:
    import futurist

    # futurist counts the cancelled calls still sitting in its queue as backlog.
    theirs = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_executor = futurist.ThreadPoolExecutor(max_workers=1, check_and_reject=theirs)
    thread_gate = ThreadGate()
    backlogs = cancelled_queue_backlogs(
        their_executor, theirs, thread_gate, lambda: thread_gate.started.wait(5)
    )
    assert backlogs == [0, 0, 1, 2, 3]

    # greenpool's backlog is what no worker can take: cancelled calls are not.
    ours = Recorder()
    thread_gate = ThreadGate()
    our_thread_executor = greenpool.ThreadPoolExecutor(1, ours)
    backlogs = cancelled_queue_backlogs(
        our_thread_executor, ours, thread_gate, lambda: thread_gate.started.wait(5)
    )
    assert backlogs == [0, 0, 1, 2, 0]

    ours = Recorder()
    green_gate = GreenGate()
    our_executor = GreenThreadPoolExecutor(1, ours)
    backlogs = cancelled_queue_backlogs(our_executor, ours, green_gate, green_gate.until_started)
    assert backlogs == [0, 0, 1, 2, 0]
