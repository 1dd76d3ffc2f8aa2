"""``report_every``: one log line per live executor at a fixed interval, through ``logging``.

What an operator tailing a service's log wants to see without a metrics
stack: per executor, the interval's rates (:meth:`ExecutorStatistics.rates`
of the difference of two snapshots), its p99 wait and run time, the
workers and the backlog. A layer over the public API only:
``greenpool.executors()`` and ``statistics``.

The reporter runs where its caller does. Called from a green thread it is a
green thread of the same hub, so it never blocks the hub and needs no OS
thread; called from a native thread it is a daemon OS thread (a real one,
whatever monkey patching has done to ``threading``). It waits between
reports on a :class:`~greenpool._parking.ParkingLot`, so ``stop()`` from
any thread ends it at once rather than at the end of its interval.

The first line of an executor covers the time since the reporter first saw
it (an executor made later is first seen at the next report); an executor
collected since is simply no longer listed.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from greenpool import _live, _parking
from greenpool._beside import start_beside
from greenpool._statistics import ExecutorStatistics
from greenpool._timeouts import span_seconds
from greenpool._workitem import now

LOGGER = logging.getLogger("greenpool.report")


class Reporter:
    """What :func:`report_every` returns: ``stop()`` ends it; ``running`` tells whether it runs."""

    def __init__(self, seconds: float, logger: logging.Logger, level: int) -> None:
        self.seconds = seconds
        self.logger = logger
        self.level = level
        self._stopping = False
        self._ended = False
        self._lot = _parking.ParkingLot()
        # The last snapshot of each executor and when it was taken.
        self._seen: weakref.WeakKeyDictionary[Any, tuple[ExecutorStatistics, float]] = (
            weakref.WeakKeyDictionary()
        )
        self._look()

    @property
    def running(self) -> bool:
        """False once the reporter has stopped (after ``stop()``, once its loop has ended)."""
        return not self._ended

    def stop(self) -> None:
        """End the reporter now, from any thread; it logs nothing more. Idempotent."""
        self._stopping = True
        self._lot.unpark_all()

    def report(self) -> None:
        """Log one line per live executor for the time since the last line (what the loop does)."""
        for executor, interval, seconds in self._look():
            rates = interval.rates(seconds)
            self.logger.log(
                self.level,
                "%s: %.1f submitted/s, %.1f rejected/s, %.1f executed/s, %.1f failed/s,"
                " %.0f%% busy, p99 wait %.1f ms, p99 run %.1f ms, workers %d/%d (%d idle),"
                " backlog %d, pending %d, running %d",
                executor.name,
                rates.submitted,
                rates.rejected,
                rates.executed,
                rates.failures,
                100.0 * rates.utilisation,
                1000.0 * rates.wait_p99,
                1000.0 * rates.runtime_p99,
                executor.num_workers,
                executor.max_workers,
                executor.idle_workers,
                executor.backlog,
                rates.pending,
                rates.running,
            )

    def _look(self) -> list[tuple[Any, ExecutorStatistics, float]]:
        """Snapshot every live executor; return the intervals of those seen before."""
        intervals = []
        for executor in _live.executors():
            statistics, at = executor.statistics, now()
            previous = self._seen.get(executor)
            self._seen[executor] = (statistics, at)
            if previous is not None and at > previous[1]:
                intervals.append((executor, statistics - previous[0], at - previous[1]))
        return intervals

    def _run(self) -> None:
        try:
            while not self._lot.park_until(lambda: self._stopping, self.seconds):
                try:
                    self.report()
                except Exception:
                    LOGGER.exception("greenpool.report_every could not report")
        finally:
            self._ended = True


def report_every(
    seconds: float, logger: logging.Logger | None = None, level: int = logging.INFO
) -> Reporter:
    """Log a line per live executor every ``seconds``: the interval's rates, p99 wait and
    run time, workers and backlog; return the reporter, whose ``stop()`` ends it at once.

    Runs as a green thread when called from one, else as a daemon OS thread.
    ``logger`` defaults to ``logging.getLogger("greenpool.report")``.
    ``seconds`` must be a finite number above 0 (``TypeError``/``ValueError``
    otherwise, and nothing is started).
    """
    interval = span_seconds(seconds, "seconds")
    if logger is not None and not isinstance(logger, logging.Logger):
        raise TypeError(f"logger must be a logging.Logger or None, got {logger!r}")
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"level must be an int logging level, got {level!r}")
    reporter = Reporter(interval, logger if logger is not None else LOGGER, level)
    start_beside(reporter._run, "greenpool-report")
    return reporter
