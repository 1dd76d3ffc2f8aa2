"""Run a callable inside an eventlet hub from any OS thread.

An eventlet hub is not thread-safe: ``hub.schedule_call_global`` from another
OS thread races with the hub's own loop and, worse, does not wake a hub that
is blocked in ``epoll``. Yet a green thread must be woken when a future it
waits on is completed by a native thread (a thread-pool worker, the process
pool's result thread). futurist's green future cannot do this, which is why a
native thread and a green thread cannot wait on each other there.

The classic answer, also used by ``eventlet.tpool``, is a self-pipe: the
other thread appends the callable to a deque (append and popleft are atomic
in CPython) and writes one byte to a pipe whose read end the hub watches.
The hub drains the pipe and runs the callables in its own greenlet. There is
one channel per hub (see :class:`greenpool._parking.HubState`), created from
the hub's own thread, because a hub's listener table is not thread-safe; a
byte is written only when the channel is not already signalled, so a burst
of wakeups costs one syscall.

**The pipe is watched only once it is needed.** A hub that watches no file
descriptor waits for its next timer with ``time.sleep``, to the microsecond;
one that watches any waits in ``epoll``, whose timeout is rounded up to the
millisecond, so every ``eventlet.sleep`` in it ends up to 1 ms late.
Watching the pipe from the start would impose that on programs that never
use another OS thread (20 rounds of ``sleep(0.01)`` took 5 % longer). So
the pipe is added to the hub's listeners at once only if the hub watches
something already (nothing is lost then); otherwise a hub timer looks every
:data:`POLL_INTERVAL` seconds for a call from another thread, or for a
listener someone else added, and then starts watching the pipe for good.
The first call from another thread into an idle hub that watches nothing
may therefore wait up to that long; every later one wakes the hub at once.

**The pipe is closed when its hub's thread ends** (:meth:`HubChannel.close`,
run by :func:`greenpool._native.on_thread_exit`): a service that creates a
green executor in each of many short-lived threads must not leak two
descriptors per thread. A waker in another thread may still hold the
channel then, so every write and the close take one small lock and a write
after the close is dropped: a byte written to a closed descriptor's number,
reused by then for a socket or a file, would corrupt it. A call posted to a
closed channel is dropped too: its hub will never run again.

**Posting and waking are two steps** (:meth:`HubChannel.post`,
:meth:`HubChannel.wake`; :meth:`HubChannel.call_soon` does both), so that a
submitter can post under a lock and wake after releasing it: the write is a
system call, which gives up the GIL, and a lock held across that hand-off
stays held until the thread gets the GIL back, up to a switch interval
(5 ms) later, stalling every green thread that wants the lock meanwhile.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable

# eventlet.monkey_patch() replaces os.read/os.write with green versions that
# refuse to run inside the hub's own loop (where _on_readable runs) and would
# switch greenlets inside a waker's critical path. The posix module's
# functions are the real ones, whatever has been patched.
from posix import read as _os_read
from posix import write as _os_write
from typing import Any

from greenpool import _native

#: How often a hub whose pipe is not watched yet looks for calls from other threads.
POLL_INTERVAL = 0.01


class HubChannel:
    """A self-pipe watched by one hub, plus the callables waiting to run there."""

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._calls: collections.deque[Callable[[], object]] = collections.deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        # Set by a caller that writes a byte, cleared by the hub after it
        # drains the pipe; a lost race only costs one extra byte.
        self._signalled = False
        self.watched = False
        # Held for each write and for the close, never across anything else.
        self._write_guard = _native.allocate_lock()
        self._closed = False
        if self._hub_watches_anything():
            self._watch()
        else:
            hub.schedule_call_global(POLL_INTERVAL, self._poll)

    def _hub_watches_anything(self) -> bool:
        listeners = self._hub.listeners
        return bool(listeners[self._hub.READ] or listeners[self._hub.WRITE])

    def _watch(self) -> None:
        # The pipe is level-triggered: a byte written before it was watched
        # makes the hub's next wait return at once.
        self.watched = True
        hub = self._hub
        hub.add(hub.READ, self._read_fd, self._on_readable, self._on_closed, None)

    def _poll(self) -> None:
        """In the hub, while the pipe is not watched: start watching it once it is needed."""
        if self._calls or self._signalled or self._hub_watches_anything():
            self._watch()
        else:
            self._hub.schedule_call_global(POLL_INTERVAL, self._poll)

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` in the hub's greenlet soon; safe from any OS thread."""
        self._calls.append(fn)
        if not self._signalled:
            self._signal()

    def post(self, fn: Callable[[], object]) -> None:
        """Queue ``fn()`` to run in the hub's greenlet once it is woken; any OS thread.

        Cheap and free of system calls, so it may be done under a lock; the
        caller must call :meth:`wake` afterwards (after releasing the lock).
        """
        self._calls.append(fn)

    def wake(self) -> None:
        """Have the hub run what has been posted; safe from any OS thread."""
        if not self._signalled:
            self._signal()

    def _signal(self) -> None:
        self._signalled = True
        with self._write_guard:
            if self._closed:
                return  # The hub's thread has ended: there is no one to wake.
            try:
                _os_write(self._write_fd, b"\0")
            except BlockingIOError:
                pass  # The pipe is full: the hub has wakeups pending already.

    def close(self) -> None:
        """Close the pipe, once its hub's thread has ended; later wakes are dropped.

        Never waits long: a waker holds the guard for one write, so if it cannot
        be had within a second something is badly wrong, and leaving two
        descriptors open beats hanging the thread that is ending.
        """
        if not self._write_guard.acquire(True, 1.0):
            return
        try:
            if self._closed:
                return
            self._closed = True
            self._calls.clear()
            os.close(self._read_fd)
            os.close(self._write_fd)
        finally:
            self._write_guard.release()

    def _on_readable(self, _fileno: int) -> None:
        # Order matters: drain, then clear the flag, then run the calls. A
        # call appended before the clear is run by the loop below; a caller
        # that finds the flag clear writes a byte the drain did not see, so
        # the hub comes back for its call.
        try:
            while _os_read(self._read_fd, 4096):
                pass
        except BlockingIOError:
            pass
        self._signalled = False
        calls = self._calls
        while calls:
            calls.popleft()()

    def _on_closed(self, *_args: object) -> None:  # pragma: no cover - never closed
        pass
