"""How a worker's runs are made: the executor they run on, and the call that runs each one.

Everything here uses an executor's public API only (``submit``,
``add_done_callback`` on its futures, ``statistics``, ``shutdown``), so any
``concurrent.futures.Executor`` works, greenpool's, futurist's or the
stdlib's.

**The default executor** depends on the thread that calls ``start()``:

* in a green thread (its OS thread has an eventlet hub), a
  :class:`~greenpool.GreenThreadPoolExecutor` on that hub: callables
  overlap on IO, so one slow callable does not make the others late, and
  nothing the worker does blocks the hub;
* in a native thread, a :class:`~greenpool.SynchronousExecutor`, futurist's
  own default: callables run one at a time in that thread, and eventlet is
  not imported for them (services leaving eventlet behind must not load it).

Either is a greenpool executor, so watchers report its statistics.
"""

from __future__ import annotations

import concurrent.futures
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

from greenpool import _parking
from greenpool.periodics._decorator import callback_name
from greenpool.periodics._watcher import Work
from greenpool.synchronous import SynchronousExecutor


class ExecutorFactory:
    """Makes the executor a worker runs its callables on, when the worker starts."""

    #: Whether the worker shuts the executor down when it stops.
    shutdown: bool = True

    def __call__(self) -> concurrent.futures.Executor:
        raise NotImplementedError()


class ExistingExecutor(ExecutorFactory):
    """An executor the caller owns: used as it is, and not shut down unless ``shutdown``."""

    def __init__(self, executor: concurrent.futures.Executor, shutdown: bool = False) -> None:
        self._executor = executor
        self.shutdown = shutdown

    def __call__(self) -> concurrent.futures.Executor:
        return self._executor


def log_failure(
    log: logging.Logger,
    cb: Callable[..., Any],
    kind: str,
    spacing: float,
    exc_info: tuple[Any, Any, Any],
    traceback: str | None = None,
) -> None:
    """The default ``on_failure``: log the error with its traceback, as futurist does."""
    name = callback_name(cb)
    if all(exc_info) or not traceback:
        log.error(
            "Failed to call %s '%s' (it runs every %0.2f seconds)",
            kind,
            name,
            spacing,
            exc_info=exc_info,
        )
    else:
        log.error(
            "Failed to call %s '%s' (it runs every %0.2f seconds):\n%s",
            kind,
            name,
            spacing,
            traceback,
        )


class Runner:
    """What the executor runs: one call of a :class:`Work`, timed in the worker's clock.

    Returns ``(started_at, finished_at, error, traceback_text)``; an
    ``Exception`` is returned rather than raised, so the times are known
    either way. Picklable, for process pools, which get the traceback as text
    (traceback objects do not pickle).
    """

    __slots__ = ("now_func", "retain_traceback")

    def __init__(self, now_func: Callable[[], float], retain_traceback: bool) -> None:
        self.now_func = now_func
        self.retain_traceback = retain_traceback

    def __getstate__(self) -> tuple[Callable[[], float], bool]:
        return self.now_func, self.retain_traceback

    def __setstate__(self, state: tuple[Callable[[], float], bool]) -> None:
        self.now_func, self.retain_traceback = state

    def __call__(self, work: Work) -> tuple[float, float, Exception | None, str | None]:
        now = self.now_func
        started_at = now()
        try:
            work.callback(*work.args, **work.kwargs)
        except Exception as error:
            finished_at = now()
            text = None
            if not self.retain_traceback:
                text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            return started_at, finished_at, error, text
        return started_at, now(), None, None


def runs_elsewhere(executor: object) -> bool:
    """Whether ``executor`` runs calls in other processes (results are pickled)."""
    if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        return True
    process = sys.modules.get("greenpool.process")
    return process is not None and isinstance(executor, process.ProcessPoolExecutor)


def default_executor() -> concurrent.futures.Executor:
    """A green executor if called in a green thread, else a synchronous one (see the module)."""
    if _parking.current_hub() is not None:
        from greenpool.green import GreenThreadPoolExecutor

        return GreenThreadPoolExecutor(name="periodics")
    return SynchronousExecutor(name="periodics")
