"""What an executor did: the frozen :class:`ExecutorStatistics` snapshot and the gatherer.

Every submission passes through one :class:`Gatherer`, owned by the executor
base, that follows it through ``submitted`` -> ``pending`` -> ``running`` ->
``executed``, or ``pending`` -> ``cancelled``; a refused one only counts as
``rejected``. It counts events (submitted, started, executed, cancelled) and
derives the states from them, so any snapshot satisfies ``submitted ==
executed + cancelled + pending + running``.

Workers record a call's outcome in the same critical section that resolves
its future, so whoever wakes on the future already sees the call counted.

Two kinds of time are kept apart, unlike futurist (whose ``runtime`` starts
at submit and so includes the time a call sat in the queue): ``wait_time``,
from acceptance until a worker starts the call, and ``runtime``, from start
to finish. Each also feeds a :class:`LatencyHistogram`, a fixed array of
log-linear buckets (as HdrHistogram does): recording is O(1), memory does not
grow with the number of calls, and percentiles are exact to within 1/16
(6.25 %) of the true value.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Callable
from typing import Any

from greenpool._future import STATE_LOCK

# Buckets cover 2**-24 s (60 ns) .. 2**14 s (4.5 h). Shorter durations count in
# the first bucket, longer ones in an overflow bucket past the last; a
# percentile that falls there is capped at the exact maximum.
_SUB_BUCKETS = 16
_MIN_EXPONENT = -23
_MAX_EXPONENT = 15
_NUM_BUCKETS = (_MAX_EXPONENT - _MIN_EXPONENT) * _SUB_BUCKETS


def _upper_bound(index: int) -> float:
    """The exclusive upper bound of bucket ``index``: (16 + sub + 1) / 32 * 2**exponent."""
    exponent, sub = divmod(index, _SUB_BUCKETS)
    return math.ldexp((_SUB_BUCKETS + sub + 1) / 32.0, exponent + _MIN_EXPONENT)


#: Ascending upper bounds of the buckets. A duration's bucket is the first
#: whose bound exceeds it, found by one C-level binary search: half the cost
#: of computing it from ``math.frexp`` in Python, and it is paid twice a call.
_UPPER_BOUNDS = [_upper_bound(index) for index in range(_NUM_BUCKETS)]
bucket_of = bisect.bisect_right


class LatencyHistogram:
    """Counts of durations in log-linear buckets; O(1) to record, fixed memory."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        #: One count per bucket of :data:`_UPPER_BOUNDS`, and one past the
        #: last for anything longer. The gatherer increments it directly.
        self.counts = [0] * (_NUM_BUCKETS + 1)

    @property
    def count(self) -> int:
        """How many durations were recorded."""
        return sum(self.counts)

    def record(self, seconds: float) -> None:
        self.counts[bucket_of(_UPPER_BOUNDS, seconds)] += 1

    def copy(self) -> LatencyHistogram:
        clone = LatencyHistogram()
        clone.counts = self.counts[:]
        return clone

    def percentiles(self, quantiles: tuple[float, ...], ceiling: float) -> tuple[float, ...]:
        """Upper bounds of the buckets holding each quantile, capped at ``ceiling``.

        ``quantiles`` must be ascending; with no samples every answer is 0.0.
        """
        count = self.count
        if count == 0:
            return tuple(0.0 for _ in quantiles)
        ranks = [max(1, math.ceil(q * count)) for q in quantiles]
        answers: list[float] = []
        seen = 0
        wanted = 0
        for index, bucket in enumerate(self.counts):
            if not bucket:
                continue
            seen += bucket
            while wanted < len(ranks) and seen >= ranks[wanted]:
                answers.append(min(_upper_bound(index), ceiling))
                wanted += 1
            if wanted == len(ranks):
                break
        return tuple(answers)


@dataclasses.dataclass(frozen=True)
class ExecutorStatistics:
    """An immutable snapshot of what an executor has done.

    The first four fields, in futurist's order and with futurist's meaning,
    keep code written for ``futurist.ExecutorStatistics`` working. Times are
    in seconds.
    """

    #: Calls that finished by raising an exception.
    failures: int = 0
    #: Calls that finished, successfully or not.
    executed: int = 0
    #: Total time spent running finished calls (not waiting for a worker).
    runtime: float = 0.0
    #: Accepted calls cancelled before they started.
    cancelled: int = 0
    #: Calls accepted by ``submit`` (rejected ones are not).
    submitted: int = 0
    #: Calls refused by ``check_and_reject``.
    rejected: int = 0
    #: Accepted calls not yet started by a worker.
    pending: int = 0
    #: Calls a worker is running now.
    running: int = 0
    #: Total time started calls spent between acceptance and start.
    wait_time: float = 0.0
    #: Longest time any call waited for a worker.
    max_wait_time: float = 0.0
    #: Longest time any call ran.
    max_runtime: float = 0.0
    runtime_p50: float = 0.0
    runtime_p90: float = 0.0
    runtime_p99: float = 0.0
    wait_p50: float = 0.0
    wait_p90: float = 0.0
    wait_p99: float = 0.0
    #: Calls that have started (running or finished); the divisor of average_wait_time.
    started: int = 0
    #: Delayed calls (``submit_after``) not yet due: not yet submitted, so not
    #: counted in ``submitted`` (nor anywhere else) until they fall due.
    scheduled: int = 0

    @property
    def average_runtime(self) -> float:
        """Mean run time of finished calls; 0.0 when none has finished."""
        return self.runtime / self.executed if self.executed else 0.0

    @property
    def average_wait_time(self) -> float:
        """Mean time a started call waited for a worker; 0.0 when none has started."""
        return self.wait_time / self.started if self.started else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Every field and average, for logs and JSON."""
        data = dataclasses.asdict(self)
        data["average_runtime"] = self.average_runtime
        data["average_wait_time"] = self.average_wait_time
        return data


_QUANTILES = (0.5, 0.9, 0.99)


class Gatherer:
    """Counts what happens to each submission; thread-safe, one per executor.

    Only what cannot be derived is counted, each by whoever causes it:

    * ``submitted`` and ``rejected`` by the executor's ``submit``, under the
      executor's submit lock, which it holds anyway: an accepted call costs
      the submitter no second lock, and refusing work, the hot path of an
      overloaded service, costs no lock at all beyond that one.
    * ``started``, ``executed``, ``failures``, ``cancelled`` and the times, by
      workers and cancellers under :data:`greenpool._future.STATE_LOCK`, the
      real OS lock that also guards every future, held for a few
      instructions with no yield inside. The ``*_locked`` methods are for
      callers that already hold it: a worker counts a call's start or finish
      in the same critical section that changes its future
      (:class:`greenpool._workitem.WorkItem`).

    * ``scheduled_total`` (delayed calls accepted by ``submit_after``) under
      the submit lock, and ``unscheduled`` (delayed calls that fell due or
      were cancelled before) under :data:`STATE_LOCK`: two counters, each
      with one lock, rather than one count changed under either.

    Everything else is derived: ``pending = submitted - started - cancelled``,
    ``running = started - executed``. A call is counted as submitted before
    any worker can see it, so neither is ever negative, and ``submitted ==
    executed + cancelled + pending + running`` holds by construction.
    """

    __slots__ = (
        "_max_runtime",
        "_max_wait_time",
        "_runtime",
        "_runtimes",
        "_wait_time",
        "_waits",
        "cancelled",
        "ended",
        "executed",
        "failures",
        "on_call_end",
        "rejected",
        "scheduled_total",
        "started",
        "submitted",
        "unscheduled",
    )

    def __init__(self) -> None:
        self._reset()
        #: Called as ``on_call_end(runtime)`` (``None`` for a call that never ran)
        #: once each accepted call has ended and its future resolved, outside
        #: every lock; ``None`` when nobody listens. See :mod:`greenpool._signals`.
        self.on_call_end: Callable[[float | None], None] | None = None

    def _reset(self) -> None:
        self.submitted = self.rejected = 0
        self.scheduled_total = self.unscheduled = 0
        self.started = self.executed = self.failures = self.cancelled = 0
        #: ``executed + cancelled``, kept as one count too (both change under
        #: STATE_LOCK) so that ``submit`` finds the backlog with one subtraction.
        self.ended = 0
        self._runtime = self._wait_time = self._max_runtime = self._max_wait_time = 0.0
        # The histograms' bucket lists, incremented in place (see started_locked).
        self._runtimes = LatencyHistogram()
        self._waits = LatencyHistogram()

    @property
    def pending(self) -> int:
        """Accepted calls not started yet."""
        return self.submitted - self.started - self.cancelled

    @property
    def outstanding(self) -> int:
        """Accepted calls not finished yet: pending and running."""
        return self.submitted - self.ended

    def started_locked(self, wait_time: float) -> None:
        """A pending call started after waiting ``wait_time`` s for a worker."""
        if wait_time < 0.0:
            wait_time = 0.0
        self.started += 1
        self._wait_time += wait_time
        if wait_time > self._max_wait_time:
            self._max_wait_time = wait_time
        # LatencyHistogram.record, inlined: this runs twice per call.
        self._waits.counts[bucket_of(_UPPER_BOUNDS, wait_time)] += 1

    def finished_locked(self, runtime: float, failed: bool) -> None:
        """A running call finished, raising an exception if ``failed``."""
        if runtime < 0.0:
            runtime = 0.0
        self.executed += 1
        self.ended += 1
        if failed:
            self.failures += 1
        self._runtime += runtime
        if runtime > self._max_runtime:
            self._max_runtime = runtime
        self._runtimes.counts[bucket_of(_UPPER_BOUNDS, runtime)] += 1

    @property
    def scheduled(self) -> int:
        """Delayed calls not yet due (nor cancelled)."""
        return self.scheduled_total - self.unscheduled

    def cancelled_locked(self) -> None:
        """A pending call was cancelled before any worker started it."""
        self.cancelled += 1
        self.ended += 1

    def clear(self) -> None:
        """Forget everything but the delayed calls still to fall due, which are yet to count."""
        STATE_LOCK.acquire()
        try:
            scheduled = self.scheduled
            self._reset()
            self.scheduled_total = scheduled
        finally:
            STATE_LOCK.release()

    def snapshot(self) -> ExecutorStatistics:
        STATE_LOCK.acquire()
        try:
            runtimes = self._runtimes.copy()
            waits = self._waits.copy()
            counters = (
                self.failures,
                self.executed,
                self._runtime,
                self.cancelled,
                self.submitted,
                self.rejected,
                self.started,
                self._wait_time,
                self._max_wait_time,
                self._max_runtime,
                self.scheduled_total - self.unscheduled,
            )
        finally:
            STATE_LOCK.release()
        (failures, executed, runtime, cancelled, submitted, rejected, started,
         wait_time, max_wait_time, max_runtime, scheduled) = counters  # fmt: skip
        runtime_p50, runtime_p90, runtime_p99 = runtimes.percentiles(_QUANTILES, max_runtime)
        wait_p50, wait_p90, wait_p99 = waits.percentiles(_QUANTILES, max_wait_time)
        return ExecutorStatistics(
            failures=failures,
            executed=executed,
            runtime=runtime,
            cancelled=cancelled,
            submitted=submitted,
            rejected=rejected,
            pending=submitted - started - cancelled,
            running=started - executed,
            wait_time=wait_time,
            max_wait_time=max_wait_time,
            max_runtime=max_runtime,
            runtime_p50=runtime_p50,
            runtime_p90=runtime_p90,
            runtime_p99=runtime_p99,
            wait_p50=wait_p50,
            wait_p90=wait_p90,
            wait_p99=wait_p99,
            started=started,
            scheduled=scheduled,
        )
