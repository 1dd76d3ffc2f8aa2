"""``PeriodicWorker.pformat``: a text table of every callable, without PrettyTable.

futurist needs the ``prettytable`` package for this and raises
``ImportError`` without it; greenpool keeps to eventlet and greenlet, so it
draws the same kind of table itself. The columns are futurist's, plus the
lateness ones (see :mod:`greenpool.periodics._watcher`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from greenpool.periodics._schedule import Task

#: Every column ``pformat`` knows, in its default order.
DEFAULT_COLS = (
    "Name",
    "Active",
    "Periodicity",
    "Runs in",
    "Runs",
    "Failures",
    "Successes",
    "Stop Requested",
    "Average elapsed",
    "Average elapsed waiting",
    "Lateness p50",
    "Lateness p99",
)


def check_columns(columns: Iterable[str]) -> list[str]:
    """``columns`` as a list, or ``ValueError`` if empty or naming an unknown column."""
    chosen = list(columns)
    if not chosen:
        raise ValueError(f"At least one of {set(DEFAULT_COLS)} columns must be provided")
    for column in chosen:
        if column not in DEFAULT_COLS:
            raise ValueError(
                f"Unknown column '{column}', valid column names are {set(DEFAULT_COLS)}"
            )
    return chosen


def render(columns: Sequence[str], rows: Iterable[dict[str, object]]) -> str:
    """A boxed table: a header row, then one row per dict, cells centred."""
    cells = [[str(row[column]) for column in columns] for row in rows]
    widths = [
        max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)
    ]
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"

    def line(values: Sequence[str]) -> str:
        return "|" + "|".join(f" {v:^{w}} " for v, w in zip(values, widths, strict=True)) + "|"

    return "\n".join([rule, line(columns), rule, *(line(row) for row in cells), rule])


def rows(tasks: Iterable[Task], now: float) -> list[dict[str, object]]:
    """One row per task, every column filled; ``now`` in the worker's clock."""
    table: list[dict[str, object]] = []
    for task in tasks:
        watcher = task.watcher
        next_run = task.next_run
        if watcher.requested_stop or next_run is None:
            runs_in = "n/a"
        else:
            runs_in = f"{max(0.0, next_run - now):0.4f}s"
        try:
            averages = (
                f"{watcher.average_elapsed:0.4f}s",
                f"{watcher.average_elapsed_waiting:0.4f}s",
            )
        except ZeroDivisionError:
            averages = (".", ".")
        p50, _p90, p99 = watcher.lateness_percentiles()
        table.append(
            {
                "Name": task.work.name,
                "Active": task.running,
                "Periodicity": task.work.callback._periodic_spacing,  # type: ignore[attr-defined]
                "Runs in": runs_in,
                "Runs": watcher.runs,
                "Failures": watcher.failures,
                "Successes": watcher.successes,
                "Stop Requested": watcher.requested_stop,
                "Average elapsed": averages[0],
                "Average elapsed waiting": averages[1],
                "Lateness p50": f"{p50:0.4f}s",
                "Lateness p99": f"{p99:0.4f}s",
            }
        )
    return table
