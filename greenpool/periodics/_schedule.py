"""The worker's schedule: one heap of ``(next_run, index)`` for all callables, and their state.

A thousand callables cost one heap, not a thousand timers: the scheduler
pops everything due in one go, submits it, and parks until the new head is
due. Ties go to the callable added first (the smaller index), as in
futurist. The heap list keeps futurist's attribute name, ``_ordering``,
because futurist's own tests read it to check a strategy's arithmetic.
"""

from __future__ import annotations

import collections
import heapq
from collections.abc import Callable
from typing import Any

from greenpool.periodics._strategies import InitialScheduleStrategy
from greenpool.periodics._watcher import Tally, Watcher, Work

#: What a run is, as ``on_failure`` is told: futurist's values.
PERIODIC = "periodic"
IMMEDIATE = "immediate"


class Task:
    """One periodic callable in a worker: what it runs, its tally, where it is in the schedule.

    A task is in exactly one place: the heap (``next_run`` set), the queue of
    immediate runs, or in flight (``running``). Fields are changed under the
    worker's lock, except by the one thread running its callable.
    """

    __slots__ = (
        "due",
        "epoch",
        "immediate",
        "index",
        "kind",
        "next_run",
        "on_done",
        "running",
        "spacing",
        "submitted_at",
        "tally",
        "watcher",
        "work",
    )

    def __init__(
        self,
        index: int,
        work: Work,
        spacing: float,
        immediate: bool,
        executor_statistics: Callable[[], Any],
    ) -> None:
        self.index = index
        self.work = work
        self.spacing = spacing
        self.immediate = immediate
        self.tally = Tally()
        self.watcher = Watcher(self.tally, work, executor_statistics)
        #: The done-callback for this task's futures, bound once by the worker.
        self.on_done: Callable[[Any], None] = _unbound
        self.epoch = 0
        self.restart()

    def restart(self) -> None:
        """Back to its state before any run (the schedule is rebuilt apart)."""
        self.kind = IMMEDIATE if self.immediate else PERIODIC
        #: When the current or next run was due, in the worker's clock; for an
        #: immediate run, set when the scheduler takes it.
        self.due: float | None = None
        self.next_run: float | None = None
        self.submitted_at = 0.0
        self.running = False


def _unbound(future: Any) -> None:
    raise AssertionError("a task's done-callback is bound by its worker")


class Schedule:
    """A heap of ``(next_run, index)``: which task runs next."""

    __slots__ = ("_ordering",)

    def __init__(self) -> None:
        self._ordering: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._ordering)

    def push(self, task: Task, next_run: float) -> None:
        task.next_run = next_run
        heapq.heappush(self._ordering, (next_run, task.index))

    def head(self) -> float | None:
        """When the first task is due, or None when none is scheduled."""
        ordering = self._ordering
        return ordering[0][0] if ordering else None

    def pop_due(self, now: float, tasks: list[Task]) -> list[Task]:
        """Remove and return every task due at ``now``, earliest first."""
        ordering = self._ordering
        pop = heapq.heappop
        due: list[Task] = []
        while ordering and ordering[0][0] <= now:
            task = tasks[pop(ordering)[1]]
            task.next_run = None
            due.append(task)
        return due

    def fetch_next_run(self, index: int) -> float | None:
        """When task ``index`` is next due, if scheduled (futurist's name; a scan)."""
        for next_run, an_index in self._ordering:
            if an_index == index:
                return next_run
        return None


def place(
    task: Task, first_run: float | None, schedule: Schedule, immediates: collections.deque[Task]
) -> None:
    """Put a task that has not run yet where it waits: with the immediate runs
    (``first_run`` None), or on the heap, due at ``first_run``."""
    if first_run is None:
        immediates.append(task)
    else:
        task.due = first_run
        schedule.push(task, first_run)


def fresh_schedule(
    tasks: list[Task], first_run: InitialScheduleStrategy, now_func: Callable[[], float]
) -> tuple[Schedule, collections.deque[Task]]:
    """A new heap and immediate queue for ``tasks``: immediate ones queued, the others
    due by ``first_run``. The clock is read once, and only if a task needs it
    (futurist's tests count the calls)."""
    now = None
    first_runs: list[tuple[Task, float | None]] = []
    for task in tasks:
        if task.immediate:
            first_runs.append((task, None))
        else:
            if now is None:
                now = now_func()
            first_runs.append((task, first_run(task.work.callback, now)))
    schedule = Schedule()
    immediates: collections.deque[Task] = collections.deque()
    for task, when in first_runs:
        place(task, when, schedule, immediates)
    return schedule, immediates
