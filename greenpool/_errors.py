"""The exceptions greenpool raises, beyond those of :mod:`concurrent.futures`."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable


class RejectedSubmission(Exception):
    """A ``check_and_reject`` callback refused a submission.

    Nothing was queued; ``statistics.rejected`` counts it. Same name and
    meaning as ``futurist.RejectedSubmission``.
    """


class CallTimeoutError(concurrent.futures.TimeoutError):
    """A call submitted with ``submit_with_timeout`` ran longer than its timeout.

    The call was interrupted (the green thread had this exception thrown into
    it; the worker process running it was terminated and replaced) and
    counts as a failure in the statistics. Also a ``TimeoutError``, so code
    that catches the stdlib's timeout keeps working.
    """


class WaitForRoom(Exception):
    """Raised by a ``check_and_reject`` policy that wants the submitter to wait, not be refused.

    A policy runs under the executor's submit lock, where nobody may wait:
    waiting there would hold up every other submitter and ``shutdown``. So
    a policy that makes submitters wait (:func:`greenpool.rejection.block_when_reached`)
    raises this instead; the executor releases the lock, calls :meth:`park`,
    and submits again (with a fresh shutdown check and a fresh run of the
    policy) once it returns. ``park`` raises :class:`RejectedSubmission` if
    waiting timed out, which is then counted as a rejection. Where no caller
    can wait (a delayed call falling due on the executor's alarm) the
    executor calls :meth:`abandon` and refuses the call instead.
    """

    def __init__(self, park: Callable[[], None], abandon: Callable[[], None]) -> None:
        super().__init__("the submission must wait for room")
        self.park = park
        self.abandon = abandon
