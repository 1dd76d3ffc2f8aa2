"""SynchronousExecutor: each call runs in the caller, with the same Future, stats and rejection.

Useful where an executor is expected but concurrency is not wanted: tests,
debugging, or a service configured to run inline. Each call runs inside
``submit``, after the submit lock is released, so a call may itself submit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from greenpool._delayed import DelayedCall
from greenpool._executor import CheckAndReject, Executor
from greenpool._native import get_ident
from greenpool._parking import ParkingLot
from greenpool._workitem import WorkItem, peek_call, run


class Work:
    """What futurist's ``run_work_func`` is given: the call, its future, and ``run()``.

    Made only for a ``run_work_func``: the future itself carries the call
    (:class:`greenpool.WorkItem`), but must not offer its users a ``run()``.
    """

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(self, item: WorkItem) -> None:
        self.future = item
        self.fn, self.args, self.kwargs = peek_call(item)

    def run(self) -> None:
        """Run the call (once) and resolve its future."""
        run(self.future)


class SynchronousExecutor(Executor):
    """Runs each submitted call immediately, in the submitting thread.

    Accepts futurist's positional ``green`` (ignored: greenpool's future works
    from green and native threads alike) and ``run_work_func``, a callable
    given a :class:`Work`, whose ``run()`` runs the call.
    """

    def __init__(
        self,
        green: bool = False,
        run_work_func: Callable[[Work], object] | None = None,
        *,
        check_and_reject: CheckAndReject | None = None,
        name: str | None = None,
    ) -> None:
        if run_work_func is not None and not callable(run_work_func):
            raise ValueError("run_work_func must be callable")
        super().__init__(1, check_and_reject, name=name)
        # Every caller runs its own call, so nothing ever waits for a worker:
        # backlog stays 0 however many threads are submitting at once.
        self._concurrency = sys.maxsize
        self._run_work_func = run_work_func
        # The thread of the delayed call running now, if any: delayed calls
        # fall due, one at a time, in the executor's own timer thread, which
        # runs them itself. That thread is this executor's one worker, and
        # shutdown(wait=True) waits for it (see _join_workers).
        self._delayed_running_in: int | None = None
        self._delayed_ran = ParkingLot()

    @property
    def num_workers(self) -> int:
        return 0

    @property
    def idle_workers(self) -> int:
        return 0

    def restart(self) -> None:
        """Accept work again after ``shutdown``, with statistics cleared (as futurist)."""
        if self._shut_down:
            self._shut_down = False
            self._gatherer.clear()

    def _start(self, item: WorkItem) -> bool:
        if isinstance(item, DelayedCall):
            # Under the submit lock, as the call is counted submitted: a
            # shutdown that comes after it sees the call as running.
            self._delayed_running_in = get_ident()
        return True

    def _after_start(self, item: WorkItem) -> None:
        try:
            if self._run_work_func is None:
                run(item)
            else:
                self._run_work_func(Work(item))
        finally:
            if isinstance(item, DelayedCall):
                self._delayed_running_in = None
                self._delayed_ran.unpark_all()

    def _take_pending(self) -> list[WorkItem]:
        return []

    def _stop_workers(self) -> None:
        pass

    def _join_workers(self) -> None:
        # Each caller runs its own calls, but a delayed call runs in the
        # executor's timer thread: without this, shutdown(wait=True) returned
        # while one still ran. Not from inside that call (it cannot wait for itself).
        me = get_ident()
        self._delayed_ran.park_until(lambda: self._delayed_running_in in (None, me))
