"""``codel``: refuse work while calls have stood in the queue too long, after CoDel.

Nichols and Jacobson's CoDel ("Controlling Queue Delay", ACM Queue, 2012)
tells a *good* queue, which absorbs a burst and drains, from a *standing*
one, which stays full because arrivals outpace service: only in a standing
queue does the *minimum* delay over a while stay above the target. CoDel
judges by the delay calls actually see, not by the queue's length, so the
same policy suits fast calls and slow ones, and it needs no tuning to the
pool's size.

Here the delay is ``executor.oldest_wait``, the age of the oldest call still
waiting for a worker, read on each submit:

* The queue becomes *standing* once that wait has stayed above ``target``
  for a whole ``interval`` (every submit in between saw it above).
* While standing, a submit is refused whenever the oldest wait is above
  ``target``, and accepted as soon as it falls back below. The queue thus
  keeps about ``target`` of work: enough that workers never run dry, no
  more than that for a caller to wait.
* The queue stops being standing once the wait has stayed at or below
  ``target`` for a whole ``interval``.

The last rule is where this departs from a literal reading of CoDel for
packets, which leaves its dropping state as soon as one delay is below
target. Refusing a submission is not dropping a packet that was already
sent: a refused caller goes away, so the queue empties at once, and
leaving the standing state then would let a whole ``interval`` of arrivals
in before the next refusal. At four times the pool's capacity that is a
queue of many targets' worth, which is what this rule prevents.
"""

from __future__ import annotations

from typing import Any

from greenpool._errors import RejectedSubmission
from greenpool._timeouts import span_seconds
from greenpool._workitem import now
from greenpool.rejection._policy import Policy


class CoDel(Policy):
    """What :func:`codel` returns; ``target``, ``interval`` and ``standing`` are readable."""

    def __init__(self, target: float = 0.005, interval: float = 0.1) -> None:
        self.target = span_seconds(target, "target")
        self.interval = span_seconds(interval, "interval")
        #: Whether the queue is standing now (refusals happen only then).
        self.standing = False
        # When the oldest wait was first seen on the other side of target:
        # above it while not standing, at or below it while standing.
        self._crossed_at: float | None = None

    def __repr__(self) -> str:
        return f"codel(target={self.target}, interval={self.interval})"

    def _attached(self, executor: Any) -> None:
        executor.oldest_wait  # noqa: B018 - the first read starts the record it needs.

    def __call__(self, executor: Any, backlog: int) -> None:
        self._check_executor(executor)
        wait = executor.oldest_wait if backlog > 0 else 0.0
        above = wait > self.target
        if above == self.standing:
            # Above target while standing, or below it while not: the state holds.
            self._crossed_at = None
            if above:
                raise self._refusal(wait)
            return
        at = now()
        crossed_at = self._crossed_at
        if crossed_at is None:
            self._crossed_at = at
        elif at - crossed_at >= self.interval:
            self.standing = above
            self._crossed_at = None
            if above:
                raise self._refusal(wait)

    def _refusal(self, wait: float) -> RejectedSubmission:
        return RejectedSubmission(
            f"the queue is standing: calls have waited {wait * 1000:.1f} ms for a worker,"
            f" above the {self.target * 1000:g} ms target, for {self.interval:g} s or more"
        )


def codel(target: float = 0.005, interval: float = 0.1) -> CoDel:
    """Refuse submissions while the queue is standing and calls wait over ``target`` seconds.

    A burst that drains is never refused; a queue whose oldest call has
    waited above ``target`` for a whole ``interval`` is *standing*, and from
    then on a submit is refused whenever the oldest waiting call has waited
    above ``target``, until waits stay at or below it for an ``interval``.
    Both are seconds, finite and above 0. One policy serves one executor.
    """
    return CoDel(target, interval)
