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


class HubChannel:
    """A self-pipe watched by one hub, plus the callables waiting to run there."""

    def __init__(self, hub: Any) -> None:
        self._calls: collections.deque[Callable[[], object]] = collections.deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        # Set by a caller that writes a byte, cleared by the hub after it
        # drains the pipe; a lost race only costs one extra byte.
        self._signalled = False
        hub.add(hub.READ, self._read_fd, self._on_readable, self._on_closed, None)

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` in the hub's greenlet soon; safe from any OS thread."""
        self._calls.append(fn)
        if not self._signalled:
            self._signalled = True
            try:
                _os_write(self._write_fd, b"\0")
            except BlockingIOError:
                pass  # The pipe is full: the hub has wakeups pending already.

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
