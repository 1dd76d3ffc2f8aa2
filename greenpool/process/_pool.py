"""ProcessPoolExecutor: the executor a user holds; the manager does the work.

The executor base (:mod:`greenpool._executor`) owns submission, rejection,
statistics and shutdown; this class only passes accepted calls to its
:class:`~greenpool.process._manager.Manager` and cuts ``map`` into chunks.
"""

from __future__ import annotations

import multiprocessing
import signal
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from greenpool import _native
from greenpool._executor import CheckAndReject, Executor
from greenpool._workitem import WorkItem
from greenpool.process import _manager
from greenpool.process._manager import Manager, TimedCall

_T = TypeVar("_T")


def _default_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class ProcessPoolExecutor(Executor):
    """Runs calls in up to ``max_workers`` worker processes.

    Same constructor as the stdlib's (``max_workers`` defaults to the number
    of CPUs; ``mp_context``, ``initializer``, ``initargs``,
    ``max_tasks_per_child``), plus the keyword-only ``check_and_reject`` and
    ``name`` every greenpool executor takes. The default start method is
    ``forkserver`` (``spawn`` where there is none): see :mod:`greenpool.process`.

    A worker that dies fails only the calls it had started, with
    :class:`WorkerLostError`, and is replaced. Arguments are pickled when a
    worker is first handed the call, not at ``submit``. A call is pending,
    and can be cancelled, until a worker process starts it, even while it
    waits in that worker's pipe; it counts as running (``future.running()``,
    ``statistics.running``) from then, and its ``wait_time`` ends then; its
    ``runtime`` is measured in the worker. ``cancel()`` may return False for
    a call its worker has just started, a moment before the future says it
    is running. Done callbacks run in the pool's manager thread: they must
    not wait for another call of the same pool.
    """

    map_batches = True  # Each call crosses a pipe: map sends items in chunks.

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: Any = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        check_and_reject: CheckAndReject | None = None,
        name: str | None = None,
    ) -> None:
        if _manager.new_poll is None:  # pragma: no cover - Windows
            raise NotImplementedError("ProcessPoolExecutor needs select.poll (POSIX)")
        if max_workers is None:
            # As the stdlib: the CPUs this process may use, where Python can tell (3.13+).
            max_workers = _native.usable_cpu_count()
        super().__init__(max_workers, check_and_reject, name=name)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if isinstance(max_tasks_per_child, bool) or not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
        context = _default_context() if mp_context is None else mp_context
        if max_tasks_per_child is not None and context.get_start_method() == "fork":
            raise ValueError(
                "max_tasks_per_child is incompatible with the 'fork' multiprocessing "
                "start method; supply a different mp_context."
            )
        self._mp_context = context
        self._manager = Manager(
            self._name,
            max_workers,
            context,
            initializer,
            tuple(initargs),
            max_tasks_per_child,
            self._submit_lock,
        )
        # Collected without shutdown(): finish what was accepted, then stop.
        # (Interpreter exit is the manager module's business.)
        weakref.finalize(self, self._manager.stop).atexit = False

    @property
    def num_workers(self) -> int:
        """Worker processes that exist now, starting, busy or idle."""
        return self._manager.num_workers

    @property
    def idle_workers(self) -> int:
        """Worker processes that hold no call (started or not)."""
        return self._manager.idle_workers

    def terminate_workers(self) -> None:
        """Stop now, as CPython 3.14's: shut down, cancelling every call not started, and
        end each worker process with ``SIGTERM``.

        The calls the workers were running fail with :class:`WorkerLostError`;
        a call the cancel could not reach (handed to a worker, its start
        unknown) fails with ``BrokenProcessPool``. Returns at once;
        ``shutdown(wait=True)`` then waits until every worker is reaped.
        """
        self._end_workers(signal.SIGTERM)

    def kill_workers(self) -> None:
        """As :meth:`terminate_workers`, with ``SIGKILL``, which a worker cannot catch."""
        self._end_workers(signal.SIGKILL)

    def _end_workers(self, signal_number: int) -> None:
        self.shutdown(wait=False, cancel_futures=True)
        self._manager.end_workers(signal_number)

    @property
    def mp_context(self) -> Any:
        """The multiprocessing context that starts the workers."""
        return self._mp_context

    def _timed_call(self, seconds: float, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Marks ``fn`` to run alone on a worker, which is killed and replaced if the call
        is still running after ``seconds``; the kill cannot affect any other call. A
        timeout longer than ``poll()`` can wait in one go (about 24.9 days) is waited
        for in steps."""
        self._manager.timed_calls = True
        return TimedCall(seconds, fn)

    # -- backend hooks ---------------------------------------------------

    def _start(self, item: WorkItem) -> bool:
        manager = self._manager
        if manager.broken is not None:
            raise manager.broken_error()
        if manager.stopping:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")
        manager.submit(item)
        return True

    def _after_start(self, item: WorkItem) -> None:
        self._manager.wake()

    def _take_pending(self) -> list[WorkItem]:
        return self._manager.take_pending()

    def _stop_workers(self) -> None:
        self._manager.stop()

    def _join_workers(self) -> None:
        if self._manager.in_manager_thread():
            return  # shutdown() from a done callback: the manager cannot wait for itself.
        self._manager.join()
