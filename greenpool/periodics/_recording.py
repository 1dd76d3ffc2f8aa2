"""What a finished run leaves behind: its tally, its failure report, and when it runs next.

The scheduler calls :meth:`RunRecorder.record` from whichever thread
resolved the run's future, outside its lock: everything here is user code
(``on_failure``, the schedule strategy) or touches only the one task's
tally, which has one writer at a time (see :mod:`._watcher`). What the
scheduler does with the answer (push the task back on the heap, or mark it
stopped) is its own business, under its lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from greenpool.periodics._decorator import NeverAgain
from greenpool.periodics._schedule import Task
from greenpool.periodics._strategies import ScheduleStrategy

#: ``on_failure(cb, kind, spacing, exc_info, traceback=...)``, futurist's hook.
OnFailure = Callable[..., object]

#: ``(started_at, finished_at, error, traceback_text)``: what a
#: :class:`~._running.Runner` returns, or what stands for it when the
#: executor failed the call itself.
RunResult = tuple[float, float, BaseException | None, str | None]


class RunRecorder:
    """Tallies each finished run, reports its failure, and asks the strategy for the next run."""

    __slots__ = ("_log", "_next_run", "_on_failure")

    def __init__(
        self, next_run: ScheduleStrategy, on_failure: OnFailure, log: logging.Logger
    ) -> None:
        self._next_run = next_run
        self._on_failure = on_failure
        self._log = log

    def record(self, task: Task, result: RunResult, current: bool) -> float | None:
        """When ``task`` runs next, or None if it raised :class:`NeverAgain`.

        A run started before the worker's last ``reset()`` (not ``current``)
        is neither tallied nor reported; its next run is still computed.
        """
        started_at, finished_at, error, text = result
        never_again = isinstance(error, NeverAgain)
        failed = error is not None and not never_again
        kind = task.kind
        due = task.due if task.due is not None else task.submitted_at
        if current:
            task.tally.record(due, task.submitted_at, started_at, finished_at, failed)
        if failed and current:
            assert error is not None
            self._report_failure(task, kind, error, text)
        if never_again:
            return None
        try:
            return self._next_run(task.work.callback, started_at, finished_at, task.watcher)
        except Exception:
            self._log.exception("Schedule strategy failed for '%s'", task.work.name)
            return finished_at + task.spacing

    def _report_failure(
        self, task: Task, kind: str, error: BaseException, text: str | None
    ) -> None:
        exc_info = (type(error), error, error.__traceback__)
        try:
            self._on_failure(
                task.work.callback,
                kind,
                task.work.callback._periodic_spacing,  # type: ignore[attr-defined]
                exc_info,
                traceback=text,
            )
        except Exception as exc:
            self._log.error(
                "On failure callback %r raised an unhandled exception. Error: %s",
                self._on_failure,
                exc,
            )
