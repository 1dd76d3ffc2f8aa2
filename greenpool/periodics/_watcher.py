"""What a periodic callable has done: its :class:`Work`, its :class:`Watcher`, the tally behind.

The worker records each finished run in the callable's :class:`Tally`, from
whichever thread finished it; the :class:`Watcher` users get reads the tally
and never changes it. One callable has at most one run in flight (it is
scheduled again only once its run is recorded), so each tally has one writer
at a time and needs no lock.

Beyond futurist's counts and times, a tally keeps each run's *lateness*: how
long after the time its schedule gave it the run actually started (time in
the worker's queue, then in the executor's). A periodic worker that cannot
keep up shows it here first, long before anyone notices callables running
less often than asked. Lateness goes into a fixed-memory
:class:`~greenpool._histogram.LatencyHistogram`, the executors' own, so
p50/p90/p99 cost O(1) per run whatever the uptime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from greenpool._histogram import LatencyHistogram

_QUANTILES = (0.5, 0.9, 0.99)


class Work(NamedTuple):
    """A periodic callable and the arguments it is called with, under a name for logs."""

    name: str
    callback: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __call__(self) -> Any:
        return self.callback(*self.args, **self.kwargs)


class Tally:
    """The running counts and times of one periodic callable; written by its worker only."""

    __slots__ = (
        "elapsed",
        "elapsed_waiting",
        "failures",
        "lateness",
        "max_lateness",
        "requested_stop",
        "runs",
        "successes",
        "total_lateness",
    )

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.runs = self.successes = self.failures = 0
        self.elapsed = self.elapsed_waiting = 0.0
        self.total_lateness = self.max_lateness = 0.0
        self.lateness = LatencyHistogram()
        self.requested_stop = False

    def record(
        self, due: float, submitted_at: float, started_at: float, finished_at: float, failed: bool
    ) -> None:
        """One finished run: due at ``due``, handed to the executor at ``submitted_at``."""
        self.runs += 1
        if failed:
            self.failures += 1
        else:
            self.successes += 1
        elapsed = finished_at - started_at
        self.elapsed += elapsed if elapsed > 0.0 else 0.0
        waiting = started_at - submitted_at
        self.elapsed_waiting += waiting if waiting > 0.0 else 0.0
        late = started_at - due
        if late < 0.0:
            late = 0.0  # A clock (now_func) that went backwards.
        self.total_lateness += late
        if late > self.max_lateness:
            self.max_lateness = late
        self.lateness.record(late)


class Watcher:
    """A read-only view of one periodic callable's activity.

    futurist's properties (``runs``, ``successes``, ``failures``, ``elapsed``,
    ``elapsed_waiting``, their averages, ``requested_stop``, ``work``), plus
    how late runs started against the schedule (``lateness_p50``/``p90``/
    ``p99``, ``max_lateness``, ``average_lateness``) and the statistics of
    the executor the worker runs its callables on.
    """

    __slots__ = ("_executor_statistics", "_tally", "_work")

    def __init__(self, tally: Tally, work: Work, executor_statistics: Callable[[], Any]) -> None:
        self._tally = tally
        self._work = work
        self._executor_statistics = executor_statistics

    def __repr__(self) -> str:
        return (
            f"<Watcher {self._work.name!r} runs={self.runs} failures={self.failures}"
            f" lateness_p99={self.lateness_p99:.6f}s at {id(self):#x}>"
        )

    @property
    def work(self) -> Work:
        """The callable watched, with its arguments."""
        return self._work

    @property
    def requested_stop(self) -> bool:
        """Whether the callable raised :class:`NeverAgain` (it will not run again)."""
        return self._tally.requested_stop

    @property
    def runs(self) -> int:
        """Finished runs, successful or not."""
        return self._tally.runs

    @property
    def successes(self) -> int:
        """Runs that returned, or raised :class:`NeverAgain`."""
        return self._tally.successes

    @property
    def failures(self) -> int:
        """Runs that raised (anything but :class:`NeverAgain`)."""
        return self._tally.failures

    @property
    def elapsed(self) -> float:
        """Total time runs took, in seconds of the worker's clock."""
        return self._tally.elapsed

    @property
    def elapsed_waiting(self) -> float:
        """Total time runs waited in the executor between submission and start."""
        return self._tally.elapsed_waiting

    @property
    def average_elapsed(self) -> float:
        """Mean time a run took; ``ZeroDivisionError`` before any run (as futurist)."""
        return self._tally.elapsed / self._tally.runs

    @property
    def average_elapsed_waiting(self) -> float:
        """Mean time a run waited in the executor; ``ZeroDivisionError`` before any run."""
        return self._tally.elapsed_waiting / self._tally.runs

    @property
    def max_lateness(self) -> float:
        """Latest any run started after its scheduled time; 0.0 before any run."""
        return self._tally.max_lateness

    @property
    def average_lateness(self) -> float:
        """Mean lateness of a run; 0.0 before any run."""
        tally = self._tally
        return tally.total_lateness / tally.runs if tally.runs else 0.0

    def lateness_percentiles(self) -> tuple[float, float, float]:
        """p50, p90 and p99 of how late runs started (within 6.25 %); zeros before any run."""
        tally = self._tally
        p50, p90, p99 = tally.lateness.percentiles(_QUANTILES, tally.max_lateness)
        return p50, p90, p99

    @property
    def lateness_p50(self) -> float:
        return self.lateness_percentiles()[0]

    @property
    def lateness_p90(self) -> float:
        return self.lateness_percentiles()[1]

    @property
    def lateness_p99(self) -> float:
        """How late the slowest 1 % of runs started: the figure of an overloaded worker."""
        return self.lateness_percentiles()[2]

    @property
    def executor_statistics(self) -> Any:
        """The ``statistics`` of the executor the worker runs on now (or ran on last), or None.

        A greenpool executor gives an :class:`~greenpool.ExecutorStatistics`
        snapshot; None before the worker has started, or for an executor
        without statistics. Shared by every watcher of one worker.
        """
        return self._executor_statistics()
