"""The executor base: submit, rejection, statistics, shutdown and map, for every backend.

Data flows one way::

    submit(fn, *args)
      -> Executor.submit          shutdown check, check_and_reject(executor, backlog),
                                  count it submitted, all under the submit lock;
                                  returns the WorkItem, which is the call's Future
      -> backend._start(item)     hand the WorkItem to an idle worker, start one, or queue
                                  it; no system call, the submit lock is held
      -> backend._after_start     once the lock is released, if _start asked: wake the
                                  hub or the manager thread
      -> WorkItem._run()          in a worker: start and count, call, count and resolve
      -> Future resolves          waiters wake, already counted in statistics

Each backend (green, thread, process, synchronous) implements only the
``_start`` / ``_take_pending`` / ``_stop_workers`` / ``_join_workers`` hooks
(and ``_after_start`` if its ``_start`` asks for it) and ``num_workers``;
everything a user can observe about submission, rejection, statistics and
shutdown is decided here, once. That is what lets a service move between
backends by changing one class name. What happens to a call once accepted
is :mod:`greenpool._workitem`'s.

Policies see what they need through cheap signals the base keeps only when
asked (``in_flight``, ``oldest_wait``, done and shutdown listeners: see
:mod:`greenpool._signals`), and a policy that makes the submitter wait
raises :class:`~greenpool._errors.WaitForRoom`, so the wait happens outside
the submit lock. The base's delayed calls (``submit_after``) are in
:mod:`greenpool._executor_delayed`, which it inherits.

``backlog``, passed to ``check_and_reject``, means the same thing everywhere:
accepted calls that no worker can take now, ``max(0, pending - (max_workers -
running))``, which is ``max(0, pending + running - max_workers)``. futurist
passes the thread pool's raw queue length instead, so a rejector there refuses
work that idle workers could run.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, ParamSpec, TypeVar

from greenpool import _live, _parking, _signals
from greenpool._chunks import Chunks, flatten, run_chunk
from greenpool._delayed import DelayedCall, DelayedCalls
from greenpool._errors import RejectedSubmission, WaitForRoom
from greenpool._executor_delayed import DelayedSubmission
from greenpool._future import Future
from greenpool._map import bounded_map, check_map_arguments
from greenpool._statistics import ExecutorStatistics, Gatherer
from greenpool._timeouts import call_timeout
from greenpool._workitem import WorkItem, accepted_at, now, withdraw
from greenpool.rejection._policy import Policy

_P = ParamSpec("_P")
_T = TypeVar("_T")

_executor_ids = itertools.count(1)

CheckAndReject = Callable[[Any, int], object]


def with_call_timeout(
    timeout: object, fn: Callable[..., _T], timed: Callable[[float, Callable[..., _T]], Any]
) -> Callable[..., _T]:
    """What ``submit_with_timeout`` submits: ``timed(seconds, fn)``, the backend's timed call.

    ``timeout`` and ``fn`` are checked first. ``math.inf`` means never
    interrupted: ``fn`` itself is returned, to be submitted as a plain call.
    """
    seconds = call_timeout(timeout)
    if not callable(fn):
        raise TypeError(f"{fn!r} is not callable")
    if seconds == math.inf:
        return fn
    timed_fn: Callable[..., _T] = timed(seconds, fn)
    return timed_fn


class Executor(DelayedSubmission, concurrent.futures.Executor):
    """What every greenpool executor shares; backends override the ``_`` hooks."""

    #: Whether ``map`` groups items into chunks, sized from measured time
    #: (:mod:`greenpool._chunks`): true where each call crosses a process
    #: boundary, whose cost one item would not repay. Layers over ``map``
    #: (``greenpool.Pool``) read it to batch the same way.
    map_batches: ClassVar[bool] = False

    def __init__(
        self,
        max_workers: int,
        check_and_reject: CheckAndReject | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int):
            raise TypeError(f"max_workers must be an int, not {type(max_workers).__name__}")
        if max_workers <= 0:
            raise ValueError(f"max_workers must be greater than 0, got {max_workers}")
        if check_and_reject is not None and not callable(check_and_reject):
            raise TypeError(f"check_and_reject must be callable or None, got {check_and_reject!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {name!r}")
        self._max_workers = max_workers
        # How many accepted calls can run at once without waiting for a
        # worker; backlog is what exceeds it. A backend whose callers run
        # their own calls (the synchronous one) has no limit.
        self._concurrency: int = max_workers
        self._check_and_reject = check_and_reject
        self._name = name if name is not None else f"{type(self).__name__}-{next(_executor_ids)}"
        self._gatherer = Gatherer()
        self._submit_lock = _parking.Lock()
        self._take_lock = self._submit_lock.take_nowait
        self._release = self._submit_lock.release_held
        self._shut_down = False
        # Delayed calls (submit_after), made on first use; see greenpool._delayed.
        self._delayed: DelayedCalls | None = None
        self._alarm: Any = None
        # Set once _stop_workers has run: at shutdown, or, if delayed calls
        # were still to fall due then, once the last of them has.
        self._workers_stopped = False
        self._delayed_drained = _parking.ParkingLot()
        # The calls each shutdown(cancel_futures=True) has taken and is still
        # withdrawing, outside the submit lock (see shutdown).
        self._withdrawing: list[list[WorkItem]] = []
        # What policies can observe (greenpool._signals): off until asked for.
        self._done_listeners = _signals.Listeners()
        self._shutdown_listeners = _signals.Listeners()
        self._arrivals: collections.deque[float] | None = None
        _live.add(self)  # greenpool.executors() lists it while it lives.
        if isinstance(check_and_reject, Policy):
            check_and_reject.attach(self)  # Registers for the signals it needs.

    # -- what users read -------------------------------------------------

    @property
    def name(self) -> str:
        """A label for logs and metrics; defaults to the class name and a number."""
        return self._name

    @property
    def max_workers(self) -> int:
        return self._max_workers

    @property
    def alive(self) -> bool:
        """False once ``shutdown`` has been called."""
        return not self._shut_down

    @property
    def statistics(self) -> ExecutorStatistics:
        """A consistent, immutable snapshot of what this executor has done."""
        return self._gatherer.snapshot(self._max_workers)

    @property
    def backlog(self) -> int:
        """Accepted calls that no worker can take now (what ``check_and_reject`` gets)."""
        return max(0, self._gatherer.outstanding - self._concurrency)

    @property
    def queue_size(self) -> int:
        """Accepted calls not yet started by a worker (``statistics.pending``)."""
        return self._gatherer.pending

    @property
    def num_workers(self) -> int:
        """Workers that exist now, busy or idle."""
        raise NotImplementedError

    @property
    def idle_workers(self) -> int:
        """Workers that exist now and have no call to run (0 on the synchronous executor)."""
        raise NotImplementedError

    # -- what policies read (see greenpool._signals) ---------------------

    @property
    def in_flight(self) -> int:
        """Accepted calls not finished yet: waiting for a worker or running."""
        return self._gatherer.outstanding

    @property
    def oldest_wait(self) -> float:
        """Seconds the oldest call still waiting for a worker has waited; 0.0 if none waits.

        Measured from the first time this is read (a policy that needs it
        reads it when it is attached): acceptance times are recorded from
        then on, at the cost of one ``deque.append`` a submit. See
        :mod:`greenpool._signals` for how it is kept exact in fixed memory.
        """
        arrivals = self._arrivals
        if arrivals is None:
            self._arrivals = _signals.new_arrivals()
            return 0.0
        return _signals.oldest_wait(arrivals, self._gatherer.pending, now())

    def add_done_listener(self, listener: _signals.DoneListener) -> None:
        """Call ``listener(runtime)`` each time an accepted call ends.

        ``runtime`` is the call's run time in seconds, or ``None`` for a call
        that never ran (cancelled before it started, or refused by a broken
        pool or one that could not send it). It runs in whichever thread
        ended the call (a worker, the process pool's manager thread, a
        canceller), after the future resolved, outside every lock; it must be
        quick. An exception it raises is logged. For policies: see
        :mod:`greenpool.rejection`.
        """
        self._gatherer.on_call_end = self._done_listeners.add(listener)

    def add_shutdown_listener(self, listener: _signals.ShutdownListener) -> None:
        """Call ``listener()`` once, when ``shutdown`` is first called, outside the submit lock."""
        self._shutdown_listeners.add(listener)

    def __repr__(self) -> str:
        state = "alive" if self.alive else "shut down"
        return (
            f"<{type(self).__name__} {self._name!r} {state} "
            f"workers={self.num_workers}/{self._max_workers} backlog={self.backlog}>"
        )

    # -- submission ------------------------------------------------------

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Schedule ``fn(*args, **kwargs)`` and return its :class:`Future`.

        Raises ``TypeError`` if ``fn`` is not callable, ``RuntimeError`` after
        ``shutdown``, and whatever ``check_and_reject`` raises
        (:class:`RejectedSubmission` to refuse); in each case nothing is
        queued and only a rejection is counted.
        """
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        # The lock is taken and released with one C call each (see
        # greenpool._parking.Lock), explicitly on each way out rather than by
        # try/finally or ``with``: a rejected submit is the hot path of an
        # overloaded service, and each exception handler it passes through
        # costs as much as the rest of the submit.
        try:
            self._take_lock()
        except _parking.Held:
            self._submit_lock.acquire()
        release = self._release
        if self._shut_down:
            release()
            raise RuntimeError("cannot schedule new futures after shutdown")
        gatherer = self._gatherer
        check_and_reject = self._check_and_reject
        if check_and_reject is not None:
            # gatherer.outstanding, inlined: a rejected submit is a hot path.
            backlog = gatherer.submitted - gatherer.ended - self._concurrency
            try:
                check_and_reject(self, backlog if backlog > 0 else 0)
            except RejectedSubmission:
                gatherer.rejected += 1  # Under the submit lock.
                release()
                raise
            except WaitForRoom as wait:
                release()
                return self._submit_after_waiting(wait, fn, args, kwargs)
            except BaseException:
                release()
                raise
        try:
            item = WorkItem(fn, args, kwargs, gatherer)
            # Counted before any worker can see the call (see Gatherer).
            gatherer.submitted += 1
            if self._arrivals is not None:
                self._arrivals.append(accepted_at(item))
            try:
                finish_outside_lock = self._start(item)
            except BaseException:
                gatherer.submitted -= 1  # Withdrawn: the backend could not take it.
                raise
        finally:
            release()
        if finish_outside_lock:
            self._after_start(item)
        return item  # The call's future.

    _base_submit = submit

    def _submit_after_waiting(
        self, wait: WaitForRoom, fn: Callable[..., _T], args: tuple[Any, ...], kwargs: Any
    ) -> Future[_T]:
        """Park a submitter as its policy asked, then submit again (see
        :class:`greenpool._errors.WaitForRoom`); outside the submit lock.

        The retry checks shutdown and runs every policy again. A wait that
        times out is a rejection, and counted as one. However the wait or
        the retry ends other than in admission (a timeout, an earlier policy
        of a chain refusing the retry, an ``eventlet.Timeout`` or a kill of
        the waiting green thread), the policy is told to forget the
        submitter, so that it does not hold up those queued behind it.
        """
        try:
            try:
                wait.park()
            except RejectedSubmission:
                with self._submit_lock:
                    self._gatherer.rejected += 1
                raise
            return self.submit(fn, *args, **kwargs)
        except BaseException:
            wait.abandon()  # A no-op if the policy admitted or dropped it already.
            raise

    def submit_with_timeout(
        self, timeout: float, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> Future[_T]:
        """Like :meth:`submit`, but a call still running ``timeout`` seconds after it
        started is stopped, and its future fails with :class:`greenpool.CallTimeoutError`
        (counted as a failure).

        Time spent waiting for a worker does not count. ``timeout`` must be
        greater than 0; ``math.inf`` never interrupts (a plain :meth:`submit`).
        How a running call is stopped is the backend's (its ``_timed_call``):
        the green executor raises the error inside the call, the process pool
        kills and replaces the worker process. Backends that cannot stop a
        running call (native threads cannot be interrupted) raise
        ``NotImplementedError``.
        """
        if type(self)._timed_call is Executor._timed_call:
            raise NotImplementedError(
                f"{type(self).__name__} cannot stop a running call: no submit_with_timeout"
            )
        return self.submit(with_call_timeout(timeout, fn, self._timed_call), *args, **kwargs)

    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
    ) -> Iterator[_T]:
        """Like the builtin ``map``, with calls run by this executor; lazy and bounded.

        Results come in input order. Unlike the stdlib, which submits the
        whole input before yielding anything, at most ``2 * max_workers``
        calls are in flight, so an endless iterator works and memory stays
        bounded. ``timeout`` counts from this call, as in the stdlib; a
        result not ready by then raises ``TimeoutError``. Calls still in
        flight are cancelled if the iterator is closed early or raises.
        See :mod:`greenpool._map`.

        Where each call crosses to another process (``map_batches``: the
        process pool, a dask cluster), items go in chunks, each one call for
        the statistics and for ``check_and_reject``: of ``chunksize`` items,
        or with ``chunksize=None`` starting at one and then sized from the
        measured time per item (:class:`greenpool._chunks.Chunks`). If
        ``fn`` raises, the exception is raised when its chunk's results are
        reached, as with the stdlib. Elsewhere ``chunksize`` is accepted for
        the stdlib's signature and ignored.
        """
        check_map_arguments(fn, chunksize)
        window = 2 * max(1, self._max_workers)  # A cluster may have no worker for now.
        if not self.map_batches:
            return bounded_map(self.submit, fn, iterables, timeout, window)
        chunks = Chunks(zip(*iterables, strict=False), chunksize)
        chunk_results = bounded_map(
            self.submit, functools.partial(run_chunk, fn), (chunks,), timeout, window
        )
        return flatten(chunk_results, chunks)

    # -- shutdown --------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; optionally cancel what has not started; optionally wait.

        Calls already accepted still run unless ``cancel_futures`` is true, in
        which case every call that has not started is cancelled (futurist
        ignores the flag), wherever it waits: queued, handed to a worker that
        has not started it, or on its way from another OS thread. A call that
        submits while shutdown waits gets ``RuntimeError``, and shutdown still
        returns. Called from inside one of this executor's own workers,
        ``wait=True`` waits for the other workers only, and not for those that
        are themselves in ``shutdown(wait=True)``: waiting for itself, or for
        each other, would never return. A shutdown called while another is
        still cancelling returns only once the calls that one took are done.
        """
        waited_for: list[DelayedCall] = []
        with self._submit_lock:
            delayed = self._delayed
            first_shutdown = not self._shut_down
            self._shut_down = True
            to_cancel = self._take_pending() if cancel_futures else []
            if delayed is not None and cancel_futures:
                to_cancel.extend(delayed.take_all())
            if to_cancel:
                self._withdrawing.append(to_cancel)
            if delayed and self._gatherer.scheduled > 0 and not self._workers_stopped:
                # The last of these to fall due, or to be cancelled, stops the workers.
                waited_for = delayed.pending()
            elif not self._workers_stopped:
                if delayed:
                    delayed.take_all()  # Only cancelled calls are left.
                self._workers_stopped = True
                self._stop_workers()
        # Outside the lock: listeners may wake submitters, and cancelling runs
        # callbacks, which may call submit().
        if first_shutdown:
            self._shutdown_listeners.call()
        try:
            for item in to_cancel:
                withdraw(item)
        finally:
            if to_cancel:
                with self._submit_lock:
                    self._withdrawing = [b for b in self._withdrawing if b is not to_cancel]
        for call in waited_for:
            call.add_done_callback(self._delayed_call_ended)
        if wait:
            if delayed is not None:
                self._delayed_drained.park_until(lambda: self._workers_stopped)
            self._join_workers()
        # Calls that a concurrent shutdown(cancel_futures=True) took and has not
        # withdrawn yet (its done callbacks may be slow) are withdrawn here too,
        # withdraw being idempotent. Otherwise this shutdown, even with wait=True,
        # could return while they are pending, out of every green or thread
        # pool's queue, never to run. (The stdlib's shutdowns cancel under one
        # lock; cancelling under the submit lock here would deadlock a callback
        # that submits.) Read after the wait: the workers may exit as soon as
        # the calls are taken.
        with self._submit_lock:
            taken = [item for batch in self._withdrawing for item in batch]
        for item in taken:
            withdraw(item)
        if delayed is not None and self._workers_stopped:
            self._alarm.close()

    # -- backend hooks ---------------------------------------------------

    def _start(self, item: WorkItem) -> bool:
        """Give ``item`` to a worker, start a worker for it, or queue it.

        Called under the submit lock, after the item has been counted as
        submitted. Return True to have :meth:`_after_start` called once the
        lock is released, for what must not be done while holding it.
        Raise, without having queued the item, if it cannot be taken.

        Make no system call here if it can be helped: a system call gives up
        the GIL, and a thread that gives up the GIL while holding the submit
        lock may wait a whole switch interval (5 ms) to get it back, while
        every other submitter, and every green thread of a hub that wants to
        submit, waits for the lock. Waking a worker thread or process (a
        write to a pipe) belongs in :meth:`_after_start`.
        """
        raise NotImplementedError

    def _after_start(self, item: WorkItem) -> None:
        """The rest of starting ``item``, outside the submit lock, when ``_start`` asked for it.

        The synchronous executor runs the call here, in the submitting
        caller; the green executor wakes its hub for a call submitted from
        another OS thread; the process pool wakes its manager thread.
        """
        raise NotImplementedError

    def _timed_call(self, seconds: float, fn: Callable[..., Any]) -> Callable[..., Any]:
        """What ``submit_with_timeout`` submits for ``fn``: ``fn``, stopped after ``seconds``.

        Only for backends that can stop a running call; see :meth:`submit_with_timeout`.
        """
        raise NotImplementedError

    def _take_pending(self) -> list[WorkItem]:
        """Remove and return every queued item no worker has taken yet."""
        raise NotImplementedError

    def _stop_workers(self) -> None:
        """Tell workers to exit once no queued work is left; do not wait."""
        raise NotImplementedError

    def _join_workers(self) -> None:
        """Wait until every worker but the calling one has exited."""
        raise NotImplementedError
