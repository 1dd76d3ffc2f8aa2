"""WakePipe: how any thread wakes one that sleeps waiting on file descriptors.

Two sleepers in greenpool wait on descriptors and must be woken by other OS
threads: an eventlet hub (in ``epoll``, through
:class:`greenpool._hubcall.HubChannel`) and the process pool's manager
thread (in ``poll()``). Both use this one self-pipe, in the manner of
CPython's ``_ThreadWakeup`` in ``concurrent/futures/process.py``:

* **One byte per batch.** A waker writes a byte only if none is unread, so
  a burst of wake-ups costs one system call. The sleeper drains the pipe
  and only then clears the flag: a wake-up after the clear writes a byte of
  its own, and one before it is seen by whatever the sleeper looks at next
  (the work itself is handed over elsewhere, in a deque, before the wake).
  A lost race only costs an extra byte.
* **Never blocks a waker.** Both ends are non-blocking; a full pipe means
  the sleeper has wake-ups pending already.
* **Safe to close while others may still wake it.** A descriptor's number is
  reused as soon as it is closed, by a socket or a file that a late byte
  would corrupt; so every write and the close take one small lock, and a
  wake after the close is dropped.
* **Always the real system calls.** ``posix.read``/``posix.write`` are the
  unpatched ones whatever ``eventlet.monkey_patch()`` has done (its green
  ``os.read`` refuses to run inside the hub's loop and would switch
  greenlets inside a waker's critical path).
"""

from __future__ import annotations

import os
from posix import read as _os_read
from posix import write as _os_write

from greenpool import _native


class WakePipe:
    """A non-blocking self-pipe: :meth:`wake` from any thread, :meth:`drain` in the sleeper."""

    __slots__ = ("_closed", "_guard", "_signalled", "_write_fd", "read_fd")

    def __init__(self) -> None:
        #: The descriptor the sleeper watches for reading.
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._signalled = False
        # Held for each write and for the close, never across anything else.
        self._guard = _native.allocate_lock()
        self._closed = False

    @property
    def signalled(self) -> bool:
        """A byte has been written that the sleeper has not drained yet."""
        return self._signalled

    def wake(self) -> None:
        """Wake the sleeper, unless a wake-up is already unread; safe from any thread."""
        if not self._signalled:
            self.signal()

    def signal(self) -> None:
        """Write a byte even if one is unread (a stop, which must be seen whatever happened)."""
        self._signalled = True
        with self._guard:
            if self._closed:
                return  # Nobody sleeps on it any more.
            try:
                _os_write(self._write_fd, b"\0")
            except BlockingIOError:
                pass  # The pipe is full: the sleeper has wake-ups pending already.

    def drain(self) -> None:
        """In the sleeper: read every byte, then clear the flag (in that order; see above)."""
        try:
            while _os_read(self.read_fd, 4096):
                pass
        except BlockingIOError:
            pass
        self._signalled = False

    def close(self) -> None:
        """Close both ends; later wakes are dropped.

        Never waits long: a waker holds the guard for one write, so if it
        cannot be had within a second something is badly wrong, and leaving
        two descriptors open beats hanging the thread that closes them.
        """
        if not self._guard.acquire(True, 1.0):
            return
        try:
            if self._closed:
                return
            self._closed = True
            os.close(self.read_fd)
            os.close(self._write_fd)
        finally:
            self._guard.release()
