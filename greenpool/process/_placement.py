"""Call: one accepted call, from its submission until its worker answers, and where it is.

A call is in one of three places, and whether it may still be cancelled
depends on which: in the parent's queue (yes: it is marked withdrawn and
the manager drops it), held by a worker (only until the worker starts it:
the handshake of :mod:`greenpool.process._channel` decides), or claimed by
the manager to be failed without running (no). The :class:`Call` is its
work item's holder (:func:`greenpool._workitem.hold`), installed before
``submit`` returns, so every ``cancel()`` and every withdrawal by shutdown
asks it, whenever they come.

Every move between places, and every holder's answer, is made under one
lock, :data:`PLACEMENT`: otherwise a cancel could read a call's place, the
manager move it, and the cancel mark the old place. Lock order: the
futures' state lock (held by whoever cancels), then :data:`PLACEMENT`,
then a worker's lock. The manager never takes the state lock while it
holds :data:`PLACEMENT`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from greenpool import _native
from greenpool._workitem import WorkItem

if TYPE_CHECKING:
    from greenpool.process._channel import Channel

#: Held for every change of a call's place and every holder's answer, briefly.
PLACEMENT = _native.allocate_lock()


class Call:
    """An accepted call: its work item, its pickled form, and where it is now."""

    __slots__ = (
        "channel",
        "claimed",
        "deadline",
        "item",
        "number",
        "payload",
        "started_at",
        "timed_out",
        "timeout",
        "withdrawn",
    )

    def __init__(self, item: WorkItem, timeout: float | None) -> None:
        self.item = item
        #: Seconds it may run for (``submit_with_timeout``), or None.
        self.timeout = timeout
        #: ``pickle.dumps((fn, args, kwargs))``, made when it is first handed out.
        self.payload: bytes | None = None
        #: The channel of the worker that holds it, and its number there; None: queued.
        self.channel: Channel | None = None
        self.number = 0
        #: Cancelled while in the parent's queue: the manager drops it.
        self.withdrawn = False
        #: To be failed without running (a broken pool): no longer cancellable.
        self.claimed = False
        #: When its worker started it (its ``STARTED`` answer), on the shared clock.
        self.started_at: float | None = None
        self.deadline: float | None = None
        self.timed_out = False

    def __call__(self, item: WorkItem) -> bool:
        """The holder: may this pending call still be cancelled? (Under the state lock.)"""
        with PLACEMENT:
            if self.claimed:
                return False
            channel = self.channel
            if channel is None:
                self.withdrawn = True
                return True
            return channel.withdraw([self.number]) == 1


def place(calls: Iterable[Call], channel: Channel) -> tuple[list[Call], list[Call]]:
    """Hand ``calls`` to the worker of ``channel``, in order, framing each behind the
    others; return those placed and those found withdrawn meanwhile (to drop)."""
    placed: list[Call] = []
    dropped: list[Call] = []
    queue = channel.queue
    with PLACEMENT:
        for call in calls:
            if call.withdrawn:
                dropped.append(call)
                continue
            call.channel = channel
            call.number = queue(call.payload)  # type: ignore[arg-type]
            placed.append(call)
    return placed, dropped


def claim(call: Call) -> bool:
    """Make a queued call uncancellable, to fail it unrun; False if it was withdrawn."""
    with PLACEMENT:
        if call.withdrawn:
            return False
        call.claimed = True
        return True


def take_back(channel: Channel, calls: list[Call]) -> list[Call]:
    """Withdraw from their worker those of ``calls`` (held by it, in order) that it has not
    started, from the last; return them, back in the parent's queue's hands."""
    with PLACEMENT:
        # Not those taken back earlier, nor those cancelled where they are.
        calls = [
            call for call in calls if call.channel is channel and not channel.withdrawn(call.number)
        ]
        taken = channel.withdraw([call.number for call in calls])
        back = calls[len(calls) - taken :] if taken else []
        for call in back:
            call.channel = None
    return back


def orphans(channel: Channel, calls: Iterable[Call]) -> tuple[list[Call], list[Call]]:
    """After its worker died: of the calls it held and never started, those to run
    elsewhere (back in the queue's hands) and those it had been told to skip."""
    again: list[Call] = []
    skipped: list[Call] = []
    with PLACEMENT:
        for call in calls:
            if call.channel is not channel:
                continue  # Taken back earlier; it is elsewhere now.
            if channel.withdrawn(call.number):
                skipped.append(call)
            else:
                call.channel = None
                again.append(call)
    return again, skipped
