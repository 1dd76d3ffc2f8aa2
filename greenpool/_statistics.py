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

import dataclasses
from collections.abc import Callable
from typing import Any

from greenpool._future import STATE_LOCK
from greenpool._histogram import (
    NUM_BUCKETS,
    UPPER_BOUNDS,
    LatencyHistogram,
    bucket_of,
    upper_bound,
)
from greenpool._timeouts import span_seconds


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
    #: The executor's ``max_workers`` when the snapshot was taken, what
    #: :meth:`rates` divides run time by. Not compared: two snapshots that
    #: counted the same are equal.
    max_workers: int = dataclasses.field(default=0, compare=False)
    #: The bucket counts behind the percentiles, one per bucket of
    #: :data:`greenpool._histogram.UPPER_BOUNDS` and one past the last
    #: (empty in a snapshot made by hand): what subtracting two snapshots
    #: needs for the interval's percentiles, and what an exporter publishes
    #: as a histogram. Not compared, not in :meth:`as_dict`.
    runtime_counts: tuple[int, ...] = dataclasses.field(default=(), repr=False, compare=False)
    wait_counts: tuple[int, ...] = dataclasses.field(default=(), repr=False, compare=False)

    @property
    def average_runtime(self) -> float:
        """Mean run time of finished calls; 0.0 when none has finished."""
        return self.runtime / self.executed if self.executed else 0.0

    @property
    def average_wait_time(self) -> float:
        """Mean time a started call waited for a worker; 0.0 when none has started."""
        return self.wait_time / self.started if self.started else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Every field (but the bucket counts) and average, for logs and JSON."""
        data = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in _BUCKET_FIELDS
        }
        data["average_runtime"] = self.average_runtime
        data["average_wait_time"] = self.average_wait_time
        return data

    def __sub__(self, earlier: object) -> ExecutorStatistics:
        """What happened between ``earlier`` and this snapshot, of the same executor.

        Counts and total times are the differences; ``pending``, ``running``,
        ``scheduled`` and ``max_workers`` are this snapshot's (states, not
        counts). The interval's percentiles come from the difference of the
        two snapshots' histograms, and its longest wait and run time are the
        upper bound of the highest bucket that gained a duration (within
        6.25 %, and never above this snapshot's maximum). ``ValueError`` if
        ``earlier`` counted more than this one (a later snapshot, another
        executor's, or one taken before a ``clear()``).
        """
        if not isinstance(earlier, ExecutorStatistics):
            return NotImplemented
        counts = {
            name: getattr(self, name) - getattr(earlier, name)
            for name in ("failures", "executed", "cancelled", "submitted", "rejected", "started")
        }
        if any(value < 0 for value in counts.values()):
            raise ValueError(
                "the statistics subtracted counted more than these: not an earlier"
                " snapshot of the same executor"
            )
        runtimes = _difference(self.runtime_counts, earlier.runtime_counts)
        waits = _difference(self.wait_counts, earlier.wait_counts)
        max_runtime = _longest(runtimes, self.max_runtime)
        max_wait_time = _longest(waits, self.max_wait_time)
        runtime_p50, runtime_p90, runtime_p99 = _percentiles(runtimes, max_runtime)
        wait_p50, wait_p90, wait_p99 = _percentiles(waits, max_wait_time)
        return ExecutorStatistics(
            runtime=max(0.0, self.runtime - earlier.runtime),
            wait_time=max(0.0, self.wait_time - earlier.wait_time),
            pending=self.pending,
            running=self.running,
            scheduled=self.scheduled,
            max_workers=self.max_workers,
            max_runtime=max_runtime,
            max_wait_time=max_wait_time,
            runtime_p50=runtime_p50,
            runtime_p90=runtime_p90,
            runtime_p99=runtime_p99,
            wait_p50=wait_p50,
            wait_p90=wait_p90,
            wait_p99=wait_p99,
            runtime_counts=runtimes,
            wait_counts=waits,
            **counts,
        )

    def rates(self, seconds: float) -> StatisticsRates:
        """These statistics as per-second figures over ``seconds`` (an interval's, usually).

        For ``(later - earlier).rates(later_time - earlier_time)``. ``seconds``
        must be a finite number above 0.
        """
        seconds = span_seconds(seconds, "seconds")
        workers = self.max_workers
        return StatisticsRates(
            seconds=seconds,
            submitted=self.submitted / seconds,
            rejected=self.rejected / seconds,
            executed=self.executed / seconds,
            failures=self.failures / seconds,
            cancelled=self.cancelled / seconds,
            utilisation=self.runtime / seconds / workers if workers > 0 else 0.0,
            average_runtime=self.average_runtime,
            average_wait_time=self.average_wait_time,
            runtime_p99=self.runtime_p99,
            wait_p99=self.wait_p99,
            pending=self.pending,
            running=self.running,
        )


_BUCKET_FIELDS = frozenset({"runtime_counts", "wait_counts"})


def _difference(later: tuple[int, ...], earlier: tuple[int, ...]) -> tuple[int, ...]:
    if not later:
        return ()
    if not earlier:
        return later
    return tuple(after - before for after, before in zip(later, earlier, strict=True))


def _longest(counts: tuple[int, ...], ceiling: float) -> float:
    """The upper bound of the highest non-empty bucket, at most ``ceiling``; 0.0 if none."""
    for index in range(len(counts) - 1, -1, -1):
        if counts[index]:
            return ceiling if index >= NUM_BUCKETS else min(upper_bound(index), ceiling)
    return 0.0


def _percentiles(counts: tuple[int, ...], ceiling: float) -> tuple[float, ...]:
    histogram = LatencyHistogram()
    if counts:
        histogram.counts = list(counts)
    return histogram.percentiles(_QUANTILES, ceiling)


@dataclasses.dataclass(frozen=True)
class StatisticsRates:
    """Statistics over an interval as per-second figures: what :meth:`ExecutorStatistics.rates`
    returns. Counts are per second; times are in seconds."""

    #: The interval's length.
    seconds: float
    submitted: float
    rejected: float
    executed: float
    failures: float
    cancelled: float
    #: Run time per second over ``max_workers``: the share of the pool that
    #: was busy (1.0: every worker ran calls all the time). Near 1.0 with
    #: calls waiting, the pool is too small; far below it, too big. On the
    #: synchronous executor, whose callers run their own calls, it can exceed 1.
    utilisation: float
    average_runtime: float
    average_wait_time: float
    runtime_p99: float
    wait_p99: float
    #: As of the end of the interval.
    pending: int
    running: int

    def as_dict(self) -> dict[str, Any]:
        """Every field, for logs and JSON."""
        return dataclasses.asdict(self)


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
        self._waits.counts[bucket_of(UPPER_BOUNDS, wait_time)] += 1

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
        self._runtimes.counts[bucket_of(UPPER_BOUNDS, runtime)] += 1

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

    def snapshot(self, max_workers: int = 0) -> ExecutorStatistics:
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
            max_workers=max_workers,
            runtime_counts=tuple(runtimes.counts),
            wait_counts=tuple(waits.counts),
        )
