"""Where each accepted call is, and whether a cancel can still stop it: the pool's ledger.

A call is in one of three places, and whether it may still be cancelled
depends on which: in the parent's queue (yes: it is marked withdrawn and
the manager drops it), held by a worker (only until the worker starts it:
the handshake of :mod:`greenpool.process._channel` decides), or claimed by
the manager to be failed without running (no). The :class:`Ledger`'s
:meth:`~Ledger.may_cancel` is every work item's holder
(:func:`greenpool._workitem.hold`), installed before ``submit`` returns,
so every ``cancel()`` and every withdrawal by shutdown asks it.

A call gets its :class:`Call` record (its pickled form, its place) when it
is first handed out, as the manager reaches it; until then the ledger
knows it only as a work item that may have been withdrawn. No record per
queued call: a burst of submissions allocates nothing more than the work
items themselves, which keeps the cyclic garbage collector's work as it was.

Every move between places, and every answer of the holder, is made under
one lock, :data:`PLACEMENT`: otherwise a cancel could read a call's place,
the manager move it, and the cancel mark the old place. Lock order: the
futures' state lock (held by whoever cancels), then :data:`PLACEMENT`, then
a worker's lock. The manager never takes the state lock while it holds
:data:`PLACEMENT`.
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
    """A call handed out at least once: its work item, pickled form, and place."""

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

    def __init__(self, item: WorkItem, timeout: float | None, payload: bytes | None) -> None:
        self.item = item
        #: Seconds it may run for (``submit_with_timeout``), or None.
        self.timeout = timeout
        #: ``pickle.dumps((fn, args, kwargs))``; None for a call claimed unpickled.
        self.payload = payload
        #: The channel of the worker that holds it, and its number there; None: queued.
        self.channel: Channel | None = None
        self.number = 0
        #: Cancelled while back in the parent's queue: the manager drops it.
        self.withdrawn = False
        #: To be failed without running: no longer cancellable.
        self.claimed = False
        #: When its worker started it (its ``STARTED`` answer), on the shared clock.
        self.started_at: float | None = None
        self.deadline: float | None = None
        self.timed_out = False


class Ledger:
    """The places of one pool's calls; see the module docstring."""

    __slots__ = ("_calls", "_withdrawn", "may_cancel")

    def __init__(self) -> None:
        # Calls handed out and not answered yet, by work item.
        self._calls: dict[WorkItem, Call] = {}
        # Work items withdrawn before they were ever handed out.
        self._withdrawn: set[WorkItem] = set()
        #: The holder of every work item of the pool (one bound method for all).
        self.may_cancel = self._may_cancel

    def _may_cancel(self, item: WorkItem) -> bool:
        """The holder: may this pending call still be cancelled? (Under the state lock.)"""
        with PLACEMENT:
            call = self._calls.get(item)
            if call is None:
                self._withdrawn.add(item)
                return True
            if call.claimed:
                return False
            channel = call.channel
            if channel is None:
                call.withdrawn = True
                return True
            return channel.withdraw([call.number]) == 1

    def withdrawn_before(self, item: WorkItem) -> None:
        """``item`` was cancelled before its holder was installed."""
        with PLACEMENT:
            self._withdrawn.add(item)

    def call_of(self, item: WorkItem) -> Call | None:
        """The record of a call handed out before (and back in the queue), if any."""
        return self._calls.get(item)

    def calls_of(self, items: list[WorkItem]) -> list[Call | None]:
        """:meth:`call_of` for each of ``items``."""
        get = self._calls.get
        return [get(item) for item in items]

    def is_withdrawn(self, item: WorkItem) -> bool:
        """Whether the queued ``item`` was withdrawn (a True is final)."""
        if item in self._withdrawn:
            return True
        call = self._calls.get(item)
        return call is not None and call.withdrawn

    def place(self, calls: Iterable[Call], channel: Channel) -> tuple[list[Call], list[Call]]:
        """Hand ``calls`` to the worker of ``channel``, in order, framing each behind the
        others; return those placed and those found withdrawn meanwhile (to drop)."""
        placed: list[Call] = []
        dropped: list[Call] = []
        queue = channel.queue
        records = self._calls
        withdrawn = self._withdrawn
        with PLACEMENT:
            for call in calls:
                item = call.item
                if call.withdrawn or (withdrawn and item in withdrawn):
                    withdrawn.discard(item)
                    records.pop(item, None)
                    dropped.append(call)
                    continue
                records[item] = call
                call.channel = channel
                call.number = queue(call.payload)  # type: ignore[arg-type]
                placed.append(call)
        return placed, dropped

    def claim(self, item: WorkItem, call: Call | None) -> bool:
        """Make a queued call uncancellable, to fail it unrun; False if it was withdrawn."""
        with PLACEMENT:
            if item in self._withdrawn or (call is not None and call.withdrawn):
                self._withdrawn.discard(item)
                self._calls.pop(item, None)
                return False
            if call is None:
                call = self._calls[item] = Call(item, None, None)
            call.claimed = True
            return True

    def forget(self, item: WorkItem) -> None:
        """The call was answered or failed: its place no longer matters."""
        self._calls.pop(item, None)

    def drop(self, item: WorkItem) -> None:
        """The withdrawn call is dropped: forget it was ever queued."""
        with PLACEMENT:
            self._withdrawn.discard(item)
            self._calls.pop(item, None)

    def take_back(self, channel: Channel, calls: list[Call]) -> list[Call]:
        """Withdraw from their worker those of ``calls`` (held by it, in order) that it
        has not started, from the last; return them, back in the queue's hands."""
        with PLACEMENT:
            # Not those taken back earlier, nor those cancelled where they are.
            calls = [
                call
                for call in calls
                if call.channel is channel and not channel.withdrawn(call.number)
            ]
            taken = channel.withdraw([call.number for call in calls])
            back = calls[len(calls) - taken :] if taken else []
            for call in back:
                call.channel = None
        return back

    def orphans(self, channel: Channel, calls: Iterable[Call]) -> tuple[list[Call], list[Call]]:
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
