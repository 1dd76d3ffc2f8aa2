"""Park the current caller, green thread or native thread, until woken from anywhere.

Every blocking operation in greenpool (``Future.result``, ``waiters.wait_for_any``,
the submit lock, ``shutdown(wait=True)``) comes down to one question: how does
*this* caller sleep so that whoever completes the work, in whatever thread,
can wake it? There are two answers, chosen per call:

* A **green thread** (any greenlet of a thread that has an eventlet hub, other
  than the hub itself) switches to its hub, so the other green threads keep
  running while it waits. A waker in the same OS thread schedules the switch
  back with ``hub.schedule_call_global(0, ...)``; a waker in another OS thread
  goes through the hub's self-pipe (:mod:`greenpool._hubcall`).
* A **native thread** (no hub, eventlet not even imported, or the hub greenlet
  itself) blocks on a real OS lock that the waker releases. It wakes as soon
  as the work is done, not at its timeout as with futurist's green future.

Whether eventlet has monkey patched the process does not matter: the decision
is made from the hub that actually exists for this thread, and the locks are
the real ones from :mod:`greenpool._native`.

On top of the one-shot waiters sits :class:`ParkingLot` (wait until a
predicate holds), named after trio's; beside them, :class:`Lock`, a real lock
that both kinds of caller can contend on without deadlocking a hub.
"""

from __future__ import annotations

import _queue
import collections
import functools
import sys
import time
from collections.abc import Callable
from typing import Any

from greenlet import getcurrent

from greenpool import _hubcall, _native, _timeouts
from greenpool._timeouts import os_wait


def current_hub() -> Any | None:
    """The eventlet hub the caller can park in, or ``None`` for a native wait.

    Never creates a hub and never imports eventlet: if no green executor or
    green code has run in this thread, there is nothing to switch to.
    """
    hubs = sys.modules.get("eventlet.hubs")
    if hubs is None:
        return None
    hub = getattr(hubs._threadlocal, "hub", None)
    if hub is None or getcurrent() is hub.greenlet:
        return None
    return hub


def in_hub_greenlet() -> bool:
    """Whether the caller is an eventlet hub's own greenlet, which must never block."""
    hubs = sys.modules.get("eventlet.hubs")
    if hubs is None:
        return False
    hub = getattr(hubs._threadlocal, "hub", None)
    return hub is not None and getcurrent() is hub.greenlet


class NativeWaiter:
    """Blocks a native thread on a real lock that :meth:`wake` releases."""

    __slots__ = ("_lock", "woken")

    def __init__(self) -> None:
        self._lock = _native.allocate_lock()
        self._lock.acquire()
        self.woken = False

    def wake(self) -> None:
        """Wake the waiter; safe from any thread, any number of times."""
        self.woken = True
        try:
            self._lock.release()
        except RuntimeError:
            pass  # Released already by an earlier wake.

    def wait(self, timeout: float | None = None) -> bool:
        """Block until woken or ``timeout`` seconds pass; return whether woken.

        A real lock cannot wait for years in one go (it overflows), so a long
        timeout is waited for in steps of at most ``LONGEST_OS_WAIT``.
        """
        if timeout is None:
            self._lock.acquire()
            return self.woken
        remaining = timeout if timeout > 0.0 else 0.0
        deadline = time.monotonic() + remaining
        while not self._lock.acquire(True, os_wait(remaining)):
            remaining = deadline - time.monotonic()
            if remaining <= 0.0:
                break
        return self.woken


class HubState:
    """What greenpool keeps per eventlet hub: its thread, its self-pipe, its ready queue.

    Green waiters woken from inside the hub's own thread are not resumed one
    hub timer each: they join ``ready`` and one timer drains it. A green
    worker that is about to park can instead take the next ready waiter and
    switch to it directly (:meth:`pop_ready`), saving a trip through the
    hub's loop; the worker was handed its call by a hub timer, so every cycle
    still passes through the hub and IO polling cannot starve.

    Kept as an attribute of the hub object: a lookup on every wait must be
    cheaper than a weak dictionary.
    """

    __slots__ = ("channel", "drain_scheduled", "hub", "ready", "thread", "thread_ended")

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.thread = _native.get_ident()
        # Created in the hub's own thread: a waker in another thread needs it
        # and must not register it with the hub itself.
        self.channel = _hubcall.HubChannel(hub)
        self.ready: collections.deque[GreenWaiter] = collections.deque()
        self.drain_scheduled = False
        #: Set once the hub's thread has ended: nothing will ever run in this hub again.
        self.thread_ended = False
        # The hub lives and dies with its thread; its pipe must not outlive them.
        _native.on_thread_exit(self._thread_exited)

    def _thread_exited(self) -> None:
        self.thread_ended = True
        self.channel.close()

    def make_ready(self, waiter: GreenWaiter) -> None:
        """Queue ``waiter`` to be resumed; call from the hub's thread only."""
        self.ready.append(waiter)
        if not self.drain_scheduled:
            self.drain_scheduled = True
            self.hub.schedule_call_global(0, self._drain)

    def _drain(self) -> None:
        self.drain_scheduled = False
        ready = self.ready
        while ready:
            ready.popleft()._resume()

    def pop_ready(self) -> Any | None:
        """The greenlet of the next ready waiter, now claimed by the caller, or None."""
        ready = self.ready
        while ready:
            waiter = ready.popleft()
            if waiter._parked:
                waiter._parked = False
                return waiter._greenlet
        return None


class _SteppedTimer:
    """A hub timer too long for eventlet: re-armed every ``LONGEST_OS_WAIT`` until it is due."""

    __slots__ = ("_args", "_deadline", "_fn", "_hub", "_timer")

    def __init__(self, hub: Any, seconds: float, fn: Callable[..., object], args: tuple[Any, ...]):
        self._hub = hub
        self._deadline = hub.clock() + seconds
        self._fn = fn
        self._args = args
        self._timer = hub.schedule_call_global(os_wait(seconds), self._fire)

    def _fire(self) -> None:
        remaining = self._deadline - self._hub.clock()
        if remaining > 0:
            self._timer = self._hub.schedule_call_global(os_wait(remaining), self._fire)
        else:
            self._fn(*self._args)

    def cancel(self) -> None:
        self._timer.cancel()


def call_later(hub: Any, seconds: float, fn: Callable[..., object], *args: Any) -> Any:
    """``hub.schedule_call_global(seconds, fn, *args)`` for any ``seconds``; has ``cancel()``.

    eventlet hands the time to its next timer straight to ``epoll``/``poll``,
    which take a 32-bit count of milliseconds: a timer 24.9 days or more away
    in a hub that watches a descriptor raises ``OverflowError`` out of the
    hub's loop. A longer delay is therefore waited for in steps. Call from
    the hub's own thread.
    """
    if seconds <= _timeouts.LONGEST_OS_WAIT:
        return hub.schedule_call_global(seconds, fn, *args)
    return _SteppedTimer(hub, seconds, fn, args)


def hub_state(hub: Any) -> HubState:
    """The :class:`HubState` of ``hub``; the first call must come from the hub's thread."""
    state: HubState | None = getattr(hub, "_greenpool_state", None)
    if state is None:
        state = hub._greenpool_state = HubState(hub)
    return state


class GreenWaiter:
    """Parks a green thread in its hub until :meth:`wake` switches back to it."""

    __slots__ = ("_expired", "_greenlet", "_parked", "_state", "woken")

    def __init__(self, hub: Any) -> None:
        self._state = hub_state(hub)
        self._greenlet = getcurrent()
        self._parked = False
        self._expired = False
        self.woken = False

    def wake(self) -> None:
        """Wake the waiter; safe from any thread, any number of times."""
        self.woken = True
        state = self._state
        if _native.get_ident() == state.thread:
            state.make_ready(self)
        else:
            state.channel.call_soon(self._resume)

    def wait(self, timeout: float | None = None) -> bool:
        """Switch to the hub until woken or ``timeout`` seconds pass."""
        if self.woken:
            return True
        hub = self._state.hub
        timer = None
        if timeout is not None:
            timer = call_later(hub, max(0.0, timeout), self._expire)
        try:
            # Only _resume or HubState.pop_ready switch back here, and only
            # while _parked is set; the loop guards against any other switch.
            while not (self.woken or self._expired):
                self._parked = True
                try:
                    hub.switch()
                finally:
                    self._parked = False
        finally:
            if timer is not None:
                timer.cancel()
        return self.woken

    def _expire(self) -> None:
        self._expired = True
        self._resume()

    def _resume(self) -> None:
        # Runs in the hub greenlet. A wake that arrives after the waiter has
        # already returned (a timeout and a wake racing, two futures of one
        # wait_for_any finishing together) must not switch into a greenlet
        # that has moved on to something else.
        if self._parked:
            self._parked = False
            self._greenlet.switch()


Waiter = NativeWaiter | GreenWaiter


def new_waiter() -> Waiter:
    """A one-shot waiter for the calling green or native thread."""
    hub = current_hub()
    return NativeWaiter() if hub is None else GreenWaiter(hub)


#: How long a green thread that finds a :class:`Lock` held blocks on it, giving
#: up the GIL, before it yields to its hub instead (see :class:`Lock`).
HANDOFF_WAIT = 0.0002


#: What :attr:`Lock.take_nowait` raises when the lock is held.
Held = _queue.Empty


class Lock:
    """A real lock whose contended acquire never blocks an eventlet hub for long.

    A plain real lock would block a whole OS thread, and so every green
    thread in it, when a green thread holding it yields (say, a
    ``check_and_reject`` callback that logs to a green socket). A green lock
    would break the other way round, for native threads. This one is real:
    contended, a native thread blocks in C with the GIL released.

    It is a one-token ``_queue.SimpleQueue`` rather than a ``_thread.lock``:
    the holder is whoever took the token. Every ``submit`` takes and releases
    it, a rejected one included, and the queue's ``get_nowait``/``put_nowait``
    are fast C calls, half the cost of a lock's ``acquire(False)`` and
    ``release()``, whose argument parsing is most of their cost. Uncontended,
    :attr:`take_nowait` and :attr:`release` are C calls with no Python frame.
    Meant for short critical sections, where contention is rare.

    Contended, a native thread blocks on the queue as on a lock. A green
    thread cannot tell who holds it, and each kind of holder needs something
    else to finish:

    * **Another OS thread** may hold it without the GIL, which it gave up
      to a thread switch and waits to get back. Yielding to the hub would
      keep the GIL in this thread, so the holder would wait a whole switch
      interval (5 ms) each time, and with several native submitters the
      green thread could wait for many: this was measured as gaps of 0.1 s
      between a green thread's submits. So the green thread first *blocks*
      on the lock for up to :data:`HANDOFF_WAIT`, which gives up the GIL:
      the holder runs at once, releases, and the lock passes straight here.
    * **A green thread of the same hub** (one that yielded while holding
      it) can only finish if the hub runs, so after that short block the
      waiter yields to its hub once, and tries again.

    :meth:`release` refuses to release a lock that is not held, as a real
    lock does (a second token would let two holders in); the hot paths use
    :attr:`release_held`, the same without that check.
    """

    __slots__ = ("_token", "release_held", "take_nowait")

    def __init__(self) -> None:
        self._token: _queue.SimpleQueue[bool] = _queue.SimpleQueue()
        self._token.put_nowait(True)
        #: Take the lock if it is free, in one C call; raises :data:`Held` if
        #: it is not (callers then fall back to :meth:`acquire`).
        self.take_nowait: Callable[[], bool] = self._token.get_nowait
        #: Release the lock, which the caller holds: no Python frame, no check.
        self.release_held: Callable[[], None] = functools.partial(self._token.put_nowait, True)

    def release(self) -> None:
        """Release the lock; ``RuntimeError`` if it is not held."""
        if not self._token.empty():
            raise RuntimeError("release unlocked lock")
        self._token.put_nowait(True)

    def acquire(self) -> bool:
        token = self._token
        try:
            return token.get_nowait()
        except Held:
            pass
        hub = current_hub()
        if hub is None:
            return token.get()
        current = getcurrent()
        while True:
            try:
                return token.get(True, HANDOFF_WAIT)
            except Held:
                pass
            # eventlet.sleep(0); the timer is cancelled even if an exception
            # (an eventlet.Timeout) ends the wait, or it would later switch
            # into this greenlet while it does something else.
            timer = hub.schedule_call_global(0, current.switch)
            try:
                hub.switch()
            finally:
                timer.cancel()

    def locked(self) -> bool:
        return self._token.empty()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release_held()


class ParkingLot:
    """Callers park until a predicate holds; whoever changes the state unparks them.

    The predicate is checked, and the caller registered, under one guard, and
    :meth:`unpark_all` takes that guard too, so a change made between the
    check and the park cannot be missed.
    """

    __slots__ = ("_guard", "_waiters")

    def __init__(self) -> None:
        self._guard = _native.allocate_lock()
        self._waiters: list[Waiter] = []

    def park_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Return once ``predicate()`` is true (True) or ``timeout`` passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._guard:
                if predicate():
                    return True
                waiter = new_waiter()
                self._waiters.append(waiter)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                woken = False
            else:
                woken = waiter.wait(remaining)
            if not woken:
                with self._guard:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
                    if predicate():
                        return True
                if deadline is not None and time.monotonic() >= deadline:
                    return False

    def unpark_all(self) -> None:
        """Wake every parked caller so it re-checks its predicate."""
        with self._guard:
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.wake()
