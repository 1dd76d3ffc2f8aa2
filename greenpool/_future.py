"""The one Future every greenpool executor returns.

A subclass of :class:`concurrent.futures.Future`, so ``concurrent.futures.wait``,
``as_completed`` and ``asyncio.wrap_future`` accept it, that fixes the two
things the stdlib future cannot do under eventlet:

* **Waiting from any kind of caller.** ``result()`` and ``exception()`` park the
  caller with :func:`greenpool._parking.new_waiter`: a green thread switches to
  its hub (with or without monkey patching) so other green threads keep
  running; a native thread blocks on a real lock and wakes the moment the
  future resolves, whichever thread resolves it. futurist's ``GreenFuture``
  swaps in a green condition instead, so a native thread waiting on it
  sleeps until its timeout.
* **Cost.** The stdlib future builds a ``Condition`` over an ``RLock`` for
  every call, the largest part of its cost in time and memory (the README's
  ``queued-memory`` figures). This one has no lock of its own (see
  below) and builds the ``_condition`` that ``concurrent.futures.wait`` needs
  only if such a function ever asks for it. The condition wraps the shared
  state lock, so the stdlib helpers and these methods exclude each other
  correctly.

State names and transitions are the stdlib's, including ``CANCELLED`` ->
``CANCELLED_AND_NOTIFIED`` in :meth:`set_running_or_notify_cancel`, so
waiters installed by ``concurrent.futures.wait`` are notified exactly once.

**One lock for all state.** Every future's state, and every executor's
statistics (:class:`greenpool._statistics.Gatherer`), is guarded by one
reentrant OS lock, :data:`STATE_LOCK`, instead of a lock per future:

* A call's future and its executor's counters change together, in one
  critical section (:class:`greenpool._workitem.WorkItem`), so a statistics
  snapshot and the future never disagree, and running a call costs two lock
  round trips instead of five.
* ``concurrent.futures.wait`` and ``as_completed`` acquire the condition of
  every future they are given, all at once, in ``id`` order. Futures sharing
  a lock per executor would have them take two executors' locks in any order
  and could deadlock; a single lock has no order to get wrong. It is
  reentrant because they acquire it once per future.
* It is held for a few instructions at a time, never across user code, a
  callback, a wake-up or a green switch, so contention costs nanoseconds.

The lock is taken with explicit ``acquire``/``release`` rather than ``with``:
a ``with`` block costs twice as much, and every call passes through two.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, InvalidStateError
from concurrent.futures import TimeoutError as FuturesTimeoutError
from concurrent.futures._base import (
    _STATE_TO_DESCRIPTION_MAP,
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    LOGGER,
    PENDING,
    RUNNING,
)
from typing import Any, ClassVar, NoReturn, TypeVar

from greenpool import _native
from greenpool._parking import Waiter, new_waiter
from greenpool._timeouts import wait_timeout

_T = TypeVar("_T")

_DONE_STATES = frozenset((CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED))
_CANCELLED_STATES = frozenset((CANCELLED, CANCELLED_AND_NOTIFIED))

#: Guards the state of every future and every executor's statistics; see the
#: module docstring.
STATE_LOCK = _native.RLock()
_acquire = STATE_LOCK.acquire
_release = STATE_LOCK.release

if hasattr(os, "register_at_fork"):  # pragma: no branch - absent on Windows only
    # A child forked while another thread held the lock would find it held forever.
    os.register_at_fork(after_in_child=STATE_LOCK._at_fork_reinit)  # type: ignore[attr-defined]


class Future(concurrent.futures.Future[_T]):
    """The result of a call submitted to a greenpool executor.

    Waiting on it (``result``, ``exception``, :mod:`greenpool.waiters`) works
    from green threads, with or without ``eventlet.monkey_patch()``, and from
    native threads, wherever the call runs. ``GreenFuture`` is the same class
    under futurist's name.
    """

    # Slots keep the instance dict that the stdlib base allows from ever being
    # built: one GC-tracked object per call instead of two, and less memory.
    #: The class name ``repr`` shows, if not this class's own.
    _repr_name: ClassVar[str | None] = None

    __slots__ = (
        "_callback_list",
        "_exception",
        "_lazy_condition",
        "_parked",
        "_result",
        "_state",
        "_waiter_list",
    )

    def __init__(self) -> None:
        # Deliberately not calling super().__init__(): see the module docstring.
        self._lazy_condition: threading.Condition | None = None
        self._state = PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        # The stdlib's _waiters and _done_callbacks lists, created on first use:
        # most futures never need them, and two fewer GC-tracked objects per
        # call is a measurable share of a burst (see the properties below).
        self._waiter_list: list[Any] | None = None
        self._callback_list: list[Callable[[concurrent.futures.Future[_T]], object]] | None = None
        # Callers parked in result()/exception(); kept apart from _waiters
        # because those follow the stdlib protocol (notified of a cancel
        # only once an executor discards the call), while a blocked result()
        # must wake as soon as cancel() succeeds.
        self._parked: list[Waiter] | None = None

    @property
    def _condition(self) -> threading.Condition:
        condition = self._lazy_condition
        if condition is None:
            # Two threads racing here build two conditions over the same lock,
            # which is harmless: the stdlib helpers only acquire and release.
            condition = self._lazy_condition = threading.Condition(STATE_LOCK)
        return condition

    @_condition.setter
    def _condition(self, condition: threading.Condition) -> None:
        self._lazy_condition = condition

    @property
    def _waiters(self) -> list[Any]:
        # concurrent.futures.wait/as_completed append to and remove from this.
        waiters = self._waiter_list
        if waiters is None:
            waiters = self._waiter_list = []
        return waiters

    @_waiters.setter
    def _waiters(self, waiters: list[Any]) -> None:
        self._waiter_list = waiters

    @property
    def _done_callbacks(self) -> list[Callable[[concurrent.futures.Future[_T]], object]]:
        callbacks = self._callback_list
        if callbacks is None:
            callbacks = self._callback_list = []
        return callbacks

    @_done_callbacks.setter
    def _done_callbacks(
        self, callbacks: list[Callable[[concurrent.futures.Future[_T]], object]]
    ) -> None:
        self._callback_list = callbacks

    def _invoke_callbacks(self) -> None:
        # Whatever a callback raises, SystemExit and KeyboardInterrupt included,
        # is the callback's: it is logged and the next callback runs. The
        # stdlib lets a BaseException through, which ends the thread that
        # resolved the future, such as the process pool's manager thread, and
        # with it the pool.
        for callback in self._callback_list or ():
            try:
                callback(self)
            except BaseException:
                LOGGER.exception("exception calling callback for %r", self)

    def __repr__(self) -> str:
        state = self._state
        cls = self._repr_name or type(self).__name__
        name = f"<{cls} at {id(self):#x} state={_STATE_TO_DESCRIPTION_MAP[state]}"
        if state == FINISHED:
            if self._exception is not None:
                return f"{name} raised {type(self._exception).__name__}>"
            return f"{name} returned {type(self._result).__name__}>"
        return name + ">"

    def cancelled(self) -> bool:
        return self._state in _CANCELLED_STATES

    def running(self) -> bool:
        return self._state == RUNNING

    def done(self) -> bool:
        return self._state in _DONE_STATES

    def cancel(self) -> bool:
        """Cancel the call if it has not started; return whether it is cancelled."""
        return self._cancel(notify=False)

    def _cancel(self, notify: bool) -> bool:
        """``cancel()``; with ``notify``, also tell ``_waiters`` in the same critical section.

        ``notify`` is ``cancel()`` and ``set_running_or_notify_cancel()`` in
        one step, for an executor that discards a call a worker may still
        hold (see :meth:`greenpool._workitem.WorkItem._withdraw`).
        """
        _acquire()
        try:
            state = self._state
            if state == PENDING:
                if not self._may_cancel_locked():
                    return False
                self._state = CANCELLED
                self._cancelled_locked()
                parked, self._parked = self._parked, None
            elif state not in _CANCELLED_STATES:
                return False
            if notify and self._state == CANCELLED:
                self._start_locked()  # CANCELLED -> CANCELLED_AND_NOTIFIED, waiters told.
        finally:
            _release()
        if state == PENDING:
            if parked:
                for waiter in parked:
                    waiter.wake()
            self._invoke_callbacks()
            self._cancelled()
        return True

    def set_running_or_notify_cancel(self) -> bool:
        """Mark the future running (True), or notify waiters it was cancelled (False).

        For executors: call once, just before running the call.
        """
        _acquire()
        try:
            running = self._start_locked()
        finally:
            _release()
        if running is None:
            self._unexpected_state()
        return running

    def set_result(self, result: _T) -> None:
        _acquire()
        try:
            parked = self._finish_locked(result, None)
        finally:
            _release()
        self._finished(parked)

    def set_exception(self, exception: BaseException | None) -> None:
        _acquire()
        try:
            parked = self._finish_locked(None, exception, failed=True)
        finally:
            _release()
        self._finished(parked)

    # -- transitions, with STATE_LOCK held: for executors ----------------

    def _may_cancel_locked(self) -> bool:
        """Whether a pending call may be cancelled now: a hook for an executor whose
        worker may have started it without this process knowing yet (a process pool's
        prefetched call). Called under the state lock."""
        return True

    def _cancelled_locked(self) -> None:
        """Just cancelled: a hook for an executor's future to count it, in the same section."""

    def _cancelled(self) -> None:
        """Just cancelled, after the lock was released and the callbacks ran: a hook."""

    def _start_locked(self) -> bool | None:
        """``PENDING`` -> ``RUNNING`` (True), or notify a cancel (False); None if neither."""
        state = self._state
        if state == PENDING:
            self._state = RUNNING
            return True
        if state == CANCELLED:
            self._state = CANCELLED_AND_NOTIFIED
            for waiter in self._waiter_list or ():
                waiter.add_cancelled(self)
            return False
        return None

    def _unexpected_state(self) -> NoReturn:
        LOGGER.critical("Future %s in unexpected state: %s", id(self), self._state)
        raise RuntimeError("Future in unexpected state")

    def _finish_locked(
        self, result: Any, exception: BaseException | None, failed: bool = False
    ) -> list[Waiter] | None:
        """Resolve the future; return the parked callers, to wake once the lock is released."""
        if self._state in _DONE_STATES:
            raise InvalidStateError(f"{self._state}: {self!r}")
        if failed:
            self._exception = exception
            self._state = FINISHED
            for waiter in self._waiter_list or ():
                waiter.add_exception(self)
        else:
            self._result = result
            self._state = FINISHED
            for waiter in self._waiter_list or ():
                waiter.add_result(self)
        parked, self._parked = self._parked, None
        return parked

    def _finished(self, parked: list[Waiter] | None) -> None:
        """After :meth:`_finish_locked`, outside the lock: wake waiters, run callbacks."""
        if parked:
            for waiter in parked:
                waiter.wake()
        if self._callback_list:
            self._invoke_callbacks()

    # -- callers ---------------------------------------------------------

    def add_done_callback(self, fn: Callable[[concurrent.futures.Future[_T]], object]) -> None:
        """Call ``fn(future)`` when the future is done (now, if it already is).

        ``fn`` runs in whichever thread resolves the future (a worker, the
        process pool's manager thread, a caller of ``cancel``). Any exception
        it raises, a ``BaseException`` such as ``SystemExit`` included, is
        logged on the ``concurrent.futures`` logger and goes no further, so it
        can neither end that thread nor stop the other callbacks.
        """
        _acquire()
        try:
            if self._state not in _DONE_STATES:
                if self._callback_list is None:
                    self._callback_list = [fn]
                else:
                    self._callback_list.append(fn)
                return
        finally:
            _release()
        try:
            fn(self)
        except BaseException:  # Contained, as in _invoke_callbacks.
            LOGGER.exception("exception calling callback for %r", self)

    def result(self, timeout: float | None = None) -> _T:
        """The call's result; raises its exception, ``CancelledError`` or ``TimeoutError``.

        ``timeout`` is in seconds (None or ``inf``: wait for ever; 0 or less:
        do not wait); NaN raises ``ValueError`` and a non-number ``TypeError``.
        """
        try:
            if timeout is not None:
                timeout = wait_timeout(timeout)
            if self._state not in _DONE_STATES:
                self._park(timeout)
            state = self._state
            if state == FINISHED:
                if self._exception is not None:
                    raise self._exception
                return self._result  # type: ignore[no-any-return]
            if state in _CANCELLED_STATES:
                raise CancelledError()
            raise FuturesTimeoutError()
        finally:
            # Break the cycle frame -> self -> exception -> traceback -> frame.
            self = None  # type: ignore[assignment]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The call's exception, or None; raises ``CancelledError`` or ``TimeoutError``.

        ``timeout`` as for :meth:`result`.
        """
        if timeout is not None:
            timeout = wait_timeout(timeout)
        if self._state not in _DONE_STATES:
            self._park(timeout)
        state = self._state
        if state == FINISHED:
            return self._exception
        if state in _CANCELLED_STATES:
            raise CancelledError()
        raise FuturesTimeoutError()

    def _park(self, timeout: float | None) -> None:
        """Block the caller until the future is done or ``timeout`` passes."""
        waiter = new_waiter()
        _acquire()
        try:
            if self._state in _DONE_STATES:
                return
            if self._parked is None:
                self._parked = [waiter]
            else:
                self._parked.append(waiter)
        finally:
            _release()
        try:
            waiter.wait(timeout)
        finally:
            if not waiter.woken:
                _acquire()
                try:
                    if self._parked is not None and waiter in self._parked:
                        self._parked.remove(waiter)
                finally:
                    _release()


#: futurist's name for the future of a green executor; here every future is green-safe.
GreenFuture = Future
