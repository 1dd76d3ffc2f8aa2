"""The exceptions greenpool raises, beyond those of :mod:`concurrent.futures`."""

from __future__ import annotations

import concurrent.futures


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
