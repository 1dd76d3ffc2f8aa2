"""The exceptions greenpool raises, beyond those of :mod:`concurrent.futures`."""

from __future__ import annotations


class RejectedSubmission(Exception):
    """A ``check_and_reject`` callback refused a submission.

    Nothing was queued; ``statistics.rejected`` counts it. Same name and
    meaning as ``futurist.RejectedSubmission``.
    """
