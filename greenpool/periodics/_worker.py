"""``PeriodicWorker``: futurist's API for running periodic callables, on greenpool's scheduler.

The worker is the public face: it checks what it is given (futurist's
exception types, at construction), makes a :class:`~._schedule.Task` of
each periodic callable, owns the lifecycle of ``start()`` (the executor is
made when it starts and shut down when it returns) and answers ``wait()``.
When each callable runs is the :class:`~._scheduler.Scheduler`'s business:
the heap, the due runs, parking and waking, and the tally of each run.

``cond_cls`` and ``event_cls`` are accepted, for futurist's signature, and
not needed: the scheduler parks the right way in any thread, and whoever
wakes it may be in any other. futurist makes its waits green by swapping
the condition class, which breaks as soon as a native thread stops a green
worker.

futurist's own tests read ``worker._schedule._ordering`` and set
``worker._RESCHEDULE_DELAY`` and ``_RESCHEDULE_JITTER`` on the instance, so
those names stay here: ``_schedule`` is the scheduler's heap, and the delay
is read at each refused submission.
"""

from __future__ import annotations

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
from greenpool._timeouts import wait_timeout
from greenpool.periodics import _strategies, _table
from greenpool.periodics._decorator import callback_name, checked_periodic, missing_attrs
from greenpool.periodics._recording import OnFailure, RunRecorder
from greenpool.periodics._running import Runner, default_executor, log_failure, runs_elsewhere
from greenpool.periodics._schedule import Schedule, Task
from greenpool.periodics._scheduler import Scheduler
from greenpool.periodics._watcher import Watcher, Work

LOG = logging.getLogger("greenpool.periodics")

_P = ParamSpec("_P")
_R = TypeVar("_R")


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
        next_run, first_run = _strategies.lookup(self.BUILT_IN_STRATEGIES, schedule_strategy)
        self._log = log or LOG
        self._executor_factory: Callable[[], Any] = (
            executor_factory if executor_factory is not None else default_executor
        )
        self._now_func = now_func
        self._random = random.Random()
        if on_failure is None:
            on_failure = functools.partial(log_failure, self._log)
        recorder = RunRecorder(next_run, on_failure, self._log)
        self._scheduler = Scheduler(now_func, first_run, recorder, self._log, self._retry_delay)
        # Guards the two lifecycle flags below.
        self._lock = _parking.Lock()
        # Where wait() parks until start() has returned.
        self._lot = _parking.ParkingLot()
        self._executor: Any = None
        self._active = False  # start() is running.
        self._dead = False  # start() has returned (until reset or the next start).
        for cb, args, kwargs in callables:
            task = self._new_task(cb, args or self._NO_OP_ARGS, kwargs or {})
            if task is not None:
                self._scheduler.enrol(task)
        self._scheduler.build()

    def __len__(self) -> int:
        """How many (enabled) callables the worker has."""
        return len(self._scheduler.tasks)

    def __repr__(self) -> str:
        state = "running" if self._active else "stopped" if self._dead else "not started"
        return f"<PeriodicWorker {state} callables={len(self)} at {id(self):#x}>"

    @property
    def _schedule(self) -> Schedule:
        """The scheduler's heap, under the name futurist's tests read (``._ordering``)."""
        return self._scheduler.schedule

    # -- what users read -------------------------------------------------

    @property
    def executor(self) -> Any:
        """The executor the worker runs its callables on now, or ran them on last; or None."""
        return self._executor

    def iter_watchers(self) -> Generator[Watcher, None, None]:
        """A :class:`Watcher` for each callable, in the order they were added."""
        for task in list(self._scheduler.tasks):
            yield task.watcher

    def pformat(self, columns: Iterable[str] = _table.DEFAULT_COLS) -> str:
        """A text table of every callable's activity; ``ValueError`` for unknown columns."""
        chosen = _table.check_columns(columns)
        return _table.render(chosen, _table.rows(list(self._scheduler.tasks), self._now_func()))

    # -- control ---------------------------------------------------------

    def add(self, cb: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> Watcher | None:
        """Add a periodic callable, running or not; its :class:`Watcher`, or None if disabled.

        ``ValueError`` if ``cb`` is not a periodic callable. An immediate one
        runs at once; the others ``spacing`` from now (the first-run strategy).
        """
        task = self._new_task(cb, args, kwargs)
        if task is None:
            return None
        self._scheduler.add(task)
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
            if not self._scheduler.tasks and not allow_empty:
                raise RuntimeError(
                    "A periodic worker can not start without any callables to process"
                )
            if self._active:
                raise RuntimeError("A periodic worker can not be started twice")
            self._active = True
            self._dead = False
        finally:
            lock.release()
        try:
            executor = self._executor = self._executor_factory()
            runner = Runner(self._now_func, retain_traceback=not runs_elsewhere(executor))
            try:
                self._scheduler.run(executor, runner, auto_stop_when_empty, self.MAX_LOOP_IDLE)
            finally:
                try:
                    self._scheduler.drain()
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
        self._scheduler.stop()

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
        with self._lock:
            self._dead = False
        self._scheduler.reset()

    # -- what the scheduler is handed ----------------------------------------

    def _new_task(
        self, cb: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Task | None:
        """A task for ``cb`` (the scheduler sets its index and done-callback), or None if it
        is disabled; ``ValueError`` if ``cb`` is not periodic."""
        enabled, spacing, immediate = checked_periodic(cb)
        if not enabled:
            return None
        work = Work(callback_name(cb), cb, tuple(args), dict(kwargs))
        return Task(-1, work, spacing, immediate, self._executor_statistics)

    def _retry_delay(self) -> float:
        """How long after a refused submission the callable is tried again."""
        return self._RESCHEDULE_DELAY + self._random.random() * self._RESCHEDULE_JITTER

    def _executor_statistics(self) -> Any:
        executor = self._executor
        return None if executor is None else getattr(executor, "statistics", None)

    def _on_finish(self) -> None:
        if self._log.isEnabledFor(logging.DEBUG):
            columns = [
                c for c in _table.DEFAULT_COLS if c not in ("Runs in", "Active", "Periodicity")
            ]
            self._log.debug("Stopped running %s callbacks:\n%s", len(self), self.pformat(columns))
