"""WorkItem: an accepted call and its future, in one object, and every change of its state.

The executor base (:mod:`greenpool._executor`) makes one per accepted
``submit`` and returns it as the call's :class:`~greenpool.Future`; a
backend only decides which worker runs it. Here is everything that happens
to a call from then on, each change of the future made together with the
matching count in its executor's statistics, under
:data:`greenpool._future.STATE_LOCK`: started (``_run``, or ``_start`` for
a backend that runs the call elsewhere, the process pool), finished
(``_succeed``, ``_fail``), refused by a broken pool (``_refuse``),
cancelled by its caller (``cancel``) or withdrawn by shutdown
(``_withdraw``).

Backends use the functions at the end of this module (:func:`run`,
:func:`take_call`, :func:`start`, :func:`succeed`, :func:`fail`,
:func:`refuse`, :func:`withdraw`, :func:`hold`, :func:`hold_shared`, :func:`start_locked`,
:func:`accepted_at`, :func:`is_pending`, :func:`peek_call`),
never a work item's underscored members: those stay private because every
user holds a work item as a plain future.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures._base import CANCELLED_AND_NOTIFIED, PENDING, RUNNING
from typing import Any

from greenlet import GreenletExit

from greenpool._future import STATE_LOCK, Future
from greenpool._statistics import Gatherer

#: The clock for every wait and run time.
now = time.monotonic

_acquire = STATE_LOCK.acquire
_release = STATE_LOCK.release

#: The keyword arguments of every call submitted without any: one shared
#: empty dict instead of keeping the one ``submit(**kwargs)`` built, which
#: would hold 64 bytes a queued call and count towards garbage collection.
_NO_KWARGS: dict[str, Any] = {}


class WorkItem(Future[Any]):
    """An accepted call and its future, in one object, as Java's ``FutureTask``.

    ``submit`` returns it: to its caller it is the call's :class:`Future`
    (``repr`` says so too); to the backend it is the call to run. One object
    per call rather than a future and a separate work item halves what a
    queued call costs the garbage collector, the largest share of a burst of
    submissions. Its call-side members are underscored because every user
    holds one as a future.

    It is also the one place where a call changes state: each change of the
    future and the matching count in its executor's statistics happen
    together, under :data:`greenpool._future.STATE_LOCK`, so whoever sees the
    future change also sees the call counted, and running a call takes the
    lock twice: once to start it, once to resolve it. Backends that do not
    run the call themselves (the process pool) use :meth:`_take_call`,
    :meth:`_start`, :meth:`_succeed` and :meth:`_fail`; a broken pool fails
    the calls it will not run with :meth:`_refuse`.
    """

    _repr_name = "Future"

    __slots__ = ("_args", "_fn", "_gatherer", "_holder", "_kwargs", "_submitted_at")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        gatherer: Gatherer,
    ) -> None:
        # Future.__init__'s fields, set here rather than through super(),
        # which would cost as much again as the rest of this method.
        self._lazy_condition = None
        self._state = PENDING
        self._result = None
        self._exception = None
        self._waiter_list = None
        self._callback_list = None
        self._parked = None
        self._fn: Callable[..., Any] | None = fn
        self._args: tuple[Any, ...] = args
        self._kwargs: dict[str, Any] = kwargs or _NO_KWARGS
        self._gatherer = gatherer
        self._submitted_at = now()
        self._holder: Callable[[WorkItem], bool] | None = None

    def _take_call(self) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
        """The call, which this item then forgets: a user may hold the future long
        after the call ran, and must not keep its function and arguments alive."""
        call = (self._fn, self._args, self._kwargs)
        self._fn, self._args, self._kwargs = None, (), _NO_KWARGS
        return call  # type: ignore[return-value]

    def _may_cancel_locked(self) -> bool:
        holder = self._holder
        return holder is None or holder(self)

    def _cancelled_locked(self) -> None:
        self._gatherer.cancelled_locked()

    def _cancel(self, notify: bool) -> bool:
        if not super()._cancel(notify):
            return False
        # No worker will run it now: drop the call (after the lock is
        # released, since dropping may run the arguments' finalizers).
        self._take_call()
        return True

    def _cancelled(self) -> None:
        on_call_end = self._gatherer.on_call_end
        if on_call_end is not None:
            on_call_end(None)

    def _withdraw(self) -> None:
        """Cancel a call no worker has started, and tell its waiters so, in one step.

        For ``shutdown(cancel_futures=True)``. ``cancel()`` followed by
        ``set_running_or_notify_cancel()`` would leave a moment between the
        two in which a worker that still holds the item (a green worker it
        was handed to) could notify the cancel itself, and the second call
        would then find the future in an unexpected state. Here the future
        goes from pending to cancelled-and-notified under the lock; a worker
        that later reaches it skips it. A call that has started is left alone.
        """
        self._cancel(notify=True)

    def _start(self, started_at: float) -> bool:
        """Mark the call running and count its wait; False if it was cancelled meanwhile."""
        _acquire()
        try:
            running = self._start_locked()
            if running:
                self._gatherer.started_locked(started_at - self._submitted_at)
        finally:
            _release()
        if running is None:
            self._unexpected_state()
        return running

    def _succeed(self, runtime: float, result: Any) -> None:
        """Count the started call as finished after ``runtime`` s and resolve it with ``result``."""
        _acquire()
        try:
            self._gatherer.finished_locked(runtime, False)
            parked = self._finish_locked(result, None)
        finally:
            _release()
        self._finished(parked)
        on_call_end = self._gatherer.on_call_end
        if on_call_end is not None:
            on_call_end(runtime)

    def _fail(self, runtime: float, error: BaseException, ran: bool = True) -> None:
        """Count the started call as failed after ``runtime`` s and resolve it with ``error``.

        ``ran=False`` for a call refused without running (:meth:`_refuse`):
        done-listeners then hear ``None``, as for a cancelled call, rather
        than a run time of nothing.
        """
        _acquire()
        try:
            self._gatherer.finished_locked(runtime, True)
            parked = self._finish_locked(None, error, failed=True)
        finally:
            _release()
        self._finished(parked)
        on_call_end = self._gatherer.on_call_end
        if on_call_end is not None:
            on_call_end(runtime if ran else None)

    def _refuse(self, error: BaseException) -> None:
        """Fail, with ``error``, a call no worker will run (a broken pool).

        Counted as a call that started and failed at once, like one that
        raised ``error``; a cancelled future stays cancelled.
        """
        self._take_call()
        if self._start(now()):
            self._fail(0.0, error, ran=False)

    def _run(self) -> None:
        """Run the call in this worker, unless it was cancelled while queued.

        Every exception goes to the future, as in the stdlib; a
        ``GreenletExit`` (the worker greenlet is being killed) is re-raised
        afterwards so the kill still ends the worker.

        :meth:`_take_call`, :meth:`_start` and :meth:`_succeed`, inlined for
        the common case: this is most of what a worker does per call, and
        each method call would add a tenth to it.
        """
        fn, args, kwargs = self._fn, self._args, self._kwargs
        self._fn, self._args, self._kwargs = None, (), _NO_KWARGS
        gatherer = self._gatherer
        started_at = now()
        _acquire()
        try:
            if self._state == PENDING:
                self._state = RUNNING
                gatherer.started_locked(started_at - self._submitted_at)
                running: bool | None = True
            else:
                running = self._start_locked()
        finally:
            _release()
        if not running:
            # CANCELLED_AND_NOTIFIED: withdrawn by shutdown while a worker
            # held it (see _withdraw); the worker just moves on.
            if running is None and self._state != CANCELLED_AND_NOTIFIED:
                self._unexpected_state()
            return
        try:
            result = fn(*args, **kwargs)  # type: ignore[misc]
        except BaseException as exc:
            self._fail(now() - started_at, exc)
            if isinstance(exc, GreenletExit):
                raise
            del exc  # The traceback references this frame.
        else:
            runtime = now() - started_at
            _acquire()
            try:
                gatherer.finished_locked(runtime, False)
                parked = self._finish_locked(result, None)
            finally:
                _release()
            if parked or self._callback_list:
                self._finished(parked)
            on_call_end = gatherer.on_call_end
            if on_call_end is not None:
                on_call_end(runtime)


# -- the interface for backends ---------------------------------------------
#
# Plain functions of a work item (its methods, unbound, so a call costs no
# more than a method call). A backend that runs calls in its own workers
# needs only ``run``; one that runs them elsewhere (the process pool) takes
# the call, marks it started, and resolves it with ``succeed`` or ``fail``.

#: ``run(item)``: run the call here, unless it was cancelled (see :meth:`WorkItem._run`).
run = WorkItem._run
#: ``take_call(item) -> (fn, args, kwargs)``: the call, which the item then forgets.
take_call = WorkItem._take_call
#: ``start(item, started_at) -> bool``: mark it running; False if it was cancelled.
start = WorkItem._start
#: ``succeed(item, runtime, result)``: count the started call finished and resolve it.
succeed = WorkItem._succeed
#: ``fail(item, runtime, error)``: count the started call failed and resolve it.
fail = WorkItem._fail
#: ``refuse(item, error)``: fail a call no worker will run (a broken pool).
refuse = WorkItem._refuse
#: ``withdraw(item)``: cancel a call no worker has started (shutdown's cancel_futures).
withdraw = WorkItem._withdraw


def hold(item: WorkItem, holder: Callable[[WorkItem], bool] | None) -> None:
    """Make ``holder(item)`` the judge of whether the pending call may still be cancelled.

    For a backend that hands a call to a worker which may start it before
    this process hears of it (a process pool's prefetched call): a
    ``cancel()``, or shutdown's ``withdraw``, of the pending call first asks
    ``holder(item)``, under :data:`greenpool._future.STATE_LOCK`. It returns
    True once it has made sure the worker will not start the call (the
    cancel then goes ahead), False if the worker has started it (the cancel
    fails, as for a running call; the holder may mark it started with
    :func:`start_locked`). ``None`` removes the holder. The holder must not
    take :data:`STATE_LOCK` itself, nor block on anything that might.
    """
    item._holder = holder


def hold_shared(item: WorkItem, holder: Callable[[WorkItem], bool]) -> bool:
    """:func:`hold` for an item its caller may be cancelling meanwhile; False if it is not pending.

    A delayed call (``submit_after``) reaches its backend when it falls due,
    long after its caller got it: the holder is installed under
    :data:`greenpool._future.STATE_LOCK`, so a cancel either came first
    (False is returned, and the backend must let the call go) or asks the
    holder. :func:`hold` alone suffices for a call ``submit`` has not
    returned yet, which nobody else can see, and costs no lock.
    """
    _acquire()
    try:
        item._holder = holder
        return item._state == PENDING
    finally:
        _release()


def start_locked(item: WorkItem, started_at: float) -> bool:
    """:func:`start`, for a holder that already holds :data:`greenpool._future.STATE_LOCK`."""
    running = item._start_locked()
    if running:
        item._gatherer.started_locked(started_at - item._submitted_at)
    return bool(running)


def accepted_at(item: WorkItem) -> float:
    """When the call was accepted (by ``submit``, or falling due), on :data:`now`'s clock."""
    return item._submitted_at


def is_pending(item: WorkItem) -> bool:
    """True while no worker has started the call and nobody has cancelled it."""
    return item._state == PENDING


def peek_call(item: WorkItem) -> tuple[Callable[..., Any] | None, tuple[Any, ...], dict[str, Any]]:
    """The call, left in place (``fn`` is None once it was taken)."""
    return item._fn, item._args, item._kwargs
