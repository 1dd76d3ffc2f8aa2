"""A state machine over every executor kind: the statistics add up after every step (issue 14).

A hypothesis ``RuleBasedStateMachine`` drives one executor of a kind (green,
thread, dynamic, synchronous, process; the dask executor is left out, a
call there costs milliseconds and a cluster seconds to start, see
``tests/test_dask.py``) through random sequences of ``submit`` (a call that
returns, one that raises, one that sleeps a few ms), ``submit_after`` (0 to
20 ms), ``cancel`` of a future it holds (also at the moment a delayed call's
check is under way), ``map`` over a short list (consumed), waiting on every
future, ``shutdown`` with and without ``wait`` and ``cancel_futures`` (and
again), short pauses, and a ``check_and_reject`` (:class:`Gate`) that the
model switches between admitting and refusing everything, and that may
take a moment over delayed calls.

After every step (the ``@invariant``): the snapshot adds up and nothing in
it is negative or went down; ``submitted + rejected`` is exactly the number
of times ``check_and_reject`` was asked (each direct submit, each call of a
``map``, each delayed call falling due), read together with it under the
executor's submit lock; ``submitted`` covers every call the model saw
accepted and ``rejected`` every refusal it saw; no done-callback ran twice.
After waiting on everything, or ``shutdown(wait=True)``, and at teardown
(a shutdown that must return within ``BOUND`` seconds): nothing pending,
running or scheduled, no worker left after a ``shutdown(wait=True)``, every
held future done with the outcome its call implies, ``executed`` and
``failures`` exactly what the held futures and the maps account for,
``cancelled`` and ``rejected`` exactly what the model saw plus one for each
delayed call checked after it was cancelled (none for one cancelled before
it fell due), every done-callback run exactly once. After a shutdown,
``submit``, ``submit_after`` and ``map`` raise ``RuntimeError`` without
asking ``check_and_reject``.

Marked ``stress``: CI runs the sizes below (about 11 s here); the issue's
bigger run (about 2 minutes) is
``GREENPOOL_STRESS=full python -m pytest -m stress tests/stress``. The
hypothesis database is off, so each run starts afresh. CI does not shrink a
failure (shrinking one that hangs takes minutes): it prints the steps as
generated and the ``@reproduce_failure`` blob that replays them; the full
size shrinks. At the end, the defects the machine found only by chance are
pinned by plain tests.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import eventlet
import greenlet
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from pool_tasks import TaskError, nap, raise_task_error, square

import greenpool
from greenpool import RejectedSubmission
from greenpool.waiters import wait_for_all

FULL = os.environ.get("GREENPOOL_STRESS") == "full"

#: Examples (fresh executors) and steps per example, per kind; process pools
#: cost a forkserver round trip to start, so they get fewer.
SIZES: dict[str, tuple[int, int]] = (
    {
        "green": (300, 60),
        "thread": (300, 60),
        "dynamic": (300, 60),
        "synchronous": (300, 60),
        "process": (150, 50),
    }
    if FULL
    else {
        "green": (40, 40),
        "thread": (40, 40),
        "dynamic": (30, 40),
        "synchronous": (40, 40),
        "process": (25, 30),
    }
)

pytestmark = [pytest.mark.stress, pytest.mark.timeout(1200 if FULL else 120)]

#: Longer than any wait here can take unless something hangs.
BOUND = 10.0
#: Once a wait has hung on a kind, shrinking replays the failure hundreds of
#: times: later waits on that kind give up after this, so that the report
#: comes before the test's timeout (each failure says which bound it hit). A
#: process pool gets longer: a fresh one takes a moment to start its workers.
BOUND_AFTER_A_HANG = {
    "green": 0.1,
    "thread": 0.1,
    "dynamic": 0.1,
    "synchronous": 0.1,
    "process": 2.0,
}
_hung: set[str] = set()


def make_executor(kind: str, workers: int, gate: Gate) -> greenpool.Executor:
    if kind == "green":
        return greenpool.GreenThreadPoolExecutor(workers, check_and_reject=gate)
    if kind == "thread":
        return greenpool.ThreadPoolExecutor(workers, check_and_reject=gate)
    if kind == "dynamic":
        return greenpool.DynamicThreadPoolExecutor(workers, check_and_reject=gate)
    if kind == "synchronous":
        return greenpool.SynchronousExecutor(check_and_reject=gate)
    assert kind == "process"
    return greenpool.ProcessPoolExecutor(workers, check_and_reject=gate)


class Gate:
    """The executor's ``check_and_reject``: counts every call, refuses while ``refusing``.

    The executor calls it under its submit lock, so its counts need no lock
    of their own. Calls made in the test's own thread and greenlet (direct
    submits and ``map``) are counted apart from the rest (delayed calls
    falling due, in the alarm's thread or greenlet), so the model can
    predict them exactly.
    """

    def __init__(self) -> None:
        self.refusing = False
        self.calls = 0
        self.calls_from_test = 0
        self.errors: list[str] = []
        #: Whether a delayed call's check takes a moment (green: yields to the
        #: hub; elsewhere sleeps, releasing the GIL), so that a cancel from the
        #: test lands while it runs: the window greenpool/_delayed.py's
        #: ``_fall_due`` must count right.
        self.slow_when_due = False
        #: True while a slow check of a delayed call is under way.
        self.in_due_check = False
        self._test_greenlet = greenlet.getcurrent()
        self._test_thread = threading.get_ident()
        self.executor: Any = None

    def __call__(self, executor: Any, backlog: int) -> None:
        self.calls += 1
        if greenlet.getcurrent() is self._test_greenlet and (
            threading.get_ident() == self._test_thread
        ):
            self.calls_from_test += 1
        elif self.slow_when_due:
            self.in_due_check = True
            if isinstance(executor, greenpool.GreenThreadPoolExecutor):
                eventlet.sleep(0.001)
            else:
                time.sleep(0.001)
            self.in_due_check = False
        if executor is not self.executor:
            self.errors.append(f"check_and_reject was given {executor!r}, not its executor")
        if not isinstance(backlog, int) or backlog < 0:
            self.errors.append(f"check_and_reject was given a backlog of {backlog!r}")
        if isinstance(self.executor, greenpool.SynchronousExecutor) and backlog != 0:
            self.errors.append(f"the synchronous executor gave a backlog of {backlog}, not 0")
        if self.refusing:
            raise RejectedSubmission("refused by the state machine's gate")


class Held:
    """A future the model holds (from ``submit`` or ``submit_after``) and what it expects of it."""

    def __init__(
        self, future: Any, task: str, number: int, delayed: bool, refusable: bool, kind: str
    ) -> None:
        self.future = future
        self.task = task
        self.number = number
        self.delayed = delayed
        #: Whether the gate may have refused it: a delayed call scheduled
        #: while refusing, or before refusing was switched on again.
        self.refusable = refusable
        self.cancel_won = False
        #: Set by the model for a delayed call: a time on greenpool's clock
        #: (time.monotonic) before which the call cannot have fallen due.
        self.due_not_before = 0.0
        #: Cancelled (by cancel(), or by a shutdown with cancel_futures) by
        #: the time it cannot have fallen due yet: it must count nowhere, and
        #: check_and_reject must never be asked about it.
        self.cancelled_before_due = False
        #: Whether the model has looked at how it came to be cancelled.
        self.cancel_seen = False
        self.cancel_lost = False
        #: Threads that ran its done-callback (list.append is atomic).
        self.callbacks: list[int] = []
        self.label = f"{kind} {'delayed ' if delayed else ''}{task} call #{number}"
        future.add_done_callback(self._done)

    def _done(self, _future: Any) -> None:
        self.callbacks.append(threading.get_ident())


TASK_NAMES = ("ok", "fail", "sleep")


def task_call(task: str, number: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    if task == "ok":
        return square, (number,)
    if task == "fail":
        return raise_task_error, (f"call #{number} failed on purpose",)
    return nap, (0.001 + (number % 4) / 1000, number)


class ExecutorMachine(RuleBasedStateMachine):
    """One executor of ``kind`` and a model of what it must have done."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.executor: Any = None
        self.gate = Gate()
        self.held: list[Held] = []
        self.numbers = 0
        self.shut_down = False
        self.cancelled_by_shutdown = False
        #: Direct submits that returned a future, map calls the executor
        #: accepted (chunks, on the process pool), refusals the model saw.
        self.submits_accepted = 0
        self.map_calls_accepted = 0
        self.refusals_seen = 0
        self.checks_from_test = 0
        self.previous: greenpool.ExecutorStatistics | None = None
        #: Steps taken (counted by the invariant, which runs after each), and
        #: how many to take before a shutdown may come: drawn per example, so
        #: that most examples do not spend most of their steps shut down.
        self.steps = 0
        self.shutdown_not_before = 0

    # -- helpers -----------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Sleep so that the executor's work goes on: a green one only runs while the hub does."""
        if self.kind == "green":
            eventlet.sleep(seconds)
        else:
            time.sleep(seconds)

    @property
    def bound(self) -> float:
        return BOUND_AFTER_A_HANG[self.kind] if self.kind in _hung else BOUND

    def hung(self, message: str) -> AssertionError:
        if self.kind in _hung:
            message += f" (the shortened bound: a wait on {self.kind} hung for {BOUND} s before)"
        _hung.add(self.kind)
        return AssertionError(message)

    def bounded(self, what: str, fn: Callable[[], object]) -> None:
        """Run ``fn``, failing (instead of hanging the run) if it takes more than ``bound`` s."""
        bound = self.bound
        if self.kind == "green":
            # In the test's greenlet, as a green service would call it; it parks in the hub.
            try:
                with eventlet.Timeout(bound):
                    fn()
            except eventlet.Timeout:
                raise self.hung(f"{what} on {self.kind} did not return in {bound} s") from None
            return
        outcome: list[BaseException | None] = []

        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # Re-raised below, in the test's thread.
                outcome.append(exc)
            else:
                outcome.append(None)

        thread = threading.Thread(target=run, name=f"bounded {what}", daemon=True)
        thread.start()
        thread.join(bound)
        if thread.is_alive():
            raise self.hung(f"{what} on {self.kind} did not return in {bound} s")
        if outcome[0] is not None:
            raise outcome[0]

    def counted_together(self) -> tuple[int, greenpool.ExecutorStatistics]:
        """The gate's call count and a snapshot, read at one instant.

        The gate is called, and the submission it decides counted (submitted
        or rejected), under the executor's submit lock, by a direct submit
        and by a delayed call falling due alike (greenpool/_executor.py
        ``submit``, greenpool/_executor_delayed.py ``_submit_due_calls``).
        Read outside it, a delayed call falling due in another thread would
        sit between the two reads.
        """
        with self.executor._submit_lock:
            return self.gate.calls, self.executor.statistics

    def refused_after_shutdown(self, what: str, call: Callable[[], object]) -> None:
        before = self.executor.statistics
        with pytest.raises(RuntimeError, match="after shutdown"):
            call()
        after = self.executor.statistics
        assert self.gate.calls_from_test == self.checks_from_test, (
            f"{what} after shutdown asked check_and_reject before refusing"
        )
        assert after.scheduled <= before.scheduled, (
            f"{what} after shutdown scheduled something: {before.scheduled} -> {after.scheduled}"
        )

    def wait_for_callbacks(self) -> None:
        """Done-callbacks run after the future resolves, in the resolving thread: give them
        a moment, then each must have run exactly once."""
        deadline = time.monotonic() + self.bound
        while any(not held.callbacks for held in self.held):
            if time.monotonic() > deadline:
                missing = [held.label for held in self.held if not held.callbacks]
                raise self.hung(f"done-callbacks never ran, after {self.bound} s: {missing}")
            self.pause(0.001)
        for held in self.held:
            assert len(held.callbacks) == 1, (
                f"the done-callback of {held.label} ran {len(held.callbacks)} times, not once"
                f" (threads {held.callbacks}); future {held.future!r}"
            )

    def check_settled(self, when: str) -> None:
        """Everything accepted has ended: check each future and the totals exactly."""
        for held in self.held:
            assert held.future.done(), f"{when}: {held.label} is not done: {held.future!r}"
        self.wait_for_callbacks()
        checks, stats = self.counted_together()
        assert (stats.pending, stats.running, stats.scheduled) == (0, 0, 0), (
            f"{when}: pending {stats.pending}, running {stats.running}, scheduled"
            f" {stats.scheduled}, where every call has ended; {stats}"
        )
        ran = failed = refused = maybe_counted = direct_cancelled = delayed_fell_due = 0
        for held in self.held:
            future = held.future
            if future.cancelled():
                assert held.cancel_won or self.cancelled_by_shutdown, (
                    f"{when}: {held.label} was cancelled, by neither cancel() nor a"
                    " shutdown(cancel_futures=True)"
                )
                assert not held.cancel_lost, (
                    f"{when}: {held.label} ended cancelled after cancel() returned False"
                )
                if held.delayed:
                    # Counts nowhere if cancelled before it fell due; once in
                    # cancelled or rejected if while its check ran (then its
                    # check counts; see greenpool/_delayed.py _fall_due).
                    maybe_counted += not held.cancelled_before_due
                else:
                    direct_cancelled += 1
                continue
            delayed_fell_due += held.delayed
            error = future.exception(0)
            if isinstance(error, RejectedSubmission):
                assert held.delayed and held.refusable, (
                    f"{when}: {held.label} failed with {error!r}, but the gate admitted"
                    " everything from the moment it was made"
                )
                refused += 1
                continue
            ran += 1
            if held.task == "fail":
                assert isinstance(error, TaskError) and str(error) == (
                    f"call #{held.number} failed on purpose"
                ), f"{when}: {held.label} should have raised its TaskError, got {error!r}"
                failed += 1
            else:
                assert error is None, f"{when}: {held.label} raised {error!r}"
                expected = held.number**2 if held.task == "ok" else held.number
                assert future.result(0) == expected, (
                    f"{when}: {held.label} returned {future.result(0)!r}, not {expected!r}"
                )
        assert stats.failures == failed, (
            f"{when}: statistics.failures is {stats.failures}, but {failed} held futures"
            f" failed (map's calls never fail); {stats}"
        )
        assert stats.executed == ran + self.map_calls_accepted, (
            f"{when}: statistics.executed is {stats.executed}, but {ran} held futures ran"
            f" and map ran {self.map_calls_accepted} calls; {stats}"
        )
        # Each delayed call that fell due was checked once, and one cancelled
        # while its check ran was checked too (greenpool/_delayed.py
        # _fall_due): its check's answer is counted in cancelled or rejected,
        # beyond what the model saw. One cancelled before it fell due was
        # never checked and counts nowhere.
        checked_while_cancelled = checks - self.gate.calls_from_test - delayed_fell_due
        extra_cancelled = stats.cancelled - direct_cancelled
        extra_rejected = stats.rejected - self.refusals_seen - refused
        assert 0 <= checked_while_cancelled <= maybe_counted, (
            f"{when}: check_and_reject was asked {checks - self.gate.calls_from_test} times"
            f" for delayed calls, {delayed_fell_due} of which fell due uncancelled: that"
            f" leaves {checked_while_cancelled} checks of cancelled calls, where only"
            f" {maybe_counted} were cancelled late enough to have fallen due"
        )
        assert extra_cancelled >= 0 and extra_rejected >= 0, (
            f"{when}: statistics.cancelled {stats.cancelled} and rejected {stats.rejected}"
            f" fall short of the {direct_cancelled} submitted calls cancelled and the"
            f" {self.refusals_seen} + {refused} refusals the model saw; {stats}"
        )
        assert extra_cancelled + extra_rejected == checked_while_cancelled, (
            f"{when}: beyond what the model saw, {extra_cancelled} cancels and"
            f" {extra_rejected} refusals are counted, where exactly"
            f" {checked_while_cancelled} delayed calls were checked after being cancelled"
            f" (each check's answer counts once); {stats}"
        )

    def cancelled_by(self, shutdown_returned_at: float) -> None:
        """After a shutdown: the delayed calls it cancelled (held, newly cancelled, not by
        the model) were cancelled before they could fall due if it returned before then."""
        for held in self.held:
            if held.delayed and not held.cancel_seen and held.future.cancelled():
                held.cancel_seen = True
                held.cancelled_before_due = shutdown_returned_at < held.due_not_before

    def hold(
        self, future: Any, task: str, number: int, delayed: bool, due_not_before: float = 0.0
    ) -> None:
        refusable = delayed and self.gate.refusing
        held = Held(future, task, number, delayed, refusable, self.kind)
        held.due_not_before = due_not_before
        self.held.append(held)

    def next_number(self) -> int:
        self.numbers += 1
        return self.numbers

    # -- rules -----------------------------------------------------------

    @initialize(
        workers=st.integers(1, 3),
        slow_when_due=st.booleans(),
        shutdown_not_before=st.integers(0, 20),
    )
    def make(self, workers: int, slow_when_due: bool, shutdown_not_before: int) -> None:
        self.gate.slow_when_due = slow_when_due
        self.shutdown_not_before = shutdown_not_before
        if self.kind == "process":
            workers = min(workers, 2)  # Two cores: more processes only cost start-up time.
        if self.kind == "dynamic":
            workers = max(workers, 2)  # Above its min_workers of 1, so that it can grow.
        self.executor = make_executor(self.kind, workers, self.gate)
        self.gate.executor = self.executor

    @rule(tasks=st.lists(st.sampled_from(TASK_NAMES), min_size=1, max_size=4))
    def submit(self, tasks: list[str]) -> None:
        for task in tasks:
            number = self.next_number()
            fn, args = task_call(task, number)
            if self.shut_down:
                self.refused_after_shutdown(
                    "submit", functools.partial(self.executor.submit, fn, *args)
                )
                continue
            refusing = self.gate.refusing
            try:
                future = self.executor.submit(fn, *args)
            except RejectedSubmission:
                assert refusing, "submit raised RejectedSubmission while the gate admits everything"
                self.refusals_seen += 1
            else:
                assert not refusing, "submit returned a future while the gate refuses everything"
                self.submits_accepted += 1
                self.hold(future, task, number, delayed=False)
            self.checks_from_test += 1
            assert self.gate.calls_from_test == self.checks_from_test, (
                "submit did not ask check_and_reject exactly once"
            )

    @rule(
        calls=st.lists(
            st.tuples(st.sampled_from(TASK_NAMES), st.integers(0, 20)), min_size=1, max_size=4
        )
    )
    def submit_after(self, calls: list[tuple[str, int]]) -> None:
        for task, delay_ms in calls:
            number = self.next_number()
            fn, args = task_call(task, number)
            delay = delay_ms / 1000
            if self.shut_down:
                self.refused_after_shutdown(
                    "submit_after", functools.partial(self.executor.submit_after, delay, fn, *args)
                )
                continue
            due_not_before = time.monotonic() + delay
            future = self.executor.submit_after(delay, fn, *args)
            self.hold(future, task, number, delayed=True, due_not_before=due_not_before)
            assert self.gate.calls_from_test == self.checks_from_test, (
                "submit_after asked check_and_reject in its caller: it must ask when the call"
                " falls due, in the alarm's thread or greenlet"
            )

    def try_cancel(self, held: Held) -> None:
        future = held.future
        was_cancelled = future.cancelled()
        if future.cancel():
            assert future.cancelled(), f"cancel() of {held.label} returned True: {future!r}"
            assert future.done(), f"{held.label} is cancelled but not done: {future!r}"
            if not was_cancelled:
                held.cancel_won = held.cancel_seen = True
                held.cancelled_before_due = time.monotonic() < held.due_not_before
        else:
            assert not was_cancelled, f"cancel() of the cancelled {held.label} returned False"
            assert not future.cancelled(), f"cancel() of {held.label} returned False: {future!r}"
            held.cancel_lost = True

    @rule(pick=st.integers(0, 3) | st.integers(0, 10**6))
    def cancel(self, pick: int) -> None:
        if self.held:
            self.try_cancel(self.held[-1 - pick % len(self.held)])  # The latest, as pick shrinks.

    @rule()
    def cancel_while_one_falls_due(self) -> None:
        """Wait (a little) for a delayed call's check to be under way, then cancel every
        delayed call not done: the one being checked among them. (Only with a slow
        gate; a precondition instead would make hypothesis give up on some examples.)"""
        live = [held for held in self.held if held.delayed and not held.future.done()]
        if not self.gate.slow_when_due or not live:
            return
        # Until the last of them is due, and a little more (the alarm's own delay).
        deadline = max(held.due_not_before for held in live) + 0.005
        while not self.gate.in_due_check and time.monotonic() < deadline:
            self.pause(0.0002)
        for held in live:
            if not held.future.done():
                self.try_cancel(held)

    @rule(length=st.integers(0, 6))
    def map(self, length: int) -> None:
        base = self.next_number()
        self.numbers += length
        items = list(range(base, base + length))
        if self.shut_down:
            if length:
                self.refused_after_shutdown(
                    "map", lambda: list(self.executor.map(square, items, timeout=self.bound))
                )
            else:
                assert list(self.executor.map(square, items)) == []
            return
        before = self.gate.calls_from_test
        if self.gate.refusing and length:
            with pytest.raises(RejectedSubmission):
                self.executor.map(square, items, timeout=self.bound)
            asked = self.gate.calls_from_test - before
            assert asked == 1, f"a refused map asked check_and_reject {asked} times, not once"
            self.refusals_seen += 1
        else:
            try:
                results = list(self.executor.map(square, items, timeout=self.bound))
            except TimeoutError:
                raise self.hung(f"a map of {length} items took over {self.bound} s") from None
            assert results == [x * x for x in items], f"map gave {results} for {items}"
            asked = self.gate.calls_from_test - before
            if self.executor.map_batches:
                # Chunks of at least one item, each one call and one check.
                assert min(1, length) <= asked <= length, (
                    f"a map of {length} items in chunks asked check_and_reject {asked} times"
                )
            else:
                assert asked == length, (
                    f"a map of {length} items asked check_and_reject {asked} times"
                )
            self.map_calls_accepted += asked
        self.checks_from_test += asked

    @rule(on=st.booleans())
    def switch_gate(self, on: bool) -> None:
        if on and not self.gate.refusing:
            for held in self.held:
                if held.delayed and not held.future.done():
                    held.refusable = True
        self.gate.refusing = on

    @rule(milliseconds=st.integers(0, 10))
    def pause_a_moment(self, milliseconds: int) -> None:
        self.pause(milliseconds / 1000)

    @rule()
    def wait_for_everything(self) -> None:
        futures = [held.future for held in self.held]
        bound = self.bound
        _, not_done = wait_for_all(futures, timeout=bound)
        if not_done:
            raise self.hung(
                f"{len(not_done)} of {len(futures)} futures not done after {bound} s:"
                f" {sorted(map(repr, not_done))[:5]}"
            )
        self.check_settled("after waiting on every future")

    @rule(wait=st.booleans(), cancel_futures=st.booleans())
    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        if self.steps < self.shutdown_not_before:
            return
        self.bounded(
            f"shutdown(wait={wait}, cancel_futures={cancel_futures})",
            lambda: self.executor.shutdown(wait=wait, cancel_futures=cancel_futures),
        )
        self.shut_down = True
        self.cancelled_by_shutdown |= cancel_futures
        self.cancelled_by(shutdown_returned_at=time.monotonic())
        assert not self.executor.alive, "alive after shutdown"
        if wait:
            when = f"after shutdown(wait=True, cancel_futures={cancel_futures})"
            assert self.executor.num_workers == 0, (
                f"{when}: {self.executor.num_workers} workers left"
            )
            self.check_settled(when)

    # -- after every step ------------------------------------------------

    @invariant()
    def statistics_add_up(self) -> None:
        if self.executor is None:
            return
        self.steps += 1
        # Read before the snapshot: a call cancelled by then is out of scheduled in it.
        delayed_live = sum(held.delayed and not held.future.cancelled() for held in self.held)
        checks, stats = self.counted_together()
        counts = {
            name: getattr(stats, name)
            for name in (
                "submitted",
                "executed",
                "failures",
                "cancelled",
                "rejected",
                "pending",
                "running",
                "scheduled",
                "started",
            )
        }
        negative = {name: value for name, value in counts.items() if value < 0}
        assert not negative, f"negative counts {negative} in {stats}"
        assert (
            stats.submitted == stats.executed + stats.cancelled + stats.pending + stats.running
        ), f"submitted != executed + cancelled + pending + running in {stats}"
        assert stats.started == stats.executed + stats.running, (
            f"started != executed + running in {stats}"
        )
        assert stats.failures <= stats.executed, f"more failures than executed calls in {stats}"
        assert stats.submitted + stats.rejected == checks, (
            f"check_and_reject was asked {checks} times, but submitted + rejected is"
            f" {stats.submitted} + {stats.rejected}: every admission attempt is counted once"
        )
        accepted = self.submits_accepted + self.map_calls_accepted
        assert accepted <= stats.submitted, (
            f"the model saw {self.submits_accepted} submits and {self.map_calls_accepted} map"
            f" calls accepted, but submitted is only {stats.submitted}"
        )
        assert self.refusals_seen <= stats.rejected, (
            f"the model saw {self.refusals_seen} refusals, but rejected is {stats.rejected}"
        )
        assert stats.scheduled <= delayed_live, (
            f"scheduled is {stats.scheduled}, but only {delayed_live} delayed calls are held"
            " and not cancelled"
        )
        if self.previous is not None:
            fell = {
                name: (getattr(self.previous, name), value)
                for name, value in counts.items()
                if name not in ("pending", "running", "scheduled")
                and value < getattr(self.previous, name)
            }
            assert not fell, f"counts went down since the last step: {fell}"
        self.previous = stats
        twice = [held.label for held in self.held if len(held.callbacks) > 1]
        assert not twice, f"done-callbacks ran more than once: {twice}"
        assert not self.gate.errors, f"check_and_reject saw: {self.gate.errors}"

    def teardown(self) -> None:
        if self.executor is None:
            return
        # Hypothesis calls this in a ``finally``: if a step failed, only clean
        # up, so that the report is that failure and not what followed from it.
        failing = sys.exc_info()[1] is not None
        try:
            self.bounded(
                "teardown's shutdown(wait=True, cancel_futures=True)",
                lambda: self.executor.shutdown(wait=True, cancel_futures=True),
            )
        except AssertionError:
            if failing:
                return
            raise
        if failing:
            return
        self.cancelled_by_shutdown = True
        self.cancelled_by(shutdown_returned_at=time.monotonic())
        self.check_settled("at teardown")
        self.statistics_add_up()


def machine_for(kind: str) -> type[ExecutorMachine]:
    examples, steps = SIZES[kind]

    class Machine(ExecutorMachine):
        pass

    Machine.kind = kind
    Machine.__name__ = Machine.__qualname__ = f"{kind.capitalize()}Machine"
    Machine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        print_blob=True,
        # CI does not shrink: shrinking a hang takes minutes even at the
        # shortened bound. A failure prints the steps as generated, and the
        # blob that replays them; the full size shrinks.
        phases=tuple(Phase) if FULL else (Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow],
    )
    return Machine


TestGreenMachine = machine_for("green").TestCase
TestThreadMachine = machine_for("thread").TestCase
TestDynamicMachine = machine_for("dynamic").TestCase
TestSynchronousMachine = machine_for("synchronous").TestCase
TestProcessMachine = machine_for("process").TestCase


# -- what the machine found, pinned ---------------------------------------
#
# The machine finds these by chance (a process pool's hang at teardown came
# once in about ten runs); each is pinned here on its own, in well under a
# second. The delayed-call defects it found (a cancelled delayed call that
# no wait ever saw done, check_and_reject asked about a call cancelled
# before it fell due, a check whose call was cancelled meanwhile counted
# nowhere) it catches in every run, so they are not repeated.


def test_a_process_pool_hands_out_the_calls_queued_behind_one_it_cannot_pickle() -> None:
    """A call that reaches no worker (it cannot be pickled, or was cancelled as it was handed
    out) left an idle worker beside the calls queued behind it, until the next submission,
    and a shutdown then waited for ever (greenpool/process/_manager.py ``_hand_out``)."""
    for _ in range(5):  # Before the fix, about two rounds in three stalled.
        executor = greenpool.ProcessPoolExecutor(1)
        try:
            unpicklable = executor.submit(lambda: 1)
            behind = [executor.submit(square, i) for i in range(3)]
            _, not_done = wait_for_all(behind, timeout=BOUND)
            assert not not_done, (
                f"{len(not_done)} of the 3 calls queued behind an unpicklable one were still"
                f" not done after {BOUND} s, with the pool's one worker idle"
            )
            assert [future.result(0) for future in behind] == [0, 1, 4]
            assert "pickle" in str(unpicklable.exception(BOUND)).lower()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)


@pytest.mark.parametrize("cancel_futures", [False, True])
def test_synchronous_shutdown_waits_for_a_delayed_call_running_in_its_timer_thread(
    cancel_futures: bool,
) -> None:
    """The synchronous executor runs a delayed call in its timer thread, its one worker:
    ``shutdown(wait=True)`` returned while one still ran (greenpool/synchronous.py)."""
    executor = greenpool.SynchronousExecutor()
    future = executor.submit_after(0, nap, 0.2, "slept")
    deadline = time.monotonic() + BOUND
    while not future.running():
        assert time.monotonic() < deadline, "the delayed call never started"
        time.sleep(0.001)
    executor.shutdown(wait=True, cancel_futures=cancel_futures)
    assert future.done() and future.result(0) == "slept", (
        f"shutdown(wait=True, cancel_futures={cancel_futures}) returned with {future!r}"
    )
    stats = executor.statistics
    assert (stats.running, stats.executed) == (0, 1), stats
