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

On top of the one-shot waiters sit :class:`Lock` (a mutex with hand-off that
both kinds of caller can contend on without deadlocking the hub) and
:class:`ParkingLot` (wait until a predicate holds), named after trio's.
"""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Callable
from typing import Any

from greenlet import getcurrent

from greenpool import _hubcall, _native


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
        """Block until woken or ``timeout`` seconds pass; return whether woken."""
        if timeout is None:
            self._lock.acquire()
        else:
            self._lock.acquire(True, max(0.0, timeout))
        return self.woken


class GreenWaiter:
    """Parks a green thread in its hub until :meth:`wake` switches back to it."""

    __slots__ = ("_channel", "_expired", "_greenlet", "_hub", "_parked", "_thread", "woken")

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._greenlet = getcurrent()
        self._thread = _native.get_ident()
        # Created here, in the hub's own thread, because a waker in another
        # thread may need it and must not register it with the hub itself.
        self._channel = _hubcall.channel_for(hub)
        self._parked = False
        self._expired = False
        self.woken = False

    def wake(self) -> None:
        """Wake the waiter; safe from any thread, any number of times."""
        self.woken = True
        if _native.get_ident() == self._thread:
            self._hub.schedule_call_global(0, self._resume)
        else:
            self._channel.call_soon(self._resume)

    def wait(self, timeout: float | None = None) -> bool:
        """Switch to the hub until woken or ``timeout`` seconds pass."""
        if self.woken:
            return True
        timer = None
        if timeout is not None:
            timer = self._hub.schedule_call_global(max(0.0, timeout), self._expire)
        try:
            # Only _resume switches back here, and only while _parked is set;
            # the loop guards against any other switch into this greenlet.
            while not (self.woken or self._expired):
                self._parked = True
                try:
                    self._hub.switch()
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


class Lock:
    """A mutex that green and native threads can contend on.

    A real lock would block a whole OS thread, and so every green thread in
    it, when a green thread holding it yields (say, a ``check_and_reject``
    callback that logs to a green socket). A green lock would break the other
    way round, for native threads. This one takes a real lock only for a few
    instructions and parks contenders with :func:`new_waiter`. Ownership is
    handed directly to the next waiter on release, so waiters are served in
    order and cannot starve.
    """

    __slots__ = ("_guard", "_locked", "_waiters")

    def __init__(self) -> None:
        self._guard = _native.allocate_lock()
        self._locked = False
        self._waiters: collections.deque[Waiter] = collections.deque()

    def acquire(self) -> bool:
        with self._guard:
            if not self._locked:
                self._locked = True
                return True
            waiter = new_waiter()
            self._waiters.append(waiter)
        # No timeout: release() hands ownership to exactly this waiter.
        waiter.wait()
        return True

    def release(self) -> None:
        with self._guard:
            if not self._locked:
                raise RuntimeError("release of an unlocked greenpool lock")
            if not self._waiters:
                self._locked = False
                return
            waiter = self._waiters.popleft()  # Stays locked: ownership moves.
        waiter.wake()

    def locked(self) -> bool:
        return self._locked

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


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
