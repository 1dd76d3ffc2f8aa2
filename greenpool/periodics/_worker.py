"""``PeriodicWorker``: one scheduler that hands due callables to an executor.

::

    start()          the scheduler loop, in the caller's green or native thread
      -> _next_batch   under the lock: every immediate run, or every task due
                       now (one heap); else park until the head is due
      -> submit        each task to the executor (``executor.submit`` and
                       ``add_done_callback``: the public API of any executor)
      -> _finished     in whichever thread resolved the future: tally the run,
                       ask the strategy when it runs next, push it on the heap,
                       and wake the scheduler only if it is now due earlier
                       than the scheduler planned to wake

The scheduler parks with :func:`greenpool._parking.new_waiter`, so the same
loop is right in every thread: a green thread switches to its hub (the hub
keeps running, with or without monkey patching), a native thread blocks on
a real lock, and whoever wakes it (``stop``, ``add``, a finishing run) may
be in any thread. That is why ``cond_cls`` and ``event_cls`` are accepted,
for futurist's signature, and not needed: futurist makes its waits green by
swapping the condition class, which breaks as soon as a native thread
stops a green worker.

Waking is rare by design: a run that finishes is pushed back *after*
everything already scheduled (its next run is ``spacing`` away), so with a
thousand callables the scheduler wakes once per batch of due runs, when the
heap's head is due, not once per run.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import inspect
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any, ParamSpec, TypeVar

from greenpool import _parking
from greenpool._errors import RejectedSubmission
from greenpool._timeouts import wait_timeout
from greenpool.periodics import _strategies, _table
from greenpool.periodics._decorator import (
    NeverAgain,
    callback_name,
    checked_periodic,
    missing_attrs,
)
from greenpool.periodics._running import (
    Runner,
    default_executor,
    log_failure,
    runs_elsewhere,
)
from greenpool.periodics._schedule import IMMEDIATE, PERIODIC, Schedule, Task
from greenpool.periodics._watcher import Watcher, Work

LOG = logging.getLogger("greenpool.periodics")

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: What ``submit`` may raise that is worth retrying later: a rejection, or an
#: executor that is shutting down (futurist retries the same two).
_RETRY_LATER = (RuntimeError, RejectedSubmission)

OnFailure = Callable[..., object]

_FOREVER = float("inf")


class PeriodicWorker:
    """Calls periodic callables, each every ``spacing`` seconds, on an executor.

    futurist's constructor and methods. ``start()`` runs the scheduler in the
    calling thread until :meth:`stop`; call it in a green thread
    (``eventlet.spawn(worker.start)``) or a native one.

    With no ``executor_factory``, callables run on a greenpool executor that
    suits the thread ``start()`` runs in: a :class:`~greenpool.GreenThreadPoolExecutor`
    in a green thread (callables overlap on IO, so one slow callable does not
    make the others late, and the hub is never blocked by the scheduler), a
    :class:`~greenpool.SynchronousExecutor` in a native thread (futurist's
    default: one at a time, and eventlet is never imported for it). Either
    way each watcher's ``executor_statistics`` reports on it.

    ``cond_cls`` and ``event_cls`` are accepted for futurist's signature and
    checked to be callable; the worker parks and wakes each caller the right
    way without them.
    """

    #: The longest the scheduler sleeps without checking its clock again.
    MAX_LOOP_IDLE: float = 30

    #: After a refused submission, the callable is retried this many seconds
    #: later, plus up to ``_RESCHEDULE_JITTER`` at random (futurist's names and
    #: values; its tests set them on the instance).
    _RESCHEDULE_DELAY: float = 0.9
    _RESCHEDULE_JITTER: float = 0.2

    _NO_OP_ARGS: tuple[Any, ...] = ()
    _NO_OP_KWARGS: dict[str, Any] = {}  # noqa: RUF012 - futurist's name; never mutated.

    DEFAULT_JITTER = _strategies.DEFAULT_JITTER
    BUILT_IN_STRATEGIES = _strategies.BUILT_IN_STRATEGIES

    @classmethod
    def create(
        cls,
        objects: Iterable[Any],
        exclude_hidden: bool = True,
        log: logging.Logger | None = None,
        executor_factory: Callable[[], concurrent.futures.Executor] | None = None,
        cond_cls: Callable[[], Any] = threading.Condition,
        event_cls: Callable[[], Any] = threading.Event,
        schedule_strategy: str = "last_started",
        now_func: Callable[[], float] = time.monotonic,
        on_failure: OnFailure | None = None,
        args: tuple[Any, ...] = _NO_OP_ARGS,
        kwargs: dict[str, Any] = _NO_OP_KWARGS,
    ) -> PeriodicWorker:
        """A worker for every periodic method of ``objects`` (public ones only, unless
        ``exclude_hidden`` is false), each called with ``args`` and ``kwargs``."""
        callables = []
        for obj in objects:
            for name, member in inspect.getmembers(obj):
                if name.startswith("_") and exclude_hidden:
                    continue
                if callable(member) and not missing_attrs(member):
                    callables.append((member, args, kwargs))
        return cls(
            callables,
            log=log,
            executor_factory=executor_factory,
            cond_cls=cond_cls,
            event_cls=event_cls,
            schedule_strategy=schedule_strategy,
            now_func=now_func,
            on_failure=on_failure,
        )

    def __init__(
        self,
        callables: Iterable[
            tuple[Callable[..., Any], tuple[Any, ...] | None, dict[str, Any] | None]
        ],
        log: logging.Logger | None = None,
        executor_factory: Callable[[], concurrent.futures.Executor] | None = None,
        cond_cls: Callable[[], Any] = threading.Condition,
        event_cls: Callable[[], Any] = threading.Event,
        schedule_strategy: str = "last_started",
        now_func: Callable[[], float] = time.monotonic,
        on_failure: OnFailure | None = None,
    ) -> None:
        if on_failure is not None and not callable(on_failure):
            raise ValueError(f"On failure callback {on_failure!r} must be callable")
        for name, value in (
            ("executor_factory", executor_factory),
            ("cond_cls", cond_cls),
            ("event_cls", event_cls),
            ("now_func", now_func),
        ):
            if not (callable(value) or (value is None and name == "executor_factory")):
                raise TypeError(f"{name} must be callable, got {value!r}")
        self._next_run, self._first_run = _strategies.lookup(
            self.BUILT_IN_STRATEGIES, schedule_strategy
        )
        self._log = log or LOG
        self._on_failure: OnFailure = (
            on_failure if on_failure is not None else functools.partial(log_failure, self._log)
        )
        self._executor_factory: Callable[[], Any] = (
            executor_factory if executor_factory is not None else default_executor
        )
        self._now_func = now_func
        # Guards the schedule, the immediate queue, the tasks list and the
        # flags below; held for a few instructions, never across user code.
        self._lock = _parking.Lock()
        # Where wait() and the end of start() park: until start() has
        # returned, or until no run is in flight.
        self._lot = _parking.ParkingLot()
        self._tasks: list[Task] = []
        self._schedule = Schedule()
        self._immediates: collections.deque[Task] = collections.deque()
        self._executor: Any = None
        self._in_flight = 0
        self._epoch = 0  # Bumped by reset(): runs started before it are not tallied.
        self._active = False  # start() is running.
        self._dead = False  # start() has returned (until reset or the next start).
        self._stopping = False  # stop() was called (until reset, as futurist's tombstone).
        self._draining = False
        self._auto_stop = False
        # The parked scheduler's waiter, and when it planned to wake.
        self._waiter: _parking.Waiter | None = None
        self._wake_at = float("inf")
        self._random = random.Random()
        for cb, args, kwargs in callables:
            task = self._new_task(cb, args or self._NO_OP_ARGS, kwargs or {})
            if task is not None:
                task.index = len(self._tasks)
                self._tasks.append(task)
        self._build()

    def __len__(self) -> int:
        """How many (enabled) callables the worker has."""
        return len(self._tasks)

    def __repr__(self) -> str:
        state = "running" if self._active else "stopped" if self._dead else "not started"
        return f"<PeriodicWorker {state} callables={len(self._tasks)} at {id(self):#x}>"

    # -- what users read -------------------------------------------------

    @property
    def executor(self) -> Any:
        """The executor the worker runs its callables on now, or ran them on last; or None."""
        return self._executor

    def iter_watchers(self) -> Generator[Watcher, None, None]:
        """A :class:`Watcher` for each callable, in the order they were added."""
        for task in list(self._tasks):
            yield task.watcher

    def pformat(self, columns: Iterable[str] = _table.DEFAULT_COLS) -> str:
        """A text table of every callable's activity; ``ValueError`` for unknown columns."""
        chosen = _table.check_columns(columns)
        return _table.render(chosen, _table.rows(list(self._tasks), self._now_func()))

    # -- control ---------------------------------------------------------

    def add(self, cb: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> Watcher | None:
        """Add a periodic callable, running or not; its :class:`Watcher`, or None if disabled.

        ``ValueError`` if ``cb`` is not a periodic callable. An immediate one
        runs at once; the others ``spacing`` from now (the first-run strategy).
        """
        task = self._new_task(cb, args, kwargs)
        if task is None:
            return None
        now = self._now_func()
        first_run = None if task.immediate else self._first_run(cb, now)
        lock = self._lock
        lock.acquire()
        try:
            task.index = len(self._tasks)
            self._tasks.append(task)
            if first_run is None:
                self._immediates.append(task)
                waiter = self._take_waiter()
            else:
                task.due = first_run
                self._schedule.push(task, first_run)
                waiter = self._take_waiter(first_run)
        finally:
            lock.release()
        if waiter is not None:
            waiter.wake()
        return task.watcher

    def start(self, allow_empty: bool = False, auto_stop_when_empty: bool = False) -> None:
        """Run the callables until :meth:`stop`; returns once runs in flight have finished.

        ``RuntimeError`` if the worker has no callables (unless
        ``allow_empty``: then it waits for :meth:`add`), or is running
        already. With ``auto_stop_when_empty`` it stops by itself once every
        callable has raised :class:`NeverAgain`. The executor is made now by
        ``executor_factory`` and shut down on the way out (unless the factory
        says ``shutdown = False``, as :class:`ExistingExecutor` does).
        """
        lock = self._lock
        lock.acquire()
        try:
            if not self._tasks and not allow_empty:
                raise RuntimeError(
                    "A periodic worker can not start without any callables to process"
                )
            if self._active:
                raise RuntimeError("A periodic worker can not be started twice")
            self._active = True
            self._dead = False
            self._auto_stop = auto_stop_when_empty
        finally:
            lock.release()
        try:
            executor = self._executor = self._executor_factory()
            runner = Runner(self._now_func, retain_traceback=not runs_elsewhere(executor))
            try:
                self._run(executor, runner)
            finally:
                try:
                    self._drain()
                finally:
                    if getattr(self._executor_factory, "shutdown", True):
                        executor.shutdown()
        finally:
            lock.acquire()
            self._active = False
            self._dead = True
            lock.release()
            self._lot.unpark_all()
            self._on_finish()

    def stop(self) -> None:
        """Ask the worker to stop; returns at once. No new run starts after this.

        ``start()`` then returns as soon as runs in flight have finished,
        however far away the next run was: the scheduler is woken, not left
        to its timer. Until :meth:`reset`, a later ``start()`` returns at once.
        """
        lock = self._lock
        lock.acquire()
        try:
            self._stopping = True
            waiter = self._take_waiter()
        finally:
            lock.release()
        if waiter is not None:
            waiter.wake()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until ``start()`` has returned; whether it has (False on timeout).

        As futurist: False also when the worker was never started.
        """
        seconds = wait_timeout(timeout)
        return self._lot.park_until(lambda: self._dead, seconds)

    def reset(self) -> None:
        """Forget every run: counts to zero, schedule rebuilt from now, stop request cleared.

        Meant for a stopped worker, before starting it again.
        """
        lock = self._lock
        lock.acquire()
        try:
            self._stopping = False
            self._dead = False
            self._epoch += 1
            for task in self._tasks:
                task.tally.clear()
                task.restart()
        finally:
            lock.release()
        self._build()

    # -- the scheduler ---------------------------------------------------

    def _run(self, executor: Any, runner: Runner) -> None:
        """Submit due runs until stopped."""
        submit = executor.submit
        behind = False
        while True:
            batch = self._next_batch(behind)
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

    def _next_batch(self, behind: bool) -> tuple[list[Task], float, bool] | None:
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
            head = self._schedule.head()
            lock.release()
            timeout = wake_at = _FOREVER
            if head is not None:
                now = self._now_func()
                if head <= now:
                    lock.acquire()
                    tasks = [] if self._stopping else self._schedule.pop_due(now, self._tasks)
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
            changed = self._stopping or bool(self._immediates) or self._schedule.head() != head
            if not changed:
                self._waiter = waiter
                self._wake_at = wake_at
            lock.release()
            if changed:
                continue
            waiter.wait(min(timeout, self.MAX_LOOP_IDLE))
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

    def _put_back(self, tasks: list[Task]) -> None:
        """Runs taken but not submitted (the worker is stopping): back where they were."""
        lock = self._lock
        lock.acquire()
        try:
            for task in tasks:
                self._release_locked(task)
                if task.epoch != self._epoch:
                    continue
                if task.kind == IMMEDIATE and task.tally.runs == 0:
                    self._immediates.append(task)
                else:
                    assert task.due is not None
                    self._schedule.push(task, task.due)
        finally:
            lock.release()

    def _release_locked(self, task: Task) -> None:
        """Under the lock: ``task`` is no longer in flight."""
        task.running = False
        self._in_flight -= 1

    def _retry_later(self, task: Task, exc: BaseException) -> None:
        """``submit`` refused ``task``: schedule it again a second or so from now."""
        delay = self._RESCHEDULE_DELAY + self._random.random() * self._RESCHEDULE_JITTER
        self._log.error(
            "Failed to submit %s callback '%s', retrying after %.2f sec. Error: %s",
            task.kind,
            task.work.name,
            delay,
            exc,
        )
        when = self._now_func() + delay
        lock = self._lock
        lock.acquire()
        try:
            self._release_locked(task)
            if task.epoch == self._epoch:
                # Its due time stays: lateness counts from when it should have run.
                self._schedule.push(task, when)
        finally:
            lock.release()

    # -- a run finished ----------------------------------------------------

    def _finished(self, task: Task, future: concurrent.futures.Future[Any]) -> None:
        """A task's future resolved: tally the run, schedule the next one."""
        try:
            started_at, finished_at, error, text = future.result()
        except concurrent.futures.CancelledError:
            self._put_back([task])  # Never ran (an executor shut down with cancel_futures).
            self._notify_drained()
            return
        except BaseException as exc:  # The executor failed the call itself.
            started_at = finished_at = task.submitted_at
            error, text = exc, None
        current = task.epoch == self._epoch
        never_again = isinstance(error, NeverAgain)
        failed = error is not None and not never_again
        kind = task.kind
        due = task.due if task.due is not None else task.submitted_at
        if current:
            task.tally.record(due, task.submitted_at, started_at, finished_at, failed)
        if failed and current:
            assert error is not None
            self._report_failure(task, kind, error, text)
        next_run = None
        if not never_again:
            try:
                next_run = self._next_run(task.work.callback, started_at, finished_at, task.watcher)
            except Exception:
                self._log.exception("Schedule strategy failed for '%s'", task.work.name)
                next_run = finished_at + task.spacing
        lock = self._lock
        lock.acquire()
        try:
            self._release_locked(task)
            waiter = None
            if task.epoch == self._epoch:
                task.kind = PERIODIC
                if next_run is not None:
                    task.due = next_run
                    self._schedule.push(task, next_run)
                    waiter = self._take_waiter(next_run)
                else:
                    task.tally.requested_stop = True
                    if (
                        self._auto_stop
                        and not self._in_flight
                        and not self._immediates
                        and not self._schedule
                    ):
                        self._stopping = True  # Nothing left to run: goodbye.
                        waiter = self._take_waiter()
            drained = self._drained_locked()
        finally:
            lock.release()
        if waiter is not None:
            waiter.wake()
        if drained:
            self._lot.unpark_all()

    def _report_failure(
        self, task: Task, kind: str, error: BaseException, text: str | None
    ) -> None:
        exc_info = (type(error), error, error.__traceback__)
        try:
            self._on_failure(
                task.work.callback,
                kind,
                task.work.callback._periodic_spacing,  # type: ignore[attr-defined]
                exc_info,
                traceback=text,
            )
        except Exception as exc:
            self._log.error(
                "On failure callback %r raised an unhandled exception. Error: %s",
                self._on_failure,
                exc,
            )

    def _drained_locked(self) -> bool:
        """Under the lock: whether ``start()`` is waiting for the last run, and it is done."""
        return self._draining and not self._in_flight

    def _notify_drained(self) -> None:
        if self._draining and not self._in_flight:
            self._lot.unpark_all()

    def _drain(self) -> None:
        """Wait until no run is in flight (their done-callbacks have run)."""
        self._draining = True
        try:
            self._lot.park_until(lambda: not self._in_flight)
        finally:
            self._draining = False

    # -- building ----------------------------------------------------------

    def _new_task(
        self, cb: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Task | None:
        """A task for ``cb`` (its index set by the caller), or None if it is disabled;
        ``ValueError`` if ``cb`` is not periodic."""
        enabled, spacing, immediate = checked_periodic(cb)
        if not enabled:
            return None
        work = Work(callback_name(cb), cb, tuple(args), dict(kwargs))
        task = Task(-1, work, spacing, immediate, self._executor_statistics)
        task.on_done = functools.partial(self._finished, task)
        return task

    def _build(self) -> None:
        """Schedule every task afresh: immediate ones first, the others by ``first_run``."""
        tasks = list(self._tasks)
        now = None
        first_runs: list[tuple[Task, float | None]] = []
        for task in tasks:
            if task.immediate:
                first_runs.append((task, None))
            else:
                if now is None:
                    now = self._now_func()  # Once, and only if needed (futurist's tests count).
                first_runs.append((task, self._first_run(task.work.callback, now)))
        schedule = Schedule()
        immediates: collections.deque[Task] = collections.deque()
        for task, first_run in first_runs:
            if first_run is None:
                immediates.append(task)
            else:
                task.due = first_run
                schedule.push(task, first_run)
        lock = self._lock
        lock.acquire()
        try:
            self._schedule = schedule
            self._immediates = immediates
            waiter = self._take_waiter()
        finally:
            lock.release()
        if waiter is not None:
            waiter.wake()

    def _executor_statistics(self) -> Any:
        executor = self._executor
        return None if executor is None else getattr(executor, "statistics", None)

    def _on_finish(self) -> None:
        if self._log.isEnabledFor(logging.DEBUG):
            columns = [
                c for c in _table.DEFAULT_COLS if c not in ("Runs in", "Active", "Periodicity")
            ]
            self._log.debug(
                "Stopped running %s callbacks:\n%s", len(self._tasks), self.pformat(columns)
            )
