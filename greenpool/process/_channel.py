"""Channel: everything the parent shares with one worker process, and the cancellation handshake.

A worker process and the parent share three things, all made here, per
worker, when the worker is started:

* two pipes, *calls* and *answers*, carrying :mod:`~greenpool.process._wire`
  frames, with the parent's buffers for what it has not written yet and for
  the start of an answer not complete yet;
* a **board** in shared memory (``int64`` words, written without a system
  call): the number of the last call the worker started and finished, when
  it started the last one, and a ring of *withdrawn* marks, where
  ``ring[n % RING] == n`` says "do not start call ``n``";
* a **lock** (a semaphore) around the two halves of the handshake below.

**Why the handshake.** Under a backlog a worker holds calls ahead of the one
it runs, and the parent must still be able to cancel them, or take them
back for an idle worker, until the worker starts one. The worker, before
each call, takes the lock, checks the call's withdrawn mark, and if it is
not set records the call as started; the parent, to withdraw a call, takes
the lock, checks the last started number, and if the call is later sets
its mark. Without the lock each side would store then load, and both
stores could sit in their CPU's store buffer while the loads ran, so each
side would miss the other's store (Dekker's problem: x86 reorders exactly
this). With it, exactly one side wins: the call is either started or
withdrawn, and both sides agree which.

The worker holds the lock for a few stores, so the parent waits for it in
short steps and gives up if the worker has died meanwhile (a ``SIGKILL``
can land while it holds the lock, which then stays taken for ever).
"""

from __future__ import annotations

import multiprocessing.connection
import os
from typing import Any, NamedTuple

from greenpool._native import original
from greenpool.process import _wire
from greenpool.process._dispatch import MAX_HELD

_select = original("select")

#: Board words: the last call started, the last finished, when the last one started (ns).
STARTED = 0
FINISHED = 1
STARTED_AT = 2
_RING_START = 3
#: Withdrawn marks: more than the most calls a worker may hold, so no live mark is overwritten.
RING = 2 * MAX_HELD
BOARD_SIZE = _RING_START + RING
#: The board's ``STARTED`` and ``FINISHED`` until the worker's initializer has run.
NOT_READY = -1

#: How long one wait for the worker's lock lasts before checking that the worker lives.
_LOCK_STEP = 0.05


class WorkerEnd(NamedTuple):
    """What the worker process is given: its ends of the pipes, the board and the lock."""

    calls: Any
    answers: Any
    board: Any
    lock: Any


class Channel:
    """The parent's end of one worker: pipes, buffers, board, lock, and call numbering.

    Owned by the manager thread, except :meth:`withdraw`, which a holder
    calls from whichever thread cancels a call.
    """

    __slots__ = (
        "_answers",
        "_board",
        "_calls",
        "_lock",
        "_next_number",
        "_received",
        "_worker_end",
        "answers_fd",
        "calls_fd",
        "outgoing",
        "sentinel",
    )

    def __init__(self, context: Any) -> None:
        calls_reader, self._calls = multiprocessing.connection.Pipe(duplex=False)
        self._answers, answers_writer = multiprocessing.connection.Pipe(duplex=False)
        self._board = board = context.RawArray("q", BOARD_SIZE)
        board[STARTED] = board[FINISHED] = NOT_READY
        self._lock = context.Lock()
        self._worker_end: WorkerEnd | None = WorkerEnd(
            calls_reader, answers_writer, board, self._lock
        )
        self.calls_fd: int = self._calls.fileno()
        self.answers_fd: int = self._answers.fileno()
        os.set_blocking(self.calls_fd, False)
        os.set_blocking(self.answers_fd, False)
        self._next_number = 1
        #: Framed calls not written to the pipe yet.
        self.outgoing = bytearray()
        self._received = bytearray()
        #: The worker process's sentinel, once it is started.
        self.sentinel: int | None = None

    def worker_end(self) -> WorkerEnd:
        """The worker's share, to pass to the new process (once)."""
        end = self._worker_end
        assert end is not None
        return end

    def started_worker(self, sentinel: int) -> None:
        """The process has started (or failed to): the parent lets go of the worker's ends."""
        end = self._worker_end
        if end is not None:
            end.calls.close()
            end.answers.close()
            self._worker_end = None
        self.sentinel = sentinel

    # -- calls out -----------------------------------------------------------

    def queue(self, payload: bytes) -> int:
        """Frame a pickled call behind those queued; return its number on this worker."""
        number = self._next_number
        self._next_number = number + 1
        self.outgoing += _wire.CALL_HEADER.pack(len(payload), number, 0)
        self.outgoing += payload
        return number

    def queue_stop(self) -> None:
        self.outgoing += _wire.CALL_HEADER.pack(0, 0, _wire.STOP)

    def flush(self) -> bool:
        """Write what the pipe takes now, without blocking; True if some is left."""
        outgoing = self.outgoing
        if outgoing:
            try:
                written = _wire.write(self.calls_fd, outgoing)
            except BlockingIOError:
                written = 0
            except OSError:
                written = len(outgoing)  # The worker is gone; its sentinel will say so.
            del outgoing[:written]
        return bool(outgoing)

    # -- answers in ----------------------------------------------------------

    def read(self) -> bytes | None:
        """One read of the answers pipe: ``b""`` if it is empty now, None at its end."""
        try:
            data = _wire.read(self.answers_fd, _wire.READ_SIZE)
        except BlockingIOError:
            return b""
        return data if data else None

    def unparsed(self, data: bytes) -> bytes | bytearray:
        """``data`` after the incomplete answer the previous read ended with, if any."""
        if self._received:
            self._received += data
            return self._received
        return data

    def keep(self, data: bytes | bytearray, position: int) -> None:
        """Keep ``data[position:]``, an incomplete answer, for the next read."""
        self._received = bytearray(data[position:])

    # -- the board -----------------------------------------------------------

    @property
    def started(self) -> int:
        """The last call the worker started (a hint unless the worker is dead)."""
        number: int = self._board[STARTED]
        return number

    @property
    def finished(self) -> int:
        number: int = self._board[FINISHED]
        return number

    @property
    def started_at(self) -> float:
        """When the worker started its last call, on the clock shared with the parent."""
        ns: int = self._board[STARTED_AT]
        return ns / 1e9

    def withdrawn(self, number: int) -> bool:
        """Whether call ``number`` was withdrawn (exact once the worker has stopped)."""
        return bool(self._board[_RING_START + number % RING] == number)

    def withdraw(self, numbers: list[int]) -> int:
        """Withdraw, from the last, the calls in ``numbers`` (ascending) that the worker has
        not started; return how many (all of them, or those after the last one it has
        started). Zero if the worker died holding its lock."""
        if not self._take_lock():
            return 0
        board = self._board
        try:
            started = board[STARTED]
            taken = 0
            for number in reversed(numbers):
                if number <= started:
                    break
                board[_RING_START + number % RING] = number
                taken += 1
        finally:
            self._lock.release()
        return taken

    def _take_lock(self) -> bool:
        acquire = self._lock.acquire
        while not acquire(True, _LOCK_STEP):
            sentinel = self.sentinel
            if sentinel is not None and _select.select([sentinel], [], [], 0)[0]:
                return False  # Dead, perhaps holding it: nothing can start any more.
        return True

    def close(self) -> None:
        self._calls.close()
        self._answers.close()
        if self._worker_end is not None:
            self.started_worker(-1)


def begin(end: WorkerEnd, number: int, at: float, acquire: Any, release: Any) -> bool:
    """In the worker: start call ``number`` at ``at`` unless it was withdrawn (the other
    half of the handshake)."""
    board = end.board
    acquire()
    try:
        if board[_RING_START + number % RING] == number:
            return False
        board[STARTED] = number
        board[STARTED_AT] = int(at * 1e9)
    finally:
        release()
    return True
