"""The dispatch policy: which worker gets which pending call, decided from counts alone.

Plain code, no processes and no pipes: the manager describes its workers
as :class:`Load` s and carries out what :class:`Policy` answers.

**The policy.** As with the stdlib, a call never waits for a busy worker
while the pool could run it at once: each idle worker gets one call, and a
new worker is started for each call left over while there are fewer than
``max_workers``. Only under a real backlog (``max_workers`` workers exist
and none is idle) are workers handed calls ahead of the one they run,
each next call to the least loaded worker, so that a burst of tiny calls
costs one pipe write per batch instead of a round trip per call. How many
a worker may hold is its *depth*: about ``PREFETCH_SECONDS`` of work at
the average run time measured so far, at most ``MAX_HELD`` calls, and one
(nothing ahead) until a run time is known or when calls are long. A call
with a timeout runs alone, so that killing its worker cannot hit another
call: it goes only to an idle worker, which is then handed nothing else
until it answers, and the calls behind it in the queue wait with it (the
queue stays in order).

A call held ahead on a worker stays pending and cancellable until that
worker starts it (see :mod:`greenpool.process._channel`). So when a worker
falls idle while another still holds calls it has not started, the idle
worker *takes back* half of them (rounded up) from the worker holding the
most: a call never stays stuck behind a long one while a worker is free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: A worker is handed calls ahead of the one it runs up to about this much work...
PREFETCH_SECONDS = 0.002
#: ... and at most this many calls ahead.
MAX_PREFETCH = 256
#: The most calls a worker holds at once, the one it runs included.
MAX_HELD = 1 + MAX_PREFETCH
#: A rough cost of a call in a worker beyond its run time (unpickling, pickling).
CALL_OVERHEAD = 5e-6
#: The weight of each new run time in the average.
SMOOTHING = 0.125


@dataclass
class Load:
    """What the policy knows of one worker."""

    #: Calls handed to it and not answered yet, the one it runs included.
    held: int = 0
    #: Of those, the calls it has not started, as far as the parent knows.
    unstarted: int = 0
    #: Calls it may still be given (``max_tasks_per_child``); None: no limit.
    room: int | None = None
    #: False once told to stop, and while it holds a call with a timeout.
    accepts: bool = True

    def takes(self) -> bool:
        return self.accepts and self.room != 0

    def idle(self) -> bool:
        return self.held == 0 and self.takes()


class Policy:
    """The dispatch policy of one pool (see the module docstring)."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        #: The average measured run time of a call, None until one has been measured.
        self.average_runtime: float | None = None

    def observe(self, seconds: float) -> None:
        """A call ran for ``seconds`` (in its worker)."""
        average = self.average_runtime
        self.average_runtime = (
            seconds if average is None else average + (seconds - average) * SMOOTHING
        )

    def depth(self) -> int:
        """How many calls a busy worker may hold under a backlog, the one it runs included."""
        average = self.average_runtime
        if average is None:
            return 1
        return 1 + min(MAX_PREFETCH, int(PREFETCH_SECONDS / (average + CALL_OVERHEAD)))

    def workers_to_start(self, pending: int, loads: Sequence[Load]) -> int:
        """New workers for the calls that no idle worker can take, up to ``max_workers``."""
        idle = sum(1 for load in loads if load.idle())
        return max(0, min(pending - idle, self.max_workers - len(loads)))

    def capacity(self, loads: Sequence[Load]) -> int:
        """The most pending calls :meth:`assign` can place now."""
        idle = sum(1 for load in loads if load.idle())
        if len(loads) < self.max_workers:
            return idle
        depth = self.depth()
        return idle + sum(max(0, depth - max(load.held, 1)) for load in loads if load.takes())

    def assign(self, timed: Sequence[bool], loads: Sequence[Load]) -> list[int]:
        """The worker (an index into ``loads``) of each pending call, in queue order.

        ``timed[i]`` says whether the i-th pending call has a timeout. The
        answer covers as many calls from the front as can be placed now;
        the rest wait. ``loads`` is not changed.
        """
        held = [load.held for load in loads]
        room = [load.room for load in loads]
        takes = [load.takes() for load in loads]
        plan: list[int] = []
        count = len(timed)

        def give(worker: int) -> None:
            plan.append(worker)
            held[worker] += 1
            left = room[worker]
            if left is not None:
                room[worker] = left - 1
                takes[worker] = left > 1
            if timed[len(plan) - 1]:
                takes[worker] = False  # It runs alone.

        # Idle workers first, one call each, a call with a timeout included.
        for worker in range(len(loads)):
            if len(plan) == count:
                return plan
            if takes[worker] and held[worker] == 0:
                give(worker)
        # The calls left wait for a busy worker whatever happens: prefetch only
        # under a real backlog, once every worker the pool may have exists.
        if len(loads) < self.max_workers:
            return plan
        # Up to the next call with a timeout, which waits for an idle worker
        # (and so does what follows it).
        try:
            calls = timed.index(True, len(plan)) - len(plan)
        except ValueError:
            calls = count - len(plan)
        depth = self.depth()
        caps = [
            (depth if left is None else min(depth, held[w] + left)) if takes[w] else held[w]
            for w, left in enumerate(room)
        ]
        shares = _level(held, caps, calls)
        for worker in sorted(range(len(loads)), key=held.__getitem__):
            plan += [worker] * shares[worker]
        return plan

    def take_back(self, loads: Sequence[Load]) -> list[tuple[int, int, int]]:
        """``(from, to, calls)``: for each idle worker, unstarted calls to take back.

        Each idle worker takes half (rounded up) of the unstarted calls of the
        worker that holds the most, within its own ``room``.
        """
        unstarted = [load.unstarted for load in loads]
        moves: list[tuple[int, int, int]] = []
        for worker, load in enumerate(loads):
            if not load.idle():
                continue
            victim = max(range(len(loads)), key=unstarted.__getitem__)
            calls = -(-unstarted[victim] // 2)
            if load.room is not None:
                calls = min(calls, load.room)
            if calls <= 0:
                break
            moves.append((victim, worker, calls))
            unstarted[victim] -= calls
        return moves


def _level(held: list[int], caps: list[int], calls: int) -> list[int]:
    """How many of ``calls`` each worker gets, filling the least loaded first ("water
    filling"): every worker ends at the same level, or at its cap if that is lower,
    the last few calls one each to the first workers (by index) at that level."""
    room = [max(0, cap - now) for now, cap in zip(held, caps, strict=True)]
    if calls >= sum(room):
        return room

    def filled(level: int) -> int:
        return sum(max(0, min(level, cap) - now) for now, cap in zip(held, caps, strict=True))

    low, high = min(held), max(caps)
    while low < high:  # The highest level that ``calls`` can fill.
        middle = (low + high + 1) // 2
        if filled(middle) <= calls:
            low = middle
        else:
            high = middle - 1
    shares = [max(0, min(low, cap) - now) for now, cap in zip(held, caps, strict=True)]
    left = calls - sum(shares)
    for worker, (now, cap) in enumerate(zip(held, caps, strict=True)):
        if left == 0:
            break
        if now <= low < cap:
            shares[worker] += 1
            left -= 1
    return shares
