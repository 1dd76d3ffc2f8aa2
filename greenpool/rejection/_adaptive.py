"""``AdaptiveLimit``: learn how many calls in flight the downstream takes, from run times.

In the manner of Netflix's concurrency-limits (its ``GradientLimit`` and
``VegasLimit``), and of TCP Vegas before them: a downstream that is not
overloaded answers in its unloaded time, whatever the concurrency; one that
is overloaded queues the excess, and run times grow with it. So the policy
keeps two measures of run time, both from the executor's done-listener (no
work on the submit path beyond one comparison):

* ``baseline``, the unloaded run time: the shortest single run time seen,
  allowed to creep up by :data:`BASELINE_DRIFT` per window, so that a
  downstream that has become slower for good is learnt within a few
  hundred windows;
* each *window*'s mean run time, a window being as many finished calls as
  the current limit (about one round trip of every call in flight), and at
  least :data:`MIN_WINDOW`.

A window counts only calls that *started* after the limit last changed
(a call's start is its end less its run time): the calls still finishing
after a cut ran beside the many that were in flight before it, and
counting them would cut again, below the capacity, for a congestion
already dealt with. At the end of each window:

* If the mean exceeds ``baseline * (1 + tolerance)`` the downstream is
  queueing, and the limit becomes ``in_flight * baseline / mean``: by
  Little's law, the concurrency that the downstream's measured throughput
  would sustain at its unloaded run time, which is its capacity. This is
  the gradient rule (``limit * gradient``) with the actual number in flight
  in place of the limit, and without Netflix's added ``sqrt(limit)`` queue
  allowance and 1.5x default tolerance, which together (issue 10 reports)
  settle 1.5 to 2 times above the capacity. As in Netflix's rule, one window cuts the
  limit by at most half: a stall of the whole process (a hub blocked, the
  process descheduled) makes every call in flight look slow at once.
* Otherwise, if the window's calls pushed against the limit (the number in
  flight reached nine tenths of it) and never queued for a worker (the pool,
  not the limit, would then be what bounds them), the limit grows by a
  tenth (at least 1).

So the limit rises until run times start to rise, cuts back to the
capacity, and rises again: it hovers between the capacity and about
``(1 + 2 * tolerance)`` times it. Calls that fail count like any other
(a failing downstream is often a slow one); cancelled calls say nothing
about the downstream and are ignored.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

from greenpool import _native
from greenpool._errors import RejectedSubmission
from greenpool._workitem import now
from greenpool.rejection._policy import Policy, check_limit

#: The fewest finished calls that make a window.
MIN_WINDOW = 10
#: How much the baseline may creep up per window without a shorter run time
#: to confirm it.
BASELINE_DRIFT = 0.001
#: A window grows the limit only if the number in flight reached this share of it.
PUSHING = 0.9
#: How much the limit grows per uncongested window that pushed against it.
GROWTH = 0.1
#: The most one window may cut the limit by, as a share of it.
MOST_CUT = 0.5


class AdaptiveLimit(Policy):
    """Refuse submissions above a concurrency limit learnt from run times.

    ``initial`` is the limit to start from, kept between ``min_limit`` and
    ``max_limit`` (ints, ``1 <= min_limit <= initial <= max_limit``).
    ``tolerance`` is how much the mean run time may rise above the unloaded
    one before the downstream counts as queueing (a share: 0.1 is 10 %;
    above 0, below 1). A submission is refused while the executor's
    ``in_flight`` (calls waiting or running) is at the limit. ``limit`` is
    the current limit, ``baseline`` the unloaded run time learnt so far
    (``None`` before the first call finishes). One policy serves one executor.
    """

    def __init__(
        self,
        initial: int = 20,
        min_limit: int = 1,
        max_limit: int = 1000,
        *,
        tolerance: float = 0.1,
    ) -> None:
        check_limit("initial", initial)
        check_limit("min_limit", min_limit)
        check_limit("max_limit", max_limit)
        if min_limit > max_limit:
            raise ValueError(f"min_limit ({min_limit}) must not exceed max_limit ({max_limit})")
        if not min_limit <= initial <= max_limit:
            raise ValueError(
                f"initial ({initial}) must be between min_limit ({min_limit})"
                f" and max_limit ({max_limit})"
            )
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
            raise TypeError(f"tolerance must be a number, not {type(tolerance).__name__}")
        if not 0.0 < tolerance < 1.0:
            raise ValueError(f"tolerance must be above 0 and below 1, got {tolerance}")
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.tolerance = float(tolerance)
        self._limit = float(initial)
        #: The limit as compared on each submit: an int, kept with _limit.
        self._cap = initial
        self.baseline: float | None = None
        self._lock = _native.allocate_lock()
        # When the limit last changed: calls started before then are not samples.
        self._changed_at = -math.inf
        self._new_window()

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimit(limit={self._cap}, min_limit={self.min_limit},"
            f" max_limit={self.max_limit})"
        )

    @property
    def limit(self) -> int:
        """The current limit on calls in flight."""
        return self._cap

    def _attached(self, executor: Any) -> None:
        self._executor_of_samples = weakref.ref(executor)
        executor.add_done_listener(self._call_ended)

    def __call__(self, executor: Any, backlog: int) -> None:
        self._check_executor(executor)
        in_flight = executor.in_flight
        if in_flight >= self._cap:
            raise RejectedSubmission(
                f"{in_flight} calls in flight have reached the adaptive limit of {self._cap}"
            )

    # -- learning, from the done-listener --------------------------------

    def _new_window(self) -> None:
        self._count = 0
        self._total = 0.0
        self._shortest = math.inf
        self._in_flight_total = 0
        self._most_in_flight = 0
        self._queued = False

    def _call_ended(self, runtime: float | None) -> None:
        if runtime is None or runtime <= 0.0:
            # Cancelled or refused: never reached the downstream. (Nothing
            # that did takes no time at all; a zero would pin the baseline.)
            return
        if now() - runtime < self._changed_at:
            return  # Started before the limit last changed (see the module docstring).
        executor = self._executor_of_samples()
        if executor is None:
            return
        # The calls this one ran beside: those still in flight, and itself.
        in_flight = executor.in_flight + 1
        queued = executor.backlog > 0
        with self._lock:
            self._count += 1
            self._total += runtime
            if runtime < self._shortest:
                self._shortest = runtime
            self._in_flight_total += in_flight
            if in_flight > self._most_in_flight:
                self._most_in_flight = in_flight
            if queued:
                self._queued = True
            if self._count >= max(MIN_WINDOW, self._cap):
                self._end_window()

    def _end_window(self) -> None:
        mean = self._total / self._count
        baseline = self.baseline
        if baseline is None or self._shortest < baseline:
            baseline = self._shortest
        else:
            baseline = min(baseline * (1.0 + BASELINE_DRIFT), mean)
        self.baseline = baseline
        limit = self._limit
        if baseline > 0.0 and mean > baseline * (1.0 + self.tolerance):
            in_flight = self._in_flight_total / self._count
            limit = min(limit, max(in_flight * baseline / mean, (1.0 - MOST_CUT) * limit))
        elif self._most_in_flight >= max(1, math.floor(PUSHING * self._cap)) and not self._queued:
            # Judged against the limit submits are held to (the rounded one):
            # against the fractional one, a limit such as 2.4 (held at 2)
            # could never be pushed against, and so never grow.
            limit += max(1.0, GROWTH * limit)
        limit = min(float(self.max_limit), max(float(self.min_limit), limit))
        cap = max(self.min_limit, round(limit))
        if cap != self._cap:
            self._changed_at = now()
        self._limit, self._cap = limit, cap
        self._new_window()
