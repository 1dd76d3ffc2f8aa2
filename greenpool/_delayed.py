"""Delayed calls (``submit_after``): where they wait until due, and what wakes the executor then.

Data flows as for any other call, with one stop before ``submit``::

    submit_after(delay, fn, *args)        Executor base, under the submit lock:
      -> shutdown check, counted scheduled, a DelayedCall pushed on the
         executor's DelayedCalls heap; once the lock is released, the alarm
         is set again if this call is now the earliest
    the alarm goes off                    a hub timer (green executor), or
                                          the executor's one timer thread
      -> Executor._submit_due_calls: each due call, one at a time, is
         submitted like any other call: check_and_reject runs now, it is
         counted submitted (or rejected), and the backend's _start gets it

A delayed call is its own future from the start (a :class:`DelayedCall`, a
:class:`~greenpool._workitem.WorkItem` that knows it is not yet due), so
nothing is made or copied when it falls due, and ``cancel()`` works until
then like any pending call's.

Why one heap per executor and not one timer per call: a pending delayed call
then costs one heap entry beside its future, and the alarm is set for the
earliest deadline only. futurist's mixin keeps a heap too, but of tasks that
each carry a second future with its own ``threading.Condition``, and it
needs one thread per executor even on eventlet; here the green executor's
alarm is a hub timer, so delayed green calls need no OS thread at all.
"""

from __future__ import annotations

import heapq
import itertools
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError
from concurrent.futures._base import PENDING, RUNNING
from typing import Any

from greenlet import greenlet

from greenpool import _exit, _native
from greenpool._errors import RejectedSubmission
from greenpool._future import STATE_LOCK
from greenpool._statistics import Gatherer
from greenpool._timeouts import os_wait
from greenpool._workitem import WorkItem, now

_acquire = STATE_LOCK.acquire
_release = STATE_LOCK.release


class DelayedCall(WorkItem):
    """A call from ``submit_after``: a work item that is not submitted until it falls due.

    Until then it counts only in ``statistics.scheduled``; a ``cancel()``
    before then takes it out of there and counts it nowhere else (it was
    never submitted). When it falls due, :meth:`_fall_due` moves it into
    ``submitted`` or ``rejected`` in one step, under the state lock, so a
    snapshot never sees it in both or in neither.
    """

    __slots__ = ("_scheduled",)

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        gatherer: Gatherer,
    ) -> None:
        super().__init__(fn, args, kwargs, gatherer)
        self._scheduled: bool | None = True

    def _cancelled_locked(self) -> None:
        if self._scheduled:
            # Cancelled before it fell due: never submitted, so it ends
            # nothing a done-listener counts (see _cancelled).
            self._scheduled = None
            self._gatherer.unscheduled += 1
            # No worker will ever take it to tell the waiters installed by
            # concurrent.futures.wait or greenpool.waiters that it was
            # cancelled (CANCELLED -> CANCELLED_AND_NOTIFIED), as for a
            # queued call: the executor lets go of it now, so tell them now.
            # Without this, waiting on it never returned, even past its deadline.
            self._start_locked()
        else:
            self._gatherer.cancelled_locked()

    def _cancelled(self) -> None:
        if self._scheduled is not None:
            super()._cancelled()

    def _fall_due(self, outcome: BaseException | None) -> tuple[bool, Callable[[], None] | None]:
        """Leave ``scheduled``: submitted if ``outcome`` is None, else refused with it.

        For the executor, under its submit lock, once ``check_and_reject``
        has given ``outcome``. Returns whether the call is now submitted
        (False if it was cancelled while the check ran: then only the check's
        answer is counted), and what to run once the submit lock is released: a
        refused call's future fails with ``outcome`` (counted in ``rejected``
        if it is a :class:`RejectedSubmission`, else nowhere, as a ``submit``
        whose ``check_and_reject`` raised something else), and its waiters
        and done-callbacks, which may submit, must not run under the lock.
        """
        gatherer = self._gatherer
        _acquire()
        try:
            if self._state != PENDING:
                # Cancelled while check_and_reject ran (the executor skips a
                # call cancelled before it: see _submit_due_calls). The check
                # was asked, so its answer counts, as for a submit whose
                # future is cancelled at once: admitted, the call is
                # submitted and cancelled; refused, rejected. (The cancel
                # already took it out of scheduled.) Counting nothing would
                # leave a check_and_reject call that no statistic shows.
                if outcome is None:
                    gatherer.submitted += 1
                    gatherer.cancelled_locked()
                    return False, self._ended_unrun
                if isinstance(outcome, RejectedSubmission):
                    gatherer.rejected += 1
                return False, None
            self._scheduled = False
            gatherer.unscheduled += 1
            if outcome is None:
                # Counted before any worker can see it, as submit() does; its
                # wait for a worker starts now.
                gatherer.submitted += 1
                self._submitted_at = now()
                return True, None
            if isinstance(outcome, RejectedSubmission):
                gatherer.rejected += 1
            parked = self._finish_locked(None, outcome, failed=True)
        finally:
            _release()

        def finish() -> None:
            self._take_call()
            self._finished(parked)

        return False, finish

    def _ended_unrun(self) -> None:
        """Tell done-listeners that this accepted call ended unrun (outside every lock).

        For a call cancelled while its check ran (see :meth:`_fall_due`): its
        cancel found it still scheduled, so told nobody.
        """
        on_call_end = self._gatherer.on_call_end
        if on_call_end is not None:
            on_call_end(None)

    def _hand_over(self) -> bool:
        """Leave ``scheduled`` as a call that another future will run: False if cancelled.

        For :func:`submit_through`: the call becomes running here, uncounted
        (the future its executor's ``submit`` returns is the one counted),
        as futurist's scheduler marks its task's future before submitting it.
        """
        _acquire()
        try:
            if self._state != PENDING:
                return False
            self._scheduled = False
            self._gatherer.unscheduled += 1
            self._state = RUNNING
        finally:
            _release()
        return True


def submit_through(submit: Callable[..., Any], call: DelayedCall) -> None:
    """Submit a due ``call`` through an executor's overridden ``submit``, and follow it.

    A subclass that overrides ``submit`` (to add context, logging, tracing)
    expects every call, delayed ones included, to pass through it, as
    futurist's mixin's do. Then the delayed call's future follows the one
    ``submit`` returns: its result, its exception, or ``CancelledError`` if
    that one was cancelled; a ``submit`` that raises fails it.
    """
    if not call._hand_over():
        return
    fn, args, kwargs = call._take_call()
    try:
        inner = submit(fn, *args, **kwargs)
    except BaseException as exc:
        call.set_exception(exc)
        return

    def follow(done: Any) -> None:
        if done.cancelled():
            call.set_exception(CancelledError())
        elif done.exception() is not None:
            call.set_exception(done.exception())
        else:
            call.set_result(done.result())

    inner.add_done_callback(follow)


class DelayedCalls:
    """One executor's delayed calls not yet due, earliest first; guarded by its submit lock.

    While it holds any, it also holds the executor (``owner``): a delayed
    call someone waits on must still run if every other reference to its
    executor is dropped. Empty, it holds nothing, and the executor can be
    collected.
    """

    __slots__ = ("_heap", "_order", "owner")

    def __init__(self) -> None:
        # (deadline, order, call): tuples compare in C; order keeps calls due
        # at the same time in submission order and never compares two calls.
        self._heap: list[tuple[float, int, DelayedCall]] = []
        self._order = itertools.count()
        self.owner: object = None

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, deadline: float, call: DelayedCall, owner: object) -> bool:
        """Add ``call``; True if it is now the earliest (the alarm must be set for it)."""
        heap = self._heap
        heapq.heappush(heap, (deadline, next(self._order), call))
        self.owner = owner
        return heap[0][2] is call

    def next_deadline(self) -> float | None:
        heap = self._heap
        return heap[0][0] if heap else None

    def pop_due(self, at: float) -> DelayedCall | None:
        """The earliest call if it is due at ``at``, removed; else None."""
        heap = self._heap
        if not heap or heap[0][0] > at:
            return None
        call = heapq.heappop(heap)[2]
        if not heap:
            self.owner = None
        return call

    def pending(self) -> list[DelayedCall]:
        """The calls not yet due that nobody has cancelled (left in place)."""
        return [entry[2] for entry in self._heap if entry[2]._state == PENDING]

    def take_all(self) -> list[DelayedCall]:
        """Every call not yet due, removed (for ``shutdown(cancel_futures=True)``)."""
        calls = [entry[2] for entry in self._heap]
        self._heap.clear()
        self.owner = None
        return calls


#: What an alarm calls when it goes off: submit the due calls, return the next
#: deadline (None: none left). A weak method: an alarm never keeps its executor.
SubmitDue = Callable[[], float | None]


class ThreadAlarm:
    """Goes off at the earliest deadline it was set for, in one real OS thread.

    For every executor but the green one. The thread is started the first
    time the alarm is set, is a daemon (as futurist's scheduler), comes from
    the original ``threading`` module so that it is a real thread under
    ``eventlet.monkey_patch()``, and waits on a real lock, in steps of at
    most a day (see :mod:`greenpool._timeouts`). It exits when the alarm is
    closed (the executor shut down with nothing left to fall due, or
    collected).

    At interpreter exit it is finished with the thread pools
    (:func:`greenpool._exit.track`): closed, and its thread joined. A daemon
    thread would otherwise be frozen wherever it was when the interpreter
    finalized, and a synchronous executor runs a call that fell due in this
    thread: a call that had started would never finish. The delayed calls
    not yet due have been cancelled by then, so nothing else is lost.
    """

    def __init__(
        self, calls: DelayedCalls, submit_due: weakref.WeakMethod[SubmitDue], name: str
    ) -> None:
        # The thread holds the alarm, the alarm the calls, and the calls their
        # executor while any is left: see DelayedCalls.
        self._calls = calls
        self._submit_due = submit_due
        self._name = name
        self._guard = _native.allocate_lock()
        self._deadline: float | None = None
        self._closed = False
        self._started = False
        self._event: Any = None
        self._thread: Any = None

    def set(self, deadline: float) -> None:
        """Go off at ``deadline`` (a :func:`~greenpool._workitem.now` time) or earlier."""
        with self._guard:
            if self._closed:
                return
            if self._deadline is not None and self._deadline <= deadline:
                return
            self._deadline = deadline
            if not self._started:
                self._started = True
                self._event = _native.threading_module().Event()
                start = True
            else:
                start = False
        if start:
            thread = _native.threading_module().Thread(
                target=self._run, name=f"{self._name}_delayed", daemon=True
            )
            thread.start()
            self._thread = thread
            _exit.track(_exit.THREADS, self)
        else:
            self._event.set()

    def close(self) -> None:
        """Stop the thread; safe from a finalizer (no lock is waited for)."""
        self._closed = True
        event = self._event
        if event is not None:
            event.set()

    def stop(self) -> None:
        """At interpreter exit (see the class): no call is left to fall due; close."""
        self.close()

    def join_at_exit(self) -> None:
        """At interpreter exit: wait for the thread, and for the call it may be running."""
        thread = self._thread
        if thread is not None and thread.ident != _native.get_ident():
            thread.join()

    def _run(self) -> None:
        event = self._event
        while not self._closed:
            with self._guard:
                deadline = self._deadline
            if deadline is None:
                event.wait()
                event.clear()
                continue
            remaining = deadline - now()
            if remaining > 0.0:
                event.wait(os_wait(remaining))
                event.clear()
                continue
            with self._guard:
                self._deadline = None
            submit_due = self._submit_due()
            if submit_due is None:  # The executor was collected.
                return
            next_deadline = submit_due()
            del submit_due  # Hold no executor while waiting.
            if next_deadline is not None:
                with self._guard:
                    if self._deadline is None or next_deadline < self._deadline:
                        self._deadline = next_deadline


class HubAlarm:
    """Goes off at the earliest deadline it was set for, as one timer in a hub.

    For the green executor: no OS thread. Set from another OS thread, it is
    set in the hub's thread through the hub's channel. When it goes off the
    due calls are submitted from a new green thread, not from the hub's own
    greenlet, which must never block: a ``check_and_reject`` may wait.
    """

    def __init__(
        self, calls: DelayedCalls, hub_state: Any, submit_due: weakref.WeakMethod[SubmitDue]
    ) -> None:
        # While set, the hub's timer holds the alarm, the alarm the calls, and
        # the calls their executor: see DelayedCalls.
        self._calls = calls
        self._hub_state = hub_state
        self._hub = hub_state.hub
        self._submit_due = submit_due
        self._deadline: float | None = None
        self._timer: Any = None
        self._closed = False

    def set(self, deadline: float) -> None:
        if _native.get_ident() == self._hub_state.thread:
            self._set_here(deadline)
        else:
            self._hub_state.channel.call_soon(lambda: self._set_here(deadline))

    def close(self) -> None:
        self._closed = True

    def _set_here(self, deadline: float) -> None:
        from greenpool._parking import call_later

        if self._closed or (self._deadline is not None and self._deadline <= deadline):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._deadline = deadline
        self._timer = call_later(self._hub, max(0.0, deadline - now()), self._go_off)

    def _go_off(self) -> None:
        self._timer = self._deadline = None
        greenlet(self._submit_due_calls, parent=self._hub.greenlet).switch()

    def _submit_due_calls(self) -> None:
        submit_due = self._submit_due()
        if submit_due is None:
            return
        next_deadline = submit_due()
        if next_deadline is not None:
            self._set_here(next_deadline)


#: Executors that have made delayed calls; the executor base adds itself here.
with_delayed_calls: weakref.WeakSet[Any] = weakref.WeakSet()


def _cancel_all_at_exit() -> None:
    """Interpreter exit cancels every delayed call not yet due, before any executor finishes.

    Waiting for them could take hours; the executors' own exit phases then
    finish what was submitted (see :mod:`greenpool._exit`).
    """
    for executor in list(with_delayed_calls):
        executor._withdraw_delayed()


_exit.at_exit(_exit.DELAYED, _cancel_all_at_exit)
