"""GreenThreadPoolExecutor: calls run on reused green threads in one eventlet hub.

Workers are plain greenlets parented to the hub, started lazily up to
``max_workers``. A worker runs its call, then takes queued work, and only
when the queue is empty parks itself on the idle stack. A new submission is
handed straight to an idle worker (no new greenlet; one hub timer switches
to every worker handed a call since the hub's last turn), a new worker is
started only when none is idle, and beyond ``max_workers`` the call waits in
the queue. Creating a greenlet costs more than the rest of a call, which
is why futurist (a ``GreenPool`` spawn per worker and an eventlet ``Queue``)
costs several times more per call (the README's ``burst`` figures).

The executor belongs to the hub of the thread that created it. A submission
from another OS thread is accepted (counted, checked, under the same lock)
and then handed to that hub through its self-pipe rather than touching the
hub from the wrong thread.

eventlet is imported when the first green executor is created, never by
``import greenpool``: eventlet warns on import that it is deprecated, and
users of the thread and process executors must not see that.
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from greenlet import getcurrent, greenlet

from greenpool import _exit
from greenpool._delayed import DelayedCalls, HubAlarm, SubmitDue
from greenpool._errors import CallTimeoutError
from greenpool._executor import CheckAndReject, Executor
from greenpool._native import get_ident
from greenpool._parking import ParkingLot, call_later, current_hub, hub_state
from greenpool._workitem import WorkItem, is_pending, run

LOGGER = logging.getLogger("greenpool")

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Item = TypeVar("_Item")


class GreenThreadPoolExecutor(Executor):
    """Runs calls on up to ``max_workers`` reused green threads.

    Same constructor as futurist's (``max_workers=1000``, ``check_and_reject``)
    plus a keyword-only ``name``.
    """

    def __init__(
        self,
        max_workers: int = 1000,
        check_and_reject: CheckAndReject | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(max_workers, check_and_reject, name=name)
        from eventlet import hubs  # The first import of eventlet, on purpose here.

        _live_executors.add(self)

        self._hub: Any = hubs.get_hub()
        self._hub_state = hub_state(self._hub)
        self._hub_thread = self._hub_state.thread
        self._queue: deque[WorkItem] = deque()
        # Workers the hub is to switch to, with the item (or, for a new
        # worker, the box) each is to get: one hub timer for all of them.
        self._switches: deque[tuple[greenlet, WorkItem | list[WorkItem] | None]] = deque()
        self._switching = False
        self._idle: list[greenlet] = []
        self._workers: set[greenlet] = set()
        # Calls submitted from other OS threads, on their way to the hub. Each
        # is claimed exactly once (set.remove is atomic): by its arrival in
        # the hub, or by a shutdown that cancels it first.
        self._in_transit: set[WorkItem] = set()
        self._stopping = False
        self._stop_seen = False
        # Workers that called shutdown(wait=True) themselves: no other worker's
        # shutdown waits for them (see _join_workers).
        self._joining: set[greenlet] = set()
        self._workers_exited = ParkingLot()

    @property
    def num_workers(self) -> int:
        return len(self._workers)

    @property
    def idle_workers(self) -> int:
        """Green threads parked for work, none handed a call."""
        return len(self._idle)

    # -- backend hooks ---------------------------------------------------

    def _start(self, item: WorkItem) -> bool:
        if get_ident() == self._hub_thread:
            queue = self._queue
            if queue:
                # Calls wait already, so every worker is busy (a worker takes
                # queued calls before it goes idle): wait behind them. The
                # common case of a burst, checked before anything else.
                queue.append(item)
            else:
                self._dispatch(item)
        else:
            # From another OS thread: posted now, the hub woken once the
            # submit lock is released (see Executor._start).
            if self._hub_state.thread_ended:
                raise RuntimeError(
                    f"cannot schedule new futures: the thread whose hub runs {self.name} has ended"
                )
            self._in_transit.add(item)
            self._hub_state.channel.post(lambda: self._arrive(item))
            return True
        return False

    def _after_start(self, item: WorkItem) -> None:
        self._hub_state.channel.wake()

    def _new_alarm(self, calls: DelayedCalls, submit_due: weakref.WeakMethod[SubmitDue]) -> Any:
        """Delayed calls wait on one hub timer (no OS thread); see greenpool._delayed."""
        return HubAlarm(calls, self._hub_state, submit_due)

    def _timed_call(self, seconds: float, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with a hub timer that raises :class:`CallTimeoutError` inside it (as
        ``eventlet.Timeout`` would). The worker survives and takes the next call; a
        call that catches the error and carries on is not interrupted again."""
        return _TimedCall(self._hub, seconds, fn)

    def _arrive(self, item: WorkItem) -> None:
        """In the hub's thread: dispatch a call another OS thread submitted."""
        try:
            self._in_transit.remove(item)
        except KeyError:
            return  # Taken and cancelled by shutdown(cancel_futures=True).
        self._dispatch(item)

    def _dispatch(self, item: WorkItem) -> None:
        """In the hub's thread: hand ``item`` to an idle worker, a new one, or the queue."""
        if self._idle:
            self._switch_soon(self._idle.pop(), item)
        elif len(self._workers) < self._max_workers:
            self._spawn(item)
        else:
            self._queue.append(item)

    def _spawn(self, item: WorkItem) -> None:
        worker = greenlet(self._work, parent=self._hub.greenlet)
        self._workers.add(worker)
        # In a box the worker empties: greenlet keeps the arguments of the
        # first switch until the worker exits, and a call's future, arguments
        # and result must be freed once it has run.
        self._switch_soon(worker, [item])

    def _switch_soon(self, worker: greenlet, payload: WorkItem | list[WorkItem] | None) -> None:
        """Have the hub switch to ``worker`` with ``payload`` (None: exit) on its next turn.

        One hub timer runs every switch scheduled before it fires, instead of
        one timer each: a burst that starts 1,000 workers builds one timer,
        not 1,000. Switches still run from the hub's timer phase, in order,
        so IO polling gets its turn between batches.
        """
        self._switches.append((worker, payload))
        if not self._switching:
            self._switching = True
            self._hub.schedule_call_global(0, self._switch_all)

    def _switch_all(self) -> None:
        self._switching = False
        switches = self._switches
        # Only the switches already scheduled: those that the calls run here
        # schedule (a call that submits another) wait for the next timer, so
        # a chain of calls submitting calls cannot keep the hub from its IO.
        for _ in range(len(switches)):
            worker, payload = switches.popleft()
            if worker.dead:  # Killed before its switch: give its call to another.
                if isinstance(payload, list):
                    self._dispatch(payload.pop())
                elif payload is not None:
                    self._dispatch(payload)
                continue
            try:
                worker.switch(payload)
            except BaseException:
                # Reported by the hub as its timer's error; the rest run on
                # its next turn.
                if switches and not self._switching:
                    self._switching = True
                    self._hub.schedule_call_global(0, self._switch_all)
                raise

    def _work(self, first: list[WorkItem]) -> None:
        """A worker's life: run calls, drain the queue, park when idle, exit when stopped."""
        item: WorkItem | None = first.pop()
        me = getcurrent()
        queue = self._queue
        pop_ready = self._hub_state.pop_ready
        try:
            while item is not None:
                run(item)
                if queue:
                    item = queue.popleft()
                    continue
                item = None  # Hold nothing while idle: the call may own big objects.
                if not self._stopping:
                    self._idle.append(me)
                    # Parked until _dispatch or _stop_workers switches back
                    # with the next item (None: exit). If a call just woke a
                    # green thread here, switch to it directly (HubState).
                    ready = pop_ready()
                    item = ready.switch() if ready is not None else self._hub.switch()
        finally:
            self._workers.discard(me)
            self._joining.discard(me)
            if me in self._idle:  # Killed while idle.
                self._idle.remove(me)
            if queue and len(self._workers) < self._max_workers:
                # Killed with work queued: someone must still run it.
                self._spawn(queue.popleft())
            if self._stopping:
                self._workers_exited.unpark_all()

    def _take_pending(self) -> list[WorkItem]:
        """Every call not started: in transit from other threads, handed to a worker
        that has not switched in yet, or queued.

        Handed calls stay in their worker's switch: the base withdraws them
        (:meth:`WorkItem._withdraw`) and the worker skips them. Read from
        another OS thread, the switches are copied while the hub may change
        them; a call that a worker starts meanwhile is left to run.
        """
        taken: list[WorkItem] = []
        for _worker, payload in _snapshot(self._switches):
            for item in payload if isinstance(payload, list) else (payload,):
                if item is not None and is_pending(item):
                    taken.append(item)
        for item in _snapshot(self._in_transit):
            try:
                self._in_transit.remove(item)
            except KeyError:
                continue  # It arrived meanwhile; it is in the queue or running.
            taken.append(item)
        while True:
            try:
                taken.append(self._queue.popleft())  # Atomic: each item goes one way.
            except IndexError:
                return taken

    def _stop_workers(self) -> None:
        self._stopping = True
        if get_ident() == self._hub_thread:
            self._release_idle()
        else:
            self._hub_state.channel.call_soon(self._release_idle)

    def _release_idle(self) -> None:
        """In the hub's thread: send idle workers away; busy ones exit when the queue is empty."""
        idle, self._idle = self._idle, []
        for worker in idle:
            self._switch_soon(worker, None)
        self._stop_seen = True
        self._workers_exited.unpark_all()

    def _join_workers(self) -> None:
        # The stop reaches the hub through the same FIFO channel as calls
        # submitted from other OS threads, after every one accepted before it,
        # so once the hub has seen it (_stop_seen) every such call is in a
        # worker or the queue, or was taken by shutdown: none is in transit.
        #
        # A worker that shuts down its own pool cannot wait for itself, nor for
        # another worker doing the same (each would wait for the other): it
        # waits until every worker left is one that has called shutdown(wait=True).
        # Every other caller waits for every worker.
        if self._hub_state.thread_ended:
            return  # Nothing will ever run in that hub again: there is nothing to wait for.
        me = getcurrent()
        if me in self._workers:
            self._joining.add(me)
            self._workers_exited.unpark_all()  # Another joining worker may now be done.
            self._workers_exited.park_until(
                lambda: (
                    self._stop_seen
                    and not self._in_transit
                    and len(self._workers) <= len(self._joining)
                )
            )
        else:
            self._workers_exited.park_until(
                lambda: self._stop_seen and not self._in_transit and not self._workers
            )


def _snapshot(items: Iterable[_Item]) -> list[_Item]:
    """A copy of a deque or set that the hub's thread may be changing meanwhile."""
    while True:
        try:
            return list(items)
        except RuntimeError:  # Changed during the copy: copy again.
            continue


class _TimedCall:
    """Runs a call in a green worker with a hub timer that interrupts it at its deadline."""

    __slots__ = ("_fn", "_hub", "_timeout")

    def __init__(self, hub: Any, timeout: float, fn: Callable[..., Any]) -> None:
        self._hub = hub
        self._timeout = timeout
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        error = CallTimeoutError(f"call to {self._fn!r} still running after {self._timeout} s")
        # The timer is cancelled before this frame returns; the call cannot
        # finish between the timer firing and the throw, both happen in the hub.
        timer = call_later(self._hub, self._timeout, getcurrent().throw, error)
        try:
            return self._fn(*args, **kwargs)
        finally:
            timer.cancel()


#: Every green executor not yet collected, for interpreter exit.
_live_executors: weakref.WeakSet[GreenThreadPoolExecutor] = weakref.WeakSet()


def _finish_at_exit() -> None:
    """At interpreter exit: run this thread's hub until its executors' calls are done.

    See :mod:`greenpool._exit`. An executor of another thread's hub is shut
    down without waiting (nothing here can run that hub); if its thread has
    ended, its unfinished calls will never run, and a warning says so.
    """
    here = get_ident()
    hub = current_hub()
    for executor in list(_live_executors):
        if executor._hub_thread == here and executor._hub is hub:
            executor.shutdown(wait=True)
            continue
        executor.shutdown(wait=False)
        unfinished = executor._gatherer.outstanding
        if unfinished and executor._hub_state.thread_ended:
            LOGGER.warning(
                "%r: %d call(s) will never finish: the thread whose hub runs them has ended",
                executor,
                unfinished,
            )


_exit.at_exit(_exit.GREEN, _finish_at_exit)
