"""``block_when_reached``: submitters wait, in arrival order, for the backlog to fall.

The policy runs under the executor's submit lock, where nobody may wait. So
when there is no room it puts the submitter in its queue and raises
:class:`~greenpool._errors.WaitForRoom`; the executor releases the lock and
calls the entry's ``park``, then submits again. Only the head of the queue
is admitted when there is room, so a newcomer cannot overtake a submitter
that was woken but has not retaken the lock yet; the head is woken when a
call ends and the backlog is below the cap (a done-listener), or by
``shutdown``, after which the retried submit raises ``RuntimeError``.

Waiting is through :mod:`greenpool._parking`: a green thread switches to its
hub, a native thread blocks on a real lock, so neither holds up the other
kind. A submit from the hub's own greenlet (a hub timer callback) cannot
wait without stopping the very hub that must finish calls: it is refused
at once.
"""

from __future__ import annotations

import collections
import math
from typing import Any

from greenlet import getcurrent

from greenpool import _native, _parking
from greenpool._errors import RejectedSubmission, WaitForRoom
from greenpool._timeouts import span_seconds
from greenpool._workitem import now
from greenpool.rejection._policy import Policy, check_limit


class _Entry:
    """One waiting submitter: who it is, until when it waits, and how to wake it."""

    __slots__ = ("deadline", "owner", "queued", "waiter")

    def __init__(self, owner: Any, deadline: float | None) -> None:
        self.owner = owner
        self.deadline = deadline
        self.queued = True
        self.waiter: _parking.Waiter | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            waiter.wake()


class BlockWhenReached(Policy):
    """What :func:`block_when_reached` returns; ``max_backlog`` and ``timeout`` are readable."""

    def __init__(self, max_backlog: int, timeout: float | None = None) -> None:
        self.max_backlog = check_limit("max_backlog", max_backlog)
        if isinstance(timeout, float) and timeout == math.inf:
            timeout = None  # Waits as long as it takes, as None does.
        if timeout is not None:
            timeout = span_seconds(timeout, "timeout", allow_zero=True)
        self.timeout: float | None = timeout
        self._guard = _native.allocate_lock()
        self._queue: collections.deque[_Entry] = collections.deque()

    def __repr__(self) -> str:
        return f"block_when_reached({self.max_backlog}, timeout={self.timeout})"

    @property
    def waiting(self) -> int:
        """Submitters waiting for room now."""
        return len(self._queue)

    def _attached(self, executor: Any) -> None:
        executor.add_done_listener(self._call_ended)
        executor.add_shutdown_listener(self._wake_all)

    def __call__(self, executor: Any, backlog: int) -> None:
        self._check_executor(executor)
        queue = self._queue
        if not queue and backlog < self.max_backlog:
            return  # The common case: room, nobody waiting. No lock.
        owner = getcurrent()
        with self._guard:
            entry = None
            if queue and queue[0].owner is owner:
                if backlog < self.max_backlog:
                    queue.popleft().queued = False
                    if queue and backlog + 1 < self.max_backlog:
                        queue[0].wake()  # Room for the next one too.
                    return
                entry = queue[0]
            elif not queue and backlog < self.max_backlog:
                return
            else:
                entry = next((each for each in queue if each.owner is owner), None)
            if entry is None:
                if _parking.in_hub_greenlet():
                    raise RejectedSubmission(
                        f"backlog {backlog} has reached {self.max_backlog}, and the hub's"
                        " own greenlet cannot wait for room"
                    )
                deadline = None if self.timeout is None else now() + self.timeout
                entry = _Entry(owner, deadline)
                queue.append(entry)
        raise WaitForRoom(lambda: self._park(executor, entry), lambda: self._leave(entry))

    def _has_room(self, executor: Any) -> bool:
        return bool(executor.backlog < self.max_backlog)

    def _park(self, executor: Any, entry: _Entry) -> None:
        """Wait until ``entry`` heads the queue with room, or shutdown; raise on timeout."""
        while True:
            with self._guard:
                if not entry.queued or not executor.alive:
                    return
                if self._queue[0] is entry and self._has_room(executor):
                    return
                entry.waiter = waiter = _parking.new_waiter()
            deadline = entry.deadline
            remaining = None if deadline is None else deadline - now()
            if remaining is not None and remaining <= 0.0:
                self._leave(entry)
                raise RejectedSubmission(
                    f"waited {self.timeout} s for the backlog to fall below {self.max_backlog}"
                )
            waiter.wait(remaining)

    def _leave(self, entry: _Entry) -> None:
        """Take ``entry`` out of the queue (it timed out, or cannot wait); wake the next."""
        with self._guard:
            if not entry.queued:
                return
            entry.queued = False
            was_head = self._queue[0] is entry
            self._queue.remove(entry)
            if was_head and self._queue:
                self._queue[0].wake()  # It re-checks for room itself.

    def _call_ended(self, _runtime: float | None) -> None:
        if not self._queue:
            return  # Nobody waits: no lock. A submitter that queues now re-checks in _park.
        executor = self._executor() if self._executor is not None else None
        with self._guard:
            if self._queue and executor is not None and self._has_room(executor):
                self._queue[0].wake()

    def _wake_all(self) -> None:
        with self._guard:
            entries = list(self._queue)
            self._queue.clear()
            for entry in entries:
                entry.queued = False
                entry.wake()


def block_when_reached(max_backlog: int, timeout: float | None = None) -> BlockWhenReached:
    """Make ``submit`` wait while ``backlog`` is at ``max_backlog``, then accept.

    Waiting submitters are admitted in arrival order. A green thread waits
    in its hub (other green threads run meanwhile); a native thread blocks
    on a real lock (green threads run meanwhile). If ``timeout`` seconds
    pass first, ``submit`` raises :class:`~greenpool.RejectedSubmission`,
    counted in ``statistics.rejected`` (``timeout=0`` refuses at once, as
    :func:`reject_when_reached` does, but behind anyone already waiting);
    ``None`` waits as long as it takes. ``shutdown`` wakes every waiting
    submitter, whose ``submit`` then raises ``RuntimeError``. A delayed call
    (``submit_after``) that falls due with no room is refused, since nobody
    is there to wait. Beware a worker that submits to its own executor and
    waits: if every worker does, none is left to make room.

    ``max_backlog`` must be an int of at least 1; ``timeout`` ``None`` or a
    number of seconds, at least 0. One policy serves one executor.
    """
    return BlockWhenReached(max_backlog, timeout)
