"""The backpressure policies of greenpool.rejection, each on every executor kind it applies to.

* Construction: bad limits, durations and members are refused where the
  policy is made; a stateful policy serves one executor.
* Refusals (reject_when_reached, codel, AdaptiveLimit, chain) are counted in
  ``statistics.rejected`` and queue nothing, on every kind.
* block_when_reached: waiting for room, from green and native threads, in
  arrival order; timeouts, shutdown, delayed calls and the hub's greenlet.
* codel: bursts, standing queues, recovery (a fake clock for the state
  machine, and real time on every kind).
* AdaptiveLimit: against a simulated downstream of a few slots, on every kind.
* Invariants of random submit sequences under random policies (hypothesis).

Executors and the calls they run come from :mod:`policy_rigs`; each test
drives them from the main greenlet, a green thread of the main hub.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import eventlet
import eventlet.hubs
import pytest
from greenlet import getcurrent
from helpers import Ticker, thread_idents
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_rigs import KINDS, QUEUEING, Rig, until
from policy_workers import identity

import greenpool
from greenpool import RejectedSubmission
from greenpool.rejection import (
    AdaptiveLimit,
    Policy,
    _adaptive,
    _codel,
    block_when_reached,
    chain,
    codel,
    reject_when_reached,
)

pytestmark = pytest.mark.timeout(30)

#: The ``rigs`` fixture, shared with the other policy tests.
pytest_plugins = ["policy_rigs"]

NAN = math.nan
INF = math.inf


class Submitter:
    """``executor.submit(fn, *args)`` from a new green thread or native thread; its outcome.

    ``who``, if given, maps the submitting greenlet to ``index`` before it
    submits, for a policy that records who it admits.
    """

    def __init__(
        self,
        how: str,
        executor: Any,
        fn: Callable[..., Any] = identity,
        args: tuple[Any, ...] = (1,),
        who: dict[Any, int] | None = None,
        index: int = -1,
    ) -> None:
        self.how = how
        self.outcome: Any = None
        self.done = False
        self._call = (executor, fn, args, who, index)
        if how == "green":
            eventlet.spawn(self._run)
        else:
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        executor, fn, args, who, index = self._call
        if who is not None:
            who[getcurrent()] = index
        try:
            self.outcome = executor.submit(fn, *args)
        except BaseException as exc:
            self.outcome = exc
        self.done = True

    def wait(self) -> Any:
        until(lambda: self.done)
        return self.outcome


class Admissions:
    """The last policy of a chain: records, in order, which known submitter got in.

    A submitter is known by its index in ``who`` (its greenlet, green or a
    native thread's main one, to its index), which :class:`Submitter` fills.
    """

    def __init__(self) -> None:
        self.order: list[int] = []
        self.who: dict[Any, int] = {}

    def __call__(self, executor: Any, backlog: int) -> None:
        # Last in the chain: runs exactly when the policies before it let a submit in.
        index = self.who.get(getcurrent())
        if index is not None:
            self.order.append(index)


def attempt(rig: Rig, count: int) -> tuple[list[Any], list[RejectedSubmission]]:
    """Submit ``count`` token calls (fast calls on the synchronous executor); sort the outcomes."""
    accepted: list[Any] = []
    refused: list[RejectedSubmission] = []
    for _ in range(count):
        try:
            if rig.kind == "synchronous":
                accepted.append(rig.executor.submit(abs, -1))
            else:
                accepted.append(rig.submit_token_call())
        except RejectedSubmission as exc:
            refused.append(exc)
    return accepted, refused


def check_counts(rig: Rig, attempts: int, refused: int) -> None:
    """Every refusal counted as one, and every other attempt accepted."""
    stats = rig.executor.statistics
    assert stats.rejected == refused
    assert stats.submitted + stats.rejected == attempts


def finish_all(rig: Rig) -> None:
    """Let every accepted call end; all ran but those cancelled (none lost, none failed).

    Refused calls were not queued: had one been, it would take one of the
    tokens handed out for the accepted ones, and an accepted call would never end.
    """
    rig.drain()
    stats = rig.executor.statistics
    assert stats.executed + stats.cancelled == stats.submitted
    assert stats.failures == 0


class FakeClock:
    """Stands in for ``greenpool.rejection._codel.now``: codel's intervals pass when told."""

    def __init__(self) -> None:
        self.time = 1000.0

    def __call__(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(_codel, "now", fake)
    return fake


# -- construction ----------------------------------------------------------------------

BAD_LIMITS = [
    (0, ValueError),
    (-1, ValueError),
    (-(2**70), ValueError),
    (True, TypeError),
    (False, TypeError),
    (2.0, TypeError),
    (1.5, TypeError),
    ("3", TypeError),
    (None, TypeError),
]
BAD_SECONDS = [
    (0, ValueError),
    (0.0, ValueError),
    (-0.5, ValueError),
    (-1, ValueError),
    (NAN, ValueError),
    (INF, ValueError),
    (-INF, ValueError),
    ("0.1", TypeError),
    (True, TypeError),
    (None, TypeError),
    (1j, TypeError),
]
BAD_TIMEOUTS = [
    (-0.5, ValueError),
    (-1, ValueError),
    (NAN, ValueError),
    (-INF, ValueError),
    ("1", TypeError),
    (True, TypeError),
    (False, TypeError),
    (1j, TypeError),
]


@pytest.mark.core
@pytest.mark.parametrize(("value", "error"), BAD_LIMITS)
def test_block_when_reached_refuses_a_bad_max_backlog(value: Any, error: type) -> None:
    with pytest.raises(error, match="max_backlog"):
        block_when_reached(value)


@pytest.mark.core
@pytest.mark.parametrize(("value", "error"), BAD_TIMEOUTS)
def test_block_when_reached_refuses_a_bad_timeout(value: Any, error: type) -> None:
    with pytest.raises(error, match="timeout"):
        block_when_reached(1, value)


@pytest.mark.core
@pytest.mark.parametrize(
    ("timeout", "kept"),
    [(None, None), (0, 0.0), (0.0, 0.0), (INF, None), (2, 2.0), (Fraction(1, 4), 0.25)],
)
def test_block_when_reached_takes_none_zero_infinity_and_seconds(
    timeout: Any, kept: float | None
) -> None:
    policy = block_when_reached(3, timeout)
    assert (policy.max_backlog, policy.timeout) == (3, kept)
    assert policy.waiting == 0


@pytest.mark.core
@pytest.mark.parametrize("which", ["target", "interval"])
@pytest.mark.parametrize(("value", "error"), BAD_SECONDS)
def test_codel_refuses_a_bad_target_or_interval(which: str, value: Any, error: type) -> None:
    with pytest.raises(error, match=which):
        codel(**{which: value})


@pytest.mark.core
def test_codel_takes_any_positive_finite_seconds() -> None:
    policy = codel(target=Fraction(1, 1000), interval=3)
    assert (policy.target, policy.interval, policy.standing) == (0.001, 3.0, False)
    assert isinstance(policy.target, float)


@pytest.mark.core
@pytest.mark.parametrize("which", ["initial", "min_limit", "max_limit"])
@pytest.mark.parametrize(("value", "error"), BAD_LIMITS)
def test_adaptive_limit_refuses_a_bad_limit(which: str, value: Any, error: type) -> None:
    with pytest.raises(error, match=which):
        AdaptiveLimit(**{which: value})


@pytest.mark.core
@pytest.mark.parametrize(
    ("initial", "min_limit", "max_limit", "match"),
    [
        (5, 10, 5, "min_limit"),
        (20, 21, 20, "min_limit"),
        (21, 1, 20, "initial"),
        (1, 2, 20, "initial"),
        (1000, 1, 999, "initial"),
    ],
)
def test_adaptive_limit_refuses_limits_out_of_order(
    initial: int, min_limit: int, max_limit: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        AdaptiveLimit(initial, min_limit, max_limit)


@pytest.mark.core
@pytest.mark.parametrize(
    ("tolerance", "error"),
    [
        (0, ValueError),
        (0.0, ValueError),
        (1, ValueError),
        (1.0, ValueError),
        (1.5, ValueError),
        (-0.1, ValueError),
        (NAN, ValueError),
        (INF, ValueError),
        ("0.1", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_adaptive_limit_refuses_a_bad_tolerance(tolerance: Any, error: type) -> None:
    with pytest.raises(error, match="tolerance"):
        AdaptiveLimit(tolerance=tolerance)


@pytest.mark.core
def test_adaptive_limit_takes_limits_at_their_bounds() -> None:
    assert AdaptiveLimit(1, 1, 1).limit == 1
    policy = AdaptiveLimit(7, 7, 9, tolerance=0.99)
    assert (policy.limit, policy.min_limit, policy.max_limit, policy.baseline) == (7, 7, 9, None)
    assert AdaptiveLimit().limit == 20


@pytest.mark.core
def test_chain_needs_at_least_one_policy() -> None:
    with pytest.raises(ValueError):
        chain()


@pytest.mark.core
@pytest.mark.parametrize("member", [None, 1, "reject", object()])
def test_chain_refuses_a_member_that_is_not_callable(member: Any) -> None:
    with pytest.raises(TypeError):
        chain(reject_when_reached(1), member)
    with pytest.raises(TypeError):
        chain(member)


STATEFUL = {
    "block_when_reached": lambda: block_when_reached(1),
    "codel": codel,
    "AdaptiveLimit": AdaptiveLimit,
    "chain": lambda: chain(reject_when_reached(5), AdaptiveLimit()),
}


@pytest.mark.core
@pytest.mark.parametrize("second_kind", KINDS)
@pytest.mark.parametrize("policy_name", list(STATEFUL))
def test_a_stateful_policy_refuses_a_second_executor(
    rigs: Callable[..., Rig], policy_name: str, second_kind: str
) -> None:
    policy = STATEFUL[policy_name]()
    assert isinstance(policy, Policy)
    first = rigs("green", policy)
    threads = thread_idents()
    children = len(multiprocessing.active_children())
    with pytest.raises(ValueError, match="one policy per executor"):
        Rig(second_kind, policy)
    # Nothing changed: no worker was started, and the policy still serves the first.
    assert thread_idents() - threads == set()
    assert len(multiprocessing.active_children()) == children
    assert first.executor.submit(abs, -3).result(timeout=5) == 3
    assert first.executor.statistics.submitted == 1


@pytest.mark.core
def test_a_chain_with_a_taken_member_leaves_its_free_members_free(
    rigs: Callable[..., Rig],
) -> None:
    taken = AdaptiveLimit()
    rigs("green", taken)
    free = codel()
    with pytest.raises(ValueError, match="one policy per executor"):
        Rig("green", chain(free, taken))
    other = rigs("thread", free)
    assert other.executor.submit(abs, -2).result(timeout=5) == 2


@pytest.mark.core
def test_a_wrapped_stateful_policy_refuses_a_second_executor_at_its_first_submit(
    rigs: Callable[..., Rig],
) -> None:
    policy = AdaptiveLimit()

    def wrapped(executor: Any, backlog: int) -> None:
        policy(executor, backlog)

    first = rigs("green", wrapped)
    second = rigs("thread", wrapped)
    assert first.executor.submit(abs, -1).result(timeout=5) == 1
    with pytest.raises(ValueError, match="one policy per executor"):
        second.executor.submit(abs, -1)
    stats = second.executor.statistics
    assert (stats.submitted, stats.rejected) == (0, 0)
    assert first.executor.submit(abs, -1).result(timeout=5) == 1


@pytest.mark.core
def test_a_stateless_policy_serves_any_number_of_executors(rigs: Callable[..., Rig]) -> None:
    policy = reject_when_reached(0)
    for kind in ("green", "thread", "synchronous"):
        rig = rigs(kind, policy)
        with pytest.raises(RejectedSubmission):
            rig.executor.submit(abs, 1)
        assert rig.executor.statistics.rejected == 1


# -- refusals are counted, nothing is queued, on every kind ---------------------------------


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_reject_when_reached_refusals_are_counted(rigs: Callable[..., Rig], kind: str) -> None:
    rig = rigs(kind, reject_when_reached(2))
    rig.hold(2)  # Both workers busy (or about to be): backlog 0.
    accepted, refused = attempt(rig, 8)
    assert (len(accepted), len(refused)) == (2, 6)  # Two wait for a worker, then full.
    check_counts(rig, attempts=10, refused=6)
    assert rig.executor.backlog == 2
    finish_all(rig)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_codel_refusals_are_counted_in_real_time(rigs: Callable[..., Rig], kind: str) -> None:
    """Real time, every kind: a standing queue is refused, and accepted again once drained."""
    policy = codel(target=0.01, interval=0.05)
    rig = rigs(kind, policy)
    rig.hold(2)
    first, refused = attempt(rig, 1)  # Waits for a worker from now on.
    assert (len(first), refused) == (1, [])
    eventlet.sleep(0.03)  # The oldest wait is now above target...
    second, refused = attempt(rig, 1)
    assert (len(second), refused, policy.standing) == (1, [], False)  # ...not yet for long.
    eventlet.sleep(0.06)  # ...and now for longer than an interval.
    accepted, refused = attempt(rig, 6)
    assert (len(accepted), len(refused), policy.standing) == (0, 6, True)
    assert "target" in str(refused[0])
    check_counts(rig, attempts=10, refused=6)
    finish_all(rig)
    # Drained: waits are below target again, so submissions are accepted.
    assert rig.executor.submit(identity, 5).result(timeout=10) == 5
    assert rig.executor.statistics.rejected == 6


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_adaptive_limit_refusals_are_counted(rigs: Callable[..., Rig], kind: str) -> None:
    policy = AdaptiveLimit(initial=3, min_limit=1, max_limit=10)
    rig = rigs(kind, policy)
    rig.hold(2)
    accepted, refused = attempt(rig, 8)
    assert (len(accepted), len(refused)) == (1, 7)  # Three in flight is the limit.
    assert "adaptive limit of 3" in str(refused[0])
    check_counts(rig, attempts=10, refused=7)
    assert policy.limit == 3  # Nothing ended: nothing learnt.
    finish_all(rig)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_chain_refusals_are_counted(rigs: Callable[..., Rig], kind: str) -> None:
    rig = rigs(kind, chain(AdaptiveLimit(initial=10), reject_when_reached(2)))
    rig.hold(2)
    accepted, refused = attempt(rig, 8)
    assert (len(accepted), len(refused)) == (2, 6)
    assert all("backlog" in str(exc) for exc in refused)  # reject_when_reached decided.
    check_counts(rig, attempts=10, refused=6)
    finish_all(rig)


@pytest.mark.core
def test_refusals_on_the_synchronous_executor(rigs: Callable[..., Rig]) -> None:
    """Nothing ever waits for a worker there: only what looks at calls in flight refuses."""
    nothing = rigs("synchronous", reject_when_reached(0))
    assert attempt(nothing, 5)[0] == []
    check_counts(nothing, attempts=5, refused=5)

    queue_policies = rigs("synchronous", chain(reject_when_reached(1), codel(0.001, 0.001)))
    queue_policies.hold(2)  # Two callers inside their calls: backlog still 0.
    eventlet.sleep(0.01)
    accepted, refused = attempt(queue_policies, 5)
    assert (len(accepted), refused) == (5, [])
    check_counts(queue_policies, attempts=7, refused=0)

    adaptive = rigs("synchronous", AdaptiveLimit(initial=3))
    adaptive.hold(3)
    accepted, refused = attempt(adaptive, 5)
    assert (accepted, len(refused)) == ([], 5)
    check_counts(adaptive, attempts=8, refused=5)

    chained = rigs("synchronous", chain(reject_when_reached(1), AdaptiveLimit(initial=2)))
    chained.hold(2)
    accepted, refused = attempt(chained, 4)
    assert (accepted, len(refused)) == ([], 4)
    check_counts(chained, attempts=6, refused=4)
    for rig in (queue_policies, adaptive, chained):
        finish_all(rig)


@pytest.mark.core
def test_chain_stops_at_the_first_refusal_and_gives_each_member_the_same_arguments(
    rigs: Callable[..., Rig],
) -> None:
    seen: list[tuple[str, Any, int]] = []

    def recorder(name: str) -> Callable[[Any, int], None]:
        def record(executor: Any, backlog: int) -> None:
            seen.append((name, executor, backlog))

        return record

    rig = rigs("green", chain(recorder("a"), reject_when_reached(1), recorder("b")))
    rig.hold(2)
    rig.submit_token_call()
    with pytest.raises(RejectedSubmission):
        rig.submit_token_call()
    executor = rig.executor
    assert seen == [
        ("a", executor, 0),
        ("b", executor, 0),
        ("a", executor, 0),
        ("b", executor, 0),
        ("a", executor, 0),
        ("b", executor, 0),
        ("a", executor, 1),
    ]


# -- block_when_reached ------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("how", ["green", "native"])
@pytest.mark.parametrize("kind", QUEUEING)
def test_block_when_reached_waits_for_room_then_accepts(
    rigs: Callable[..., Rig], kind: str, how: str
) -> None:
    """While one submitter waits, green threads keep running; one call ending lets it in."""
    policy = block_when_reached(1)
    rig = rigs(kind, policy)
    rig.hold(3)  # Two running, one waiting for a worker: the backlog is at 1.
    assert rig.executor.backlog == 1
    with Ticker() as ticker:
        submitter = Submitter(how, rig.executor)
        until(lambda: policy.waiting == 1)
        ticks = ticker.ticks
        until(lambda: ticker.ticks >= ticks + 20)  # The hub runs while it waits.
        assert not submitter.done
        assert policy.waiting == 1
        assert rig.executor.statistics.submitted == 3
        rig.release(1)  # A call ends, the waiting one starts: the backlog falls to 0.
        future = submitter.wait()
    assert isinstance(future, greenpool.Future)
    assert policy.waiting == 0
    stats = rig.executor.statistics
    assert (stats.submitted, stats.rejected) == (4, 0)
    finish_all(rig)
    assert future.result(timeout=5) == 1


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_block_when_reached_admits_green_and_native_waiters_in_arrival_order(
    rigs: Callable[..., Rig], kind: str
) -> None:
    record = Admissions()
    admitted, who = record.order, record.who
    policy = block_when_reached(1)
    rig = rigs(kind, chain(policy, record))
    rig.hold(3)  # Two running, one waiting for a worker.
    submitters = []
    for index, how in enumerate(["green", "native"] * 3 + ["native", "green"]):
        submitters.append(Submitter(how, rig.executor, who=who, index=index))
        until(lambda index=index: policy.waiting == index + 1)
    assert admitted == []
    rig.release(3)
    for submitter in submitters:
        assert isinstance(submitter.wait(), greenpool.Future), submitter.outcome
    assert admitted == list(range(8))
    finish_all(rig)
    assert [submitter.outcome.result() for submitter in submitters] == [1] * 8


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_a_newcomer_does_not_overtake_a_waiter_woken_for_room(
    rigs: Callable[..., Rig], kind: str
) -> None:
    """Room appears (a queued call is cancelled) and, before the woken waiter runs, another
    submit comes: it must queue behind the waiter, not take the room."""
    record = Admissions()
    admitted, who = record.order, record.who
    policy = block_when_reached(1)
    rig = rigs(kind, chain(policy, record))
    rig.hold(3)
    rig.until_running(2)
    queued = rig.held[2]
    waiter = Submitter("green", rig.executor, who=who, index=0)
    until(lambda: policy.waiting == 1)

    def make_room_once_the_waiter_is_in() -> None:
        until(lambda: admitted == [0])
        rig.release(3)

    eventlet.spawn(make_room_once_the_waiter_is_in)
    assert queued.cancel()  # Room: the waiter is woken, but cannot run before this yields.
    who[getcurrent()] = 1
    future = rig.executor.submit(identity, 7)
    assert admitted == [0, 1]
    assert future.result(timeout=10) == 7
    assert isinstance(waiter.wait(), greenpool.Future)
    finish_all(rig)


@pytest.mark.parametrize(("kind", "how"), [("green", "green"), ("thread", "native")])
def test_a_waiter_refused_on_its_retry_by_an_earlier_policy_does_not_hold_up_the_queue(
    rigs: Callable[..., Rig], kind: str, how: str
) -> None:
    """A woken waiter is checked again by the policies before block_when_reached in a chain
    (as chain's docstring says); if one of them refuses it, it has left, and whoever comes
    next with room is let in. The timeout only keeps a failure short."""
    refusing = False

    def switch(executor: Any, backlog: int) -> None:
        if refusing:
            raise RejectedSubmission("switched off")

    policy = block_when_reached(1, timeout=1)
    rig = rigs(kind, chain(switch, policy))
    rig.hold(3)
    rig.until_running(2)
    waiter = Submitter(how, rig.executor)
    until(lambda: policy.waiting == 1)
    refusing = True
    rig.release(1)  # Room: the waiter is woken, and refused by the switch on its retry.
    assert isinstance(waiter.wait(), RejectedSubmission)
    refusing = False
    assert rig.executor.backlog == 0
    assert isinstance(Submitter(how, rig.executor).wait(), greenpool.Future)
    assert policy.waiting == 0
    finish_all(rig)


@pytest.mark.parametrize(("kind", "interrupt"), [("green", "timeout"), ("thread", "kill")])
def test_a_waiter_interrupted_while_waiting_does_not_hold_up_the_queue(
    rigs: Callable[..., Rig], kind: str, interrupt: str
) -> None:
    """A green submitter whose wait for room is cut short (its own eventlet.Timeout, or a
    kill) has left the queue: the submitters after it are let in when there is room."""
    policy = block_when_reached(1, timeout=1)
    rig = rigs(kind, policy)
    rig.hold(3)
    rig.until_running(2)
    outcome: list[BaseException] = []

    def impatient() -> None:
        try:
            with eventlet.Timeout(0.05 if interrupt == "timeout" else 10):
                rig.executor.submit(identity, 1)
        except BaseException as exc:
            outcome.append(exc)
            raise

    thread = eventlet.spawn(impatient)
    until(lambda: policy.waiting == 1)
    if interrupt == "kill":
        thread.kill()
    else:
        with pytest.raises(eventlet.Timeout):
            thread.wait()
    assert len(outcome) == 1
    patient = Submitter("green", rig.executor)
    until(lambda: policy.waiting >= 1)
    rig.release(1)  # Room: the one that is still waiting is let in.
    assert isinstance(patient.wait(), greenpool.Future)
    assert policy.waiting == 0
    finish_all(rig)


@pytest.mark.parametrize("how", ["green", "native"])
@pytest.mark.parametrize("kind", QUEUEING)
def test_a_wait_for_room_that_times_out_is_a_counted_rejection(
    rigs: Callable[..., Rig], kind: str, how: str
) -> None:
    policy = block_when_reached(1, timeout=0.05)
    rig = rigs(kind, policy)
    rig.hold(3)
    outcome = Submitter(how, rig.executor).wait()
    assert isinstance(outcome, RejectedSubmission)
    assert policy.waiting == 0
    check_counts(rig, attempts=4, refused=1)
    rig.release(1)  # Room again: the next submit is let in.
    until(lambda: rig.executor.backlog == 0)
    assert isinstance(Submitter(how, rig.executor).wait(), greenpool.Future)
    check_counts(rig, attempts=5, refused=1)
    finish_all(rig)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_block_when_reached_with_timeout_zero_refuses_at_once(
    rigs: Callable[..., Rig], kind: str
) -> None:
    policy = block_when_reached(1, timeout=0)
    rig = rigs(kind, policy)
    rig.hold(3)
    with Ticker() as ticker:
        ticks = ticker.ticks
        with pytest.raises(RejectedSubmission):
            rig.executor.submit(identity, 1)
        assert ticker.ticks == ticks  # Refused without ever yielding to the hub.
    assert isinstance(Submitter("native", rig.executor).wait(), RejectedSubmission)
    assert policy.waiting == 0
    check_counts(rig, attempts=5, refused=2)
    finish_all(rig)


@pytest.mark.core
@pytest.mark.parametrize("shutdown_from", ["green", "native"])
@pytest.mark.parametrize("kind", QUEUEING)
def test_shutdown_wakes_waiting_submitters_with_runtime_error(
    rigs: Callable[..., Rig], kind: str, shutdown_from: str
) -> None:
    policy = block_when_reached(1)
    rig = rigs(kind, policy)
    rig.hold(3)
    rig.until_running(2)
    waiters = [Submitter("green", rig.executor), Submitter("native", rig.executor)]
    until(lambda: policy.waiting == 2)
    ended = threading.Event()

    def shut_down() -> None:
        rig.executor.shutdown(wait=True)
        ended.set()

    if shutdown_from == "green":
        eventlet.spawn(shut_down)
    else:
        threading.Thread(target=shut_down, daemon=True).start()
    for waiter in waiters:
        assert isinstance(waiter.wait(), RuntimeError), waiter.outcome
    # Woken by shutdown itself: the calls in flight have not ended, shutdown still waits for them.
    assert rig.executor.statistics.running == 2
    assert not ended.is_set()
    assert policy.waiting == 0
    rig.release(1000)
    until(ended.is_set)
    stats = rig.executor.statistics
    assert (stats.submitted, stats.rejected, stats.executed) == (3, 0, 3)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_a_delayed_call_falling_due_without_room_is_refused(
    rigs: Callable[..., Rig], kind: str
) -> None:
    policy = block_when_reached(1)
    rig = rigs(kind, policy)
    rig.hold(3)
    waiter = Submitter("green", rig.executor)
    until(lambda: policy.waiting == 1)
    delayed = rig.executor.submit_after(0.01, identity, 2)
    until(delayed.done)
    assert isinstance(delayed.exception(), RejectedSubmission)
    stats = rig.executor.statistics
    assert (stats.submitted, stats.rejected, stats.scheduled) == (3, 1, 0)
    # The submitter that was waiting still waits, and is let in once there is room.
    assert policy.waiting == 1
    assert not waiter.done
    rig.release(1)
    assert isinstance(waiter.wait(), greenpool.Future)
    finish_all(rig)
    # With room, a delayed call is accepted and runs.
    assert rig.executor.submit_after(0.01, identity, 3).result(timeout=10) == 3
    check_counts(rig, attempts=6, refused=1)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_the_hubs_own_greenlet_is_refused_at_once_rather_than_deadlock(
    rigs: Callable[..., Rig], kind: str
) -> None:
    policy = block_when_reached(1)
    rig = rigs(kind, policy)
    outcomes: list[Any] = []

    def from_the_hub() -> None:
        try:
            outcomes.append(rig.executor.submit(identity, 4))
        except BaseException as exc:
            outcomes.append(exc)

    hub = eventlet.hubs.get_hub()
    hub.schedule_call_global(0, from_the_hub)  # With room: accepted as usual.
    until(lambda: len(outcomes) == 1)
    assert outcomes[0].result(timeout=10) == 4
    rig.hold(3)
    with Ticker() as ticker:
        hub.schedule_call_global(0, from_the_hub)
        until(lambda: len(outcomes) == 2)
        assert isinstance(outcomes[1], RejectedSubmission), outcomes[1]
        assert "hub" in str(outcomes[1])
        ticks = ticker.ticks
        until(lambda: ticker.ticks > ticks)  # The hub goes on.
    assert policy.waiting == 0
    check_counts(rig, attempts=5, refused=1)
    finish_all(rig)


@pytest.mark.core
def test_block_when_reached_never_waits_on_the_synchronous_executor(
    rigs: Callable[..., Rig],
) -> None:
    policy = block_when_reached(1, timeout=0)
    rig = rigs("synchronous", policy)
    rig.hold(3)  # Three callers inside their calls; nobody waits for a worker.
    assert rig.executor.submit(identity, 6).result() == 6
    check_counts(rig, attempts=4, refused=0)
    finish_all(rig)


@pytest.mark.parametrize("kind", ["green", "thread"])
def test_a_waiting_policy_in_a_chain_is_woken_by_calls_ending(
    rigs: Callable[..., Rig], kind: str
) -> None:
    """The chain attaches its members: block_when_reached hears calls end through it."""
    policy = block_when_reached(1)
    rig = rigs(kind, chain(codel(), AdaptiveLimit(initial=50), policy))
    rig.hold(3)
    waiter = Submitter("native", rig.executor)
    until(lambda: policy.waiting == 1)
    rig.release(1)
    assert isinstance(waiter.wait(), greenpool.Future)
    finish_all(rig)


# -- codel -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_codel_never_refuses_bursts_that_drain(rigs: Callable[..., Rig], kind: str) -> None:
    """Real time, every kind: many fast calls at once, again and again, all accepted."""
    policy = codel(target=0.05, interval=0.2)
    rig = rigs(kind, policy)
    futures = []
    for _ in range(6):
        futures.extend(rig.executor.submit(identity, i) for i in range(40))
        until(lambda: rig.executor.in_flight == 0)
    assert [future.result() for future in futures] == list(range(40)) * 6
    assert (rig.executor.statistics.rejected, policy.standing) == (0, False)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_codel_never_refuses_a_burst_above_target_for_less_than_an_interval(
    rigs: Callable[..., Rig], kind: str, clock: FakeClock
) -> None:
    policy = codel(target=0.01, interval=1.0)
    rig = rigs(kind, policy)
    rig.hold(2)
    attempt(rig, 20)  # A burst: it waits for the workers.
    eventlet.sleep(0.03)  # Above target...
    for _ in range(9):  # ...for most of an interval, with arrivals all along.
        attempt(rig, 1)
        clock.advance(0.1)
    rig.drain()
    clock.advance(5.0)
    attempt(rig, 1)  # Drained: below target.
    check_counts(rig, attempts=32, refused=0)
    assert not policy.standing
    finish_all(rig)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_codel_refuses_a_queue_standing_above_target_for_an_interval(
    rigs: Callable[..., Rig], kind: str, clock: FakeClock
) -> None:
    policy = codel(target=0.01, interval=1.0)
    rig = rigs(kind, policy)
    rig.hold(2)
    attempt(rig, 1)
    eventlet.sleep(0.03)  # The oldest wait is above target (real time).
    assert rig.executor.oldest_wait > policy.target
    assert attempt(rig, 1)[1] == []  # First seen above: accepted.
    clock.advance(0.5)
    assert attempt(rig, 1)[1] == []  # Above for half an interval: accepted.
    assert not policy.standing
    clock.advance(0.5)
    assert len(attempt(rig, 1)[1]) == 1  # Above for a whole interval: standing, refused.
    assert policy.standing
    assert len(attempt(rig, 5)[1]) == 5  # Standing and above: every submit refused.
    check_counts(rig, attempts=11, refused=6)
    finish_all(rig)


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_codel_accepts_again_once_the_queue_drains_and_leaves_standing_after_an_interval(
    rigs: Callable[..., Rig], kind: str, clock: FakeClock
) -> None:
    policy = codel(target=0.01, interval=1.0)
    rig = rigs(kind, policy)

    def stand() -> None:
        """Make the oldest wait rise above target (both workers busy, one call waiting)."""
        rig.hold(3)
        eventlet.sleep(0.03)

    stand()
    attempt(rig, 1)
    clock.advance(1.0)
    assert len(attempt(rig, 1)[1]) == 1
    assert policy.standing
    rig.drain()
    # Below target: accepted at once, though the queue is still standing...
    assert attempt(rig, 1)[1] == []
    assert policy.standing
    clock.advance(0.5)
    # ...so back above target within the interval is refused at once.
    stand()
    assert len(attempt(rig, 1)[1]) == 1
    rig.drain()
    assert attempt(rig, 1)[1] == []  # Below target again, from now on.
    clock.advance(0.5)
    assert attempt(rig, 1)[1] == []
    assert policy.standing
    clock.advance(0.5)
    assert attempt(rig, 1)[1] == []  # A whole interval below target: no longer standing.
    assert not policy.standing
    # Not standing: above target is accepted again, until it lasts an interval.
    stand()
    assert attempt(rig, 2)[1] == []
    clock.advance(1.0)
    assert len(attempt(rig, 1)[1]) == 1
    assert policy.standing
    stats = rig.executor.statistics
    assert stats.rejected == 3
    assert stats.submitted + stats.rejected == 3 * 3 + 10
    finish_all(rig)


# -- AdaptiveLimit -----------------------------------------------------------------------

#: Per kind: workers, the downstream's slots, its unloaded run time, calls to learn from.
FALLING = {
    "green": (40, 4, 0.01, 200),
    "thread": (30, 4, 0.01, 200),
    "dynamic": (30, 4, 0.01, 200),
    "process": (6, 2, 0.02, 100),
}


def drive(
    rig: Rig, policy: AdaptiveLimit, seconds: float, calls: int, stop: Callable[[], bool]
) -> list[int]:
    """Keep as many downstream calls in flight as the policy lets in, until ``calls`` ended.

    Returns every limit seen. A refusal is the expected answer here; the
    driver just waits a little and tries again.
    """
    fn, args = rig.downstream_call(seconds)
    executor = rig.executor
    limits = [policy.limit]
    while executor.statistics.executed < calls and not stop():
        try:
            while True:
                executor.submit(fn, *args)
        except RejectedSubmission:
            pass
        eventlet.sleep(seconds / 5)
        limits.append(policy.limit)
    until(lambda: executor.in_flight == 0)
    limits.append(policy.limit)
    return limits


def drive_from_threads(
    rig: Rig,
    policy: AdaptiveLimit,
    seconds: float,
    calls: int,
    clients: int,
    stop: Callable[[], bool] = lambda: False,
) -> list[int]:
    """:func:`drive` for the synchronous executor: ``clients`` native threads, each in a loop."""
    fn, args = rig.downstream_call(seconds)
    executor = rig.executor
    limits = [policy.limit]

    def client() -> None:
        while executor.statistics.executed < calls and not stop():
            try:
                executor.submit(fn, *args)
            except RejectedSubmission:
                threading.Event().wait(seconds / 5)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        eventlet.sleep(seconds / 5)
        limits.append(policy.limit)
    limits.append(policy.limit)
    return limits


@pytest.mark.parametrize("kind", KINDS)
def test_adaptive_limit_falls_toward_the_downstream_capacity(
    rigs: Callable[..., Rig], kind: str
) -> None:
    policy = AdaptiveLimit(initial=20, min_limit=1, max_limit=100)
    if kind == "synchronous":
        capacity, seconds = 2, 0.01
        rig = rigs(kind, policy, capacity=capacity)
        limits = drive_from_threads(rig, policy, seconds, calls=150, clients=10)
    else:
        workers, capacity, seconds, calls = FALLING[kind]
        rig = rigs(kind, policy, workers=workers, capacity=capacity)
        limits = drive(rig, policy, seconds, calls, stop=lambda: False)
    assert all(1 <= limit <= 100 for limit in limits), limits
    assert policy.limit <= 2 * capacity, limits
    assert policy.baseline is not None and policy.baseline >= seconds * 0.9
    stats = rig.executor.statistics
    assert stats.rejected > 0
    assert stats.executed == stats.submitted


#: Per kind: workers, initial, max_limit.
RISING = {
    "green": (20, 4, 12),
    "thread": (16, 4, 12),
    "dynamic": (16, 4, 12),
    "synchronous": (12, 3, 8),
    "process": (10, 3, 8),
}


@pytest.mark.parametrize("kind", KINDS)
def test_adaptive_limit_rises_while_the_downstream_has_room(
    rigs: Callable[..., Rig], kind: str
) -> None:
    workers, initial, max_limit = RISING[kind]
    policy = AdaptiveLimit(initial=initial, min_limit=2, max_limit=max_limit, tolerance=0.5)
    seconds = 0.02
    rig = rigs(kind, policy, workers=workers, capacity=100)
    if kind == "synchronous":
        limits = drive_from_threads(
            rig, policy, seconds, 400, workers, stop=lambda: policy.limit >= max_limit
        )
    else:
        limits = drive(rig, policy, seconds, 600, stop=lambda: policy.limit >= max_limit)
    assert all(2 <= limit <= max_limit for limit in limits), limits
    assert max(limits) == max_limit, limits
    assert rig.executor.statistics.executed == rig.executor.statistics.submitted


@pytest.mark.parametrize("kind", ["green", "thread"])
def test_adaptive_limit_never_falls_below_min_limit(rigs: Callable[..., Rig], kind: str) -> None:
    policy = AdaptiveLimit(initial=12, min_limit=3, max_limit=12)
    rig = rigs(kind, policy, workers=20, capacity=1)
    limits = drive(rig, policy, 0.005, 120, stop=lambda: False)
    assert all(3 <= limit <= 12 for limit in limits), limits
    assert policy.limit == 3, limits


def test_a_call_the_process_pool_could_not_send_does_not_stop_adaptive_limit_learning(
    rigs: Callable[..., Rig],
) -> None:
    """A call that fails to pickle is failed at once, with a run time of 0.0; it never ran,
    so it says nothing of the downstream's unloaded run time. Learnt as the baseline, a 0.0
    would stay 0.0 for good (it only creeps up by a factor) and turn off every cut."""
    workers, capacity, seconds, calls = FALLING["process"]
    policy = AdaptiveLimit(initial=20, min_limit=1, max_limit=100)
    rig = rigs("process", policy, workers=workers, capacity=capacity)
    error = rig.executor.submit(lambda: None).exception(timeout=10)  # Cannot be pickled.
    assert error is not None and "pickle" in str(error), error
    limits = drive(rig, policy, seconds, calls, stop=lambda: False)
    assert policy.limit <= 2 * capacity, (limits, policy.baseline)
    assert policy.baseline is not None and policy.baseline > 0.0, policy.baseline


@pytest.mark.core
@pytest.mark.parametrize("kind", QUEUEING)
def test_cancelled_calls_are_not_samples(rigs: Callable[..., Rig], kind: str) -> None:
    policy = AdaptiveLimit(initial=6, min_limit=1, max_limit=100)
    window = max(_adaptive.MIN_WINDOW, policy.limit)
    rig = rigs(kind, policy)
    for i in range(window - 2):
        assert rig.executor.submit(identity, i).result(timeout=10) == i
    rig.hold(2)
    rig.until_running(2)
    queued, _ = attempt(rig, 2)
    assert all(future.cancel() for future in queued)
    queued, _ = attempt(rig, 2)
    rig.executor.shutdown(wait=False, cancel_futures=True)
    until(lambda: all(future.cancelled() for future in queued))
    assert rig.executor.statistics.cancelled == 4
    # Four calls ended cancelled: had they counted, the window would have closed.
    assert policy.baseline is None
    rig.release(1)
    until(lambda: rig.executor.statistics.executed == window - 1)
    assert policy.baseline is None
    rig.release(1)  # The window's last sample.
    until(lambda: policy.baseline is not None)
    assert rig.executor.statistics.executed == window


# -- invariants of random sequences -------------------------------------------------------

POLICIES = {
    "reject_when_reached": lambda draw: reject_when_reached(draw(st.integers(0, 4))),
    "codel": lambda draw: codel(
        draw(st.sampled_from([0.0005, 0.002, 0.01])), draw(st.sampled_from([0.001, 0.005, 0.02]))
    ),
    "AdaptiveLimit": lambda draw: AdaptiveLimit(
        draw(st.integers(1, 6)), 1, draw(st.integers(6, 12))
    ),
    "block_when_reached": lambda draw: block_when_reached(
        draw(st.integers(1, 3)), draw(st.sampled_from([0, 0.002, 0.01]))
    ),
}


@st.composite
def policies(draw: Any) -> Any:
    names = draw(st.lists(st.sampled_from(list(POLICIES)), min_size=1, max_size=3))
    made = [POLICIES[name](draw) for name in names]
    if len(made) == 1 and draw(st.booleans()):
        return made[0]
    return chain(*made)


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.sampled_from([0.0, 0.0, 0.001, 0.003]), st.booleans()),
        st.tuples(st.just("cancel"), st.integers(0, 40), st.just(False)),
        st.tuples(st.just("pause"), st.sampled_from([0.0, 0.002]), st.just(False)),
    ),
    min_size=1,
    max_size=30,
)


def green_call(seconds: float, fails: bool) -> float:
    eventlet.sleep(seconds)
    if fails:
        raise ValueError(seconds)
    return seconds


def native_call(seconds: float, fails: bool) -> float:
    threading.Event().wait(seconds)
    if fails:
        raise ValueError(seconds)
    return seconds


def run_operations(executor: Any, call: Callable[..., Any], operations: list[Any]) -> None:
    futures = []
    attempts = 0
    for operation, value, fails in operations:
        if operation == "submit":
            attempts += 1
            try:
                futures.append(executor.submit(call, value, fails))
            except RejectedSubmission:
                pass
        elif operation == "cancel":
            if futures:
                futures[value % len(futures)].cancel()
        else:
            eventlet.sleep(value)
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert all(future.done() for future in futures)
    assert stats.submitted == len(futures)
    assert stats.submitted == stats.executed + stats.cancelled
    assert stats.submitted + stats.rejected == attempts
    assert stats.cancelled == sum(future.cancelled() for future in futures)
    failed = sum(not future.cancelled() and future.exception() is not None for future in futures)
    assert stats.failures == failed
    assert (stats.pending, stats.running, executor.in_flight) == (0, 0, 0)


def bounded(executor: Any, run: Callable[[], None]) -> None:
    """``run()``, failing (so that hypothesis shrinks it) if it takes over 10 s; then shut down."""
    try:
        with eventlet.Timeout(10, AssertionError(f"still running after 10 s: {executor!r}")):
            run()
    finally:
        with eventlet.Timeout(5, False):
            executor.shutdown(wait=True, cancel_futures=True)


@pytest.mark.core
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), workers=st.integers(1, 3), operations=OPERATIONS)
def test_random_submissions_under_random_policies_keep_the_counts_green(
    policy: Any, workers: int, operations: list[Any]
) -> None:
    executor = greenpool.GreenThreadPoolExecutor(workers, policy)
    bounded(executor, lambda: run_operations(executor, green_call, operations))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), workers=st.integers(1, 3), operations=OPERATIONS)
def test_random_submissions_under_random_policies_keep_the_counts_thread(
    policy: Any, workers: int, operations: list[Any]
) -> None:
    executor = greenpool.ThreadPoolExecutor(workers, policy)
    bounded(executor, lambda: run_operations(executor, native_call, operations))


@pytest.mark.core
@pytest.mark.serial  # The limit it learns follows latencies measured under its own load.
def test_adaptive_limit_grows_again_from_a_fractional_limit_once_the_downstream_recovers() -> None:
    """A congested window leaves a fractional limit (2.4, say, held at 2); once the downstream
    has room again the limit must grow from there, not stay pinned below the push threshold."""
    import eventlet.semaphore

    policy = AdaptiveLimit(initial=20, min_limit=1, max_limit=50)
    executor = greenpool.GreenThreadPoolExecutor(100, check_and_reject=policy)
    slots: list[Any] = [eventlet.semaphore.Semaphore(2)]  # Capacity 2, then unbounded.

    def call() -> None:
        slot = slots[0]
        if slot is None:
            eventlet.sleep(0.01)
            return
        with slot:
            eventlet.sleep(0.01)

    def offer(seconds: float) -> None:
        end = eventlet.hubs.get_hub().clock() + seconds
        clients = eventlet.GreenPool(10_000)
        while eventlet.hubs.get_hub().clock() < end:
            for _ in range(5):
                clients.spawn_n(lambda: _quietly(executor, call))
            eventlet.sleep(0.002)
        clients.waitall()

    try:
        offer(1.5)
        assert policy.limit <= 4, policy  # Learnt the small capacity.
        slots[0] = None
        offer(1.5)
        assert policy.limit >= 10, policy
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _quietly(executor: Any, call: Callable[[], None]) -> None:
    try:
        executor.submit(call).result()
    except RejectedSubmission:
        pass
