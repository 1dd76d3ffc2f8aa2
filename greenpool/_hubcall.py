"""Run a callable inside an eventlet hub from any OS thread.

An eventlet hub is not thread-safe: ``hub.schedule_call_global`` from another
OS thread races with the hub's own loop and, worse, does not wake a hub that
is blocked in ``epoll``. Yet a green thread must be woken when a future it
waits on is completed by a native thread (a thread-pool worker, the process
pool's result thread). futurist's green future cannot do this, which is why a
native thread and a green thread cannot wait on each other there.

The classic answer, also used by ``eventlet.tpool``, is a self-pipe: the
other thread appends the callable to a deque (append and popleft are atomic
in CPython) and wakes the hub through a :class:`greenpool._wakeup.WakePipe`
whose read end the hub watches (one byte per burst of wake-ups). The hub
drains the pipe and runs the callables in its own greenlet. There is one
channel per hub (see :class:`greenpool._parking.HubState`), created from the
hub's own thread, because a hub's listener table is not thread-safe.

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
channel then; the pipe drops a wake that comes after the close (see
:mod:`greenpool._wakeup`), and the calls posted to a closed channel are
dropped too: its hub will never run again.

**Posting and waking are two steps** (:meth:`HubChannel.post`,
:meth:`HubChannel.wake`; :meth:`HubChannel.call_soon` does both), so that a
submitter can post under a lock and wake after releasing it: the write is a
system call, which gives up the GIL, and a lock held across that hand-off
stays held until the thread gets the GIL back, up to a switch interval
(5 ms) later, stalling every green thread that wants the lock meanwhile.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from greenpool._wakeup import WakePipe

#: How often a hub whose pipe is not watched yet looks for calls from other threads.
POLL_INTERVAL = 0.01


class HubChannel:
    """A wake-up pipe watched by one hub, plus the callables waiting to run there."""

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._calls: collections.deque[Callable[[], object]] = collections.deque()
        self._pipe = WakePipe()
        self.watched = False
        if self._hub_watches_anything():
            self._watch()
        else:
            hub.schedule_call_global(POLL_INTERVAL, self._poll)

    @property
    def read_fd(self) -> int:
        """The descriptor the hub watches (once :attr:`watched`)."""
        return self._pipe.read_fd

    def _hub_watches_anything(self) -> bool:
        listeners = self._hub.listeners
        return bool(listeners[self._hub.READ] or listeners[self._hub.WRITE])

    def _watch(self) -> None:
        # The pipe is level-triggered: a byte written before it was watched
        # makes the hub's next wait return at once.
        self.watched = True
        hub = self._hub
        hub.add(hub.READ, self._pipe.read_fd, self._on_readable, self._on_closed, None)

    def _poll(self) -> None:
        """In the hub, while the pipe is not watched: start watching it once it is needed."""
        if self._calls or self._pipe.signalled or self._hub_watches_anything():
            self._watch()
        else:
            self._hub.schedule_call_global(POLL_INTERVAL, self._poll)

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` in the hub's greenlet soon; safe from any OS thread."""
        self._calls.append(fn)
        self._pipe.wake()

    def post(self, fn: Callable[[], object]) -> None:
        """Queue ``fn()`` to run in the hub's greenlet once it is woken; any OS thread.

        Cheap and free of system calls, so it may be done under a lock; the
        caller must call :meth:`wake` afterwards (after releasing the lock).
        """
        self._calls.append(fn)

    def wake(self) -> None:
        """Have the hub run what has been posted; safe from any OS thread."""
        self._pipe.wake()

    def close(self) -> None:
        """Close the pipe, once its hub's thread has ended; later wakes are dropped."""
        self._pipe.close()
        self._calls.clear()

    def _on_readable(self, _fileno: int) -> None:
        # Drain (which clears the flag), then run the calls: a call appended
        # before the clear is run by the loop below; a caller that finds the
        # flag clear writes a byte the drain did not see, so the hub comes
        # back for its call.
        self._pipe.drain()
        calls = self._calls
        while calls:
            calls.popleft()()

    def _on_closed(self, *_args: object) -> None:  # pragma: no cover - never closed
        pass
