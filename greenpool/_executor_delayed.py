"""The executor base's delayed calls (``submit_after``): a part of :class:`~greenpool.Executor`.

Kept apart from :mod:`greenpool._executor` only for size: these methods are
the base's own (the executor inherits them), admit a due call exactly as
``submit`` admits one (shutdown aside: calls accepted before a shutdown
still fall due), and share its submit lock and gatherer. What a delayed
call is, the heap they wait in and the alarms that wake them are
:mod:`greenpool._delayed`'s; the design is described there.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from greenpool import _delayed, _exit, _parking
from greenpool._delayed import DelayedCall, DelayedCalls, SubmitDue
from greenpool._errors import RejectedSubmission, WaitForRoom
from greenpool._future import Future
from greenpool._statistics import Gatherer
from greenpool._timeouts import delay_seconds
from greenpool._workitem import WorkItem, accepted_at, is_pending, now, refuse, withdraw

_P = ParamSpec("_P")
_T = TypeVar("_T")


class DelayedSubmission:
    """``submit_after`` and the rest of the base's delayed calls; see the module docstring."""

    # The base's, set by Executor.__init__.
    _name: str
    _gatherer: Gatherer
    _submit_lock: _parking.Lock
    _release: Callable[[], None]
    _shut_down: bool
    _check_and_reject: Callable[[Any, int], object] | None
    _concurrency: int
    _arrivals: deque[float] | None
    _delayed: DelayedCalls | None
    _alarm: Any
    _workers_stopped: bool
    _delayed_drained: _parking.ParkingLot

    #: The base's own ``submit`` function, to tell whether a class overrides it.
    _base_submit: Callable[..., Any]

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        raise NotImplementedError  # The base's.

    def _start(self, item: WorkItem) -> bool:
        raise NotImplementedError  # The backend's.

    def _after_start(self, item: WorkItem) -> None:
        raise NotImplementedError  # The backend's.

    def _stop_workers(self) -> None:
        raise NotImplementedError  # The backend's.

    def submit_after(
        self, delay: float, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> Future[_T]:
        """Submit ``fn(*args, **kwargs)`` once ``delay`` seconds have passed; return its future.

        Until then the call counts only in ``statistics.scheduled`` and can be
        cancelled like any pending call (a cancelled one counts nowhere else:
        it was never submitted). When it falls due it is submitted like any
        other call: ``check_and_reject`` runs *then*, with the backlog of
        that moment, and a refusal fails the future with
        :class:`RejectedSubmission` (counted in ``rejected``); anything else
        ``check_and_reject`` or the backend raises then fails the future
        with it. ``delay`` of 0 submits at the next turn of the alarm.

        ``shutdown(cancel_futures=True)`` cancels delayed calls not yet due;
        ``shutdown()`` without it lets them fall due and run, and with
        ``wait=True`` waits for them, as futurist's mixin does. At
        interpreter exit, delayed calls not yet due are cancelled.

        Raises ``TypeError`` if ``fn`` is not callable or ``delay`` is not a
        number, ``ValueError`` if ``delay`` is negative, infinite or NaN, and
        ``RuntimeError`` after ``shutdown``; nothing is scheduled then.
        """
        seconds = delay_seconds(delay)
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        deadline = now() + seconds
        with self._submit_lock:
            if self._shut_down or _exit.DELAYED in _exit.finishing:
                raise RuntimeError("cannot schedule new futures after shutdown")
            delayed = self._delayed
            if delayed is None:
                delayed = self._delayed = DelayedCalls()
                self._alarm = self._new_alarm(delayed, weakref.WeakMethod(self._submit_due_calls))
                weakref.finalize(self, self._alarm.close)
                _delayed.with_delayed_calls.add(self)
            call = DelayedCall(fn, args, kwargs, self._gatherer)
            self._gatherer.scheduled_total += 1
            earliest = delayed.push(deadline, call, self)
        if earliest:
            self._alarm.set(deadline)
        return call

    def _submit_due_calls(self) -> float | None:
        """Submit each delayed call now due, one at a time; return when the next falls due.

        What the alarm calls. Each due call is admitted as :meth:`submit`
        admits a call, under the submit lock, but past a shutdown: calls
        accepted before it still fall due. Once a shut-down executor's last
        delayed call has fallen due, its workers are stopped. If ``submit``
        is overridden (by a subclass, or on the instance), due calls go
        through it instead (:func:`greenpool._delayed.submit_through`).
        """
        delayed = self._delayed
        assert delayed is not None
        gatherer = self._gatherer
        while True:
            self._submit_lock.acquire()
            call = delayed.pop_due(now())
            if call is None:
                drained = self._stop_if_drained_locked()
                next_deadline = delayed.next_deadline()
                self._release()
                if drained:
                    self._alarm.close()
                    self._delayed_drained.unpark_all()
                return next_deadline
            if not is_pending(call):
                # Cancelled while it waited: a cancel cannot take the submit
                # lock, so the call stays in the heap until its deadline. It
                # was never submitted, so check_and_reject is not asked about
                # it (it used to be: a refusal or an admission then counted
                # nowhere, and a policy judged a call that did not exist).
                self._release()
                continue
            if "submit" in self.__dict__ or type(self).submit is not type(self)._base_submit:
                self._release()
                _delayed.submit_through(self.submit, call)
                continue
            finish_outside_lock = False
            failure: BaseException | None = None
            refused: Callable[[], None] | None = None
            try:
                outcome: BaseException | None = None
                check_and_reject = self._check_and_reject
                if check_and_reject is not None:
                    backlog = max(0, gatherer.outstanding - self._concurrency)
                    try:
                        check_and_reject(self, backlog)
                    except WaitForRoom as wait:
                        # Nobody here can wait: refused, as a submit whose wait timed out.
                        wait.abandon()
                        outcome = RejectedSubmission(
                            f"{self._name} has no room for a delayed call now due"
                        )
                    except BaseException as exc:
                        outcome = exc
                admitted, refused = call._fall_due(outcome)
                if admitted:
                    if self._arrivals is not None:
                        self._arrivals.append(accepted_at(call))
                    try:
                        finish_outside_lock = self._start(call)
                    except BaseException as exc:
                        failure = exc
            finally:
                self._release()
            if refused is not None:
                refused()  # Its callbacks may submit: not under the lock.
            elif failure is not None:
                # Counted submitted already: fails as a call no worker will run.
                refuse(call, failure)
            elif finish_outside_lock:
                self._after_start(call)

    def _stop_if_drained_locked(self) -> bool:
        """Once shut down with no delayed call left to fall due, stop the workers (once).

        Under the submit lock. Calls cancelled while waiting stay in the heap
        until their deadline (a cancel cannot take the submit lock); they no
        longer count in ``statistics.scheduled``, which is what decides here,
        and are dropped now. True if the workers were stopped by this call.
        """
        delayed = self._delayed
        if not self._shut_down or self._workers_stopped:
            return False
        if delayed is not None and self._gatherer.scheduled > 0:
            return False
        if delayed is not None:
            delayed.take_all()
        self._workers_stopped = True
        self._stop_workers()
        return True

    def _delayed_call_ended(self, _call: object) -> None:
        """Done-callback of the delayed calls a shutdown waits for: the last one stops it."""
        with self._submit_lock:
            drained = self._stop_if_drained_locked()
        if drained:
            self._alarm.close()
            self._delayed_drained.unpark_all()

    def _new_alarm(self, calls: DelayedCalls, submit_due: weakref.WeakMethod[SubmitDue]) -> Any:
        """What goes off when a delayed call falls due: one timer thread, unless overridden."""
        return _delayed.ThreadAlarm(calls, submit_due, self._name)

    def _withdraw_delayed(self) -> None:
        """Cancel every delayed call not yet due (interpreter exit)."""
        with self._submit_lock:
            calls = self._delayed.take_all() if self._delayed is not None else []
        for call in calls:
            withdraw(call)
