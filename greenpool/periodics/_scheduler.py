"""The scheduler behind ``PeriodicWorker``: the heap, due runs, parking and waking.

::

    PeriodicWorker.start()
      -> Scheduler.run   the loop, in the caller's green or native thread
      -> _next_batch     under the lock: every immediate run, or every task due
                         now (one heap); else park until the head is due
      -> submit          each task to the executor (``executor.submit`` and
                         ``add_done_callback``: the public API of any executor)
      -> _finished       in whichever thread resolved the future: tally the run
                         and ask when it runs next (:mod:`._recording`), push it
                         on the heap, and wake the scheduler only if it is now
                         due earlier than the scheduler planned to wake

The scheduler parks with :func:`greenpool._parking.new_waiter`, so the same
loop is right in every thread: a green thread switches to its hub (the hub
keeps running, with or without monkey patching), a native thread blocks on
a real lock, and whoever wakes it (``stop``, ``add``, a finishing run) may
be in any thread.

Waking is rare by design: a run that finishes is pushed back *after*
everything already scheduled (its next run is ``spacing`` away), so with a
thousand callables the scheduler wakes once per batch of due runs, when the
heap's head is due, not once per run.

The scheduler is handed what it needs (the clock, the first-run strategy,
the recorder, the log, the retry delay) rather than the worker, which
(:mod:`._worker`) keeps the public API, its checks and ``start()``'s lifecycle.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from greenpool import _parking
from greenpool._errors import RejectedSubmission
from greenpool.periodics._recording import RunRecorder, RunResult
from greenpool.periodics._running import Runner
from greenpool.periodics._schedule import (
    IMMEDIATE,
    PERIODIC,
    Schedule,
    Task,
    fresh_schedule,
    place,
)
from greenpool.periodics._strategies import InitialScheduleStrategy

#: What ``submit`` may raise that is worth retrying later: a rejection, or an
#: executor that is shutting down (futurist retries the same two).
_RETRY_LATER = (RuntimeError, RejectedSubmission)

_FOREVER = float("inf")


class Scheduler:
    """Which of a worker's tasks run when: the heap, the immediate queue, the runs in flight.

    ``tasks`` lists every task in the order it was added (read it, do not
    change it: :meth:`enrol` and :meth:`add` do); ``schedule`` is the heap,
    replaced whole by :meth:`build`.
    """

    def __init__(
        self,
        now_func: Callable[[], float],
        first_run: InitialScheduleStrategy,
        recorder: RunRecorder,
        log: logging.Logger,
        retry_delay: Callable[[], float],
    ) -> None:
        self._now_func = now_func
        self._first_run = first_run
        self._recorder = recorder
        self._log = log
        # Asked at each refused submission: futurist's tests change the
        # worker's delay after construction.
        self._retry_delay = retry_delay
        # Guards the schedule, the immediate queue, the tasks list and the
        # flags below; held for a few instructions, never across user code.
        self._lock = _parking.Lock()
        # Where drain() parks until no run is in flight.
        self._lot = _parking.ParkingLot()
        self.tasks: list[Task] = []
        self.schedule = Schedule()
        self._immediates: collections.deque[Task] = collections.deque()
        self._in_flight = 0
        self._epoch = 0  # Bumped by reset(): runs started before it are not tallied.
        self._stopping = False  # stop() was called (until reset, as futurist's tombstone).
        self._draining = False
        self._auto_stop = False
        # The parked scheduler's waiter, and when it planned to wake.
        self._waiter: _parking.Waiter | None = None
        self._wake_at = _FOREVER

    # -- tasks in, and stop -------------------------------------------------

    def enrol(self, task: Task) -> None:
        """Take ``task`` on, unscheduled: the worker's constructor, before :meth:`build`."""
        self._adopt(task)

    def add(self, task: Task) -> None:
        """Take ``task`` on and schedule it: at once if immediate, else by ``first_run``."""
        now = self._now_func()
        first_run = None if task.immediate else self._first_run(task.work.callback, now)
        with self._changing(first_run):
            self._adopt(task)
            place(task, first_run, self.schedule, self._immediates)

    def build(self) -> None:
        """Schedule every task afresh: immediate ones first, the others by ``first_run``."""
        schedule, immediates = fresh_schedule(list(self.tasks), self._first_run, self._now_func)
        with self._changing():
            self.schedule = schedule
            self._immediates = immediates

    def stop(self) -> None:
        """No new run starts after this; a parked :meth:`run` is woken and returns."""
        with self._changing():
            self._stopping = True

    def reset(self) -> None:
        """Forget every run and the stop request; rebuild the schedule from now."""
        with self._lock:
            self._stopping = False
            self._epoch += 1
            for task in self.tasks:
                task.tally.clear()
                task.restart()
        self.build()

    # -- the loop -----------------------------------------------------------

    def run(self, executor: Any, runner: Runner, auto_stop: bool, max_idle: float) -> None:
        """Submit due runs to ``executor`` until stopped (by :meth:`stop`, or with
        ``auto_stop`` once every callable has raised :class:`NeverAgain`); never
        park longer than ``max_idle`` seconds without reading the clock."""
        self._auto_stop = auto_stop
        submit = executor.submit
        behind = False
        while True:
            batch = self._next_batch(behind, max_idle)
            if batch is None:
                return
            tasks, submitted_at, parked = batch
            behind = not parked
            for position, task in enumerate(tasks):
                if self._stopping:
                    self._put_back(tasks[position:])
                    return
                task.submitted_at = submitted_at
                try:
                    future = submit(runner, task.work)
                except _RETRY_LATER as exc:
                    self._retry_later(task, exc)
                else:
                    future.add_done_callback(task.on_done)

    def drain(self) -> None:
        """Wait until no run is in flight (their done-callbacks have run)."""
        self._draining = True
        try:
            self._lot.park_until(lambda: not self._in_flight)
        finally:
            self._draining = False

    def _next_batch(self, behind: bool, max_idle: float) -> tuple[list[Task], float, bool] | None:
        """The runs to submit now, the time they were taken, and whether the scheduler
        parked before it found them; None once stopping.

        Parks until something is due. The clock (``now_func``, user code) is
        read outside the lock, once per batch. If the last batch was found
        without parking (``behind``: the worker is not keeping up), first
        yields once: to its hub, in a green thread, so that a worker that is
        always behind still lets every other green thread run.
        """
        if behind:
            _parking.new_waiter().wait(0.0)
        lock = self._lock
        parked = False
        while True:
            lock.acquire()
            if self._stopping:
                lock.release()
                return None
            if self._immediates:
                tasks = list(self._immediates)
                self._immediates.clear()
                self._claim(tasks)
                lock.release()
                now = self._now_func()
                for task in tasks:
                    if task.due is None:
                        task.due = now
                return tasks, now, parked
            head = self.schedule.head()
            lock.release()
            timeout = wake_at = _FOREVER
            if head is not None:
                now = self._now_func()
                if head <= now:
                    lock.acquire()
                    tasks = [] if self._stopping else self.schedule.pop_due(now, self.tasks)
                    self._claim(tasks)
                    lock.release()
                    if tasks:
                        return tasks, now, parked
                    continue
                timeout = head - now
                wake_at = head
            waiter = _parking.new_waiter()
            lock.acquire()
            # Did anything change since the checks above? Then look again
            # rather than sleep through it.
            changed = self._stopping or bool(self._immediates) or self.schedule.head() != head
            if not changed:
                self._waiter = waiter
                self._wake_at = wake_at
            lock.release()
            if changed:
                continue
            waiter.wait(min(timeout, max_idle))
            parked = True
            lock.acquire()
            if self._waiter is waiter:
                self._waiter = None
            lock.release()

    def _claim(self, tasks: list[Task]) -> None:
        """Under the lock: ``tasks`` are in flight from now."""
        epoch = self._epoch
        for task in tasks:
            task.running = True
            task.epoch = epoch
        self._in_flight += len(tasks)

    def _take_waiter(self, due: float | None = None) -> _parking.Waiter | None:
        """Under the lock: the parked scheduler's waiter, to wake once the lock is released,
        if it must wake (``due`` None) or planned to wake later than ``due``."""
        waiter = self._waiter
        if waiter is not None and (due is None or due < self._wake_at):
            self._waiter = None
            return waiter
        return None

    @contextlib.contextmanager
    def _changing(self, due: float | None = None) -> Iterator[None]:
        """The body runs under the lock; then the parked scheduler is woken if it must
        (``due`` None) or planned to wake later than ``due``."""
        lock = self._lock
        lock.acquire()
        try:
            yield
            waiter = self._take_waiter(due)
        finally:
            lock.release()
        if waiter is not None:
            waiter.wake()

    def _adopt(self, task: Task) -> None:
        """Under the lock (or before the worker is shared): ``task`` is one of ours."""
        task.on_done = functools.partial(self._finished, task)
        task.index = len(self.tasks)
        self.tasks.append(task)

    def _put_back(self, tasks: list[Task]) -> None:
        """Runs taken but not submitted (the worker is stopping): back where they were."""
        with self._lock:
            for task in tasks:
                self._release_locked(task)
                if task.epoch != self._epoch:
                    continue
                if task.kind == IMMEDIATE and task.tally.runs == 0:
                    self._immediates.append(task)
                else:
                    assert task.due is not None
                    self.schedule.push(task, task.due)

    def _release_locked(self, task: Task) -> None:
        """Under the lock: ``task`` is no longer in flight."""
        task.running = False
        self._in_flight -= 1

    def _retry_later(self, task: Task, exc: BaseException) -> None:
        """``submit`` refused ``task``: schedule it again a second or so from now."""
        delay = self._retry_delay()
        self._log.error(
            "Failed to submit %s callback '%s', retrying after %.2f sec. Error: %s",
            task.kind,
            task.work.name,
            delay,
            exc,
        )
        when = self._now_func() + delay
        with self._lock:
            self._release_locked(task)
            if task.epoch == self._epoch:
                # Its due time stays: lateness counts from when it should have run.
                self.schedule.push(task, when)

    # -- a run finished -----------------------------------------------------

    def _finished(self, task: Task, future: concurrent.futures.Future[Any]) -> None:
        """A task's future resolved: tally the run, schedule the next one."""
        try:
            result: RunResult = future.result()
        except concurrent.futures.CancelledError:
            self._put_back([task])  # Never ran (an executor shut down with cancel_futures).
            self._notify_drained()
            return
        except BaseException as exc:  # The executor failed the call itself.
            result = (task.submitted_at, task.submitted_at, exc, None)
        next_run = self._recorder.record(task, result, current=task.epoch == self._epoch)
        lock = self._lock
        lock.acquire()
        try:
            self._release_locked(task)
            waiter = None
            if task.epoch == self._epoch:
                task.kind = PERIODIC
                if next_run is not None:
                    task.due = next_run
                    self.schedule.push(task, next_run)
                    waiter = self._take_waiter(next_run)
                else:
                    task.tally.requested_stop = True
                    if (
                        self._auto_stop
                        and not self._in_flight
                        and not self._immediates
                        and not self.schedule
                    ):
                        self._stopping = True  # Nothing left to run: goodbye.
                        waiter = self._take_waiter()
            drained = self._drained()
        finally:
            lock.release()
        if waiter is not None:
            waiter.wake()
        if drained:
            self._lot.unpark_all()

    def _drained(self) -> bool:
        """Whether :meth:`drain` is waiting for the last run, and it is done."""
        return self._draining and not self._in_flight

    def _notify_drained(self) -> None:
        if self._drained():
            self._lot.unpark_all()
