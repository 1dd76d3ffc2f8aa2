"""``reject_when_reached``: a fixed cap on the backlog, as futurist's.

A plain function, stateless, as futurist's is: it costs an accepted submit
one comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenpool._errors import RejectedSubmission


def reject_when_reached(max_backlog: int) -> Callable[[Any, int], None]:
    """Refuse a submission once ``backlog`` has reached ``max_backlog`` (as futurist's).

    ``backlog`` is counted before the new call, so at most ``max_backlog``
    accepted calls wait for a worker at any time. As in futurist,
    ``max_backlog=0`` refuses every submission.
    """
    if isinstance(max_backlog, bool) or not isinstance(max_backlog, int):
        raise TypeError(f"max_backlog must be an int, not {type(max_backlog).__name__}")
    if max_backlog < 0:
        raise ValueError(f"max_backlog must be >= 0, got {max_backlog}")

    def _rejector(executor: Any, backlog: int) -> None:
        if backlog >= max_backlog:
            raise RejectedSubmission(
                f"Current backlog {backlog} is not allowed to go beyond {max_backlog}"
            )

    return _rejector
