"""Run callables periodically on any executor: futurist's ``periodics``, on greenpool.

``from greenpool import periodics`` replaces ``from futurist import periodics``::

    from greenpool import periodics

    @periodics.periodic(60)
    def report_state():
        ...

    worker = periodics.PeriodicWorker([(report_state, None, None)])
    eventlet.spawn(worker.start)   # or a native thread
    ...
    worker.stop()                  # returns at once; start() returns promptly
    worker.wait()

The package is split by concern: :mod:`._decorator` (what makes a callable
periodic, and the checks), :mod:`._strategies` (when each runs next),
:mod:`._watcher` (what each has done, lateness included), :mod:`._schedule`
(one heap for every callable), :mod:`._running` (the executor, its default,
and the call that runs each callable: nothing but an executor's public
``submit``, ``add_done_callback``, ``statistics`` and ``shutdown``),
:mod:`._table` (``pformat``), :mod:`._recording` (what a finished run
leaves behind: its tally, its failure report, its next run),
:mod:`._scheduler` (the scheduler's state and loop: due runs, parking and
waking) and :mod:`._worker` (``PeriodicWorker``: the public API, its checks
and ``start()``'s lifecycle).
"""

from __future__ import annotations

from greenpool.periodics._decorator import NeverAgain, is_periodic, periodic
from greenpool.periodics._running import ExecutorFactory, ExistingExecutor
from greenpool.periodics._schedule import IMMEDIATE, PERIODIC
from greenpool.periodics._table import DEFAULT_COLS as _DEFAULT_COLS
from greenpool.periodics._watcher import Watcher, Work
from greenpool.periodics._worker import LOG, PeriodicWorker

__all__ = [
    "IMMEDIATE",
    "LOG",
    "PERIODIC",
    "_DEFAULT_COLS",
    "ExecutorFactory",
    "ExistingExecutor",
    "NeverAgain",
    "PeriodicWorker",
    "Watcher",
    "Work",
    "is_periodic",
    "periodic",
]
