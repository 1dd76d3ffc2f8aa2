"""greenpool: executors for eventlet, native threads and processes.

One :class:`Future`, one :class:`ExecutorStatistics`, one ``check_and_reject``
contract across every executor, and a drop-in for futurist's executor API:
``import greenpool as futurist`` keeps working.

Importing greenpool never imports eventlet (which warns on import that it is
deprecated); creating a :class:`GreenThreadPoolExecutor` does.
"""

from __future__ import annotations

from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as TimeoutError
from typing import TYPE_CHECKING, Any

from greenpool import periodics, rejection, waiters
from greenpool._delayed_mixins import (
    DelayedExecutorMixin,
    DelayedExecutorMixinBase,
    GreenDelayedExecutorMixin,
)
from greenpool._errors import CallTimeoutError, RejectedSubmission
from greenpool._executor import Executor
from greenpool._future import Future, GreenFuture
from greenpool._live import executors
from greenpool._report import Reporter, report_every
from greenpool._statistics import ExecutorStatistics, StatisticsRates
from greenpool._workitem import WorkItem
from greenpool.dynamic import DynamicThreadPoolExecutor
from greenpool.green import GreenThreadPoolExecutor
from greenpool.synchronous import SynchronousExecutor
from greenpool.thread import BrokenThreadPool, ThreadPoolExecutor

if TYPE_CHECKING:
    from greenpool.dask import DaskExecutor
    from greenpool.pool import Pool
    from greenpool.process import ProcessPoolExecutor, WorkerLostError

__version__ = "0.1.0"

#: Imported on first use: the process pool needs multiprocessing, which
#: roughly doubles the cost of ``import greenpool`` for those who never use it.
_LAZY = {
    "ProcessPoolExecutor": "greenpool.process",
    "WorkerLostError": "greenpool.process",
    "Pool": "greenpool.pool",
    # The optional extra greenpool[dask]: an ImportError naming it without.
    "DaskExecutor": "greenpool.dask",
}


def __getattr__(name: str) -> Any:
    if name == "prometheus":  # An optional extra's module: imported only when asked for.
        import importlib

        module = importlib.import_module("greenpool.prometheus")
        globals()[name] = module
        return module
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'greenpool' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "BrokenThreadPool",
    "CallTimeoutError",
    "CancelledError",
    "DaskExecutor",
    "DelayedExecutorMixin",
    "DelayedExecutorMixinBase",
    "DynamicThreadPoolExecutor",
    "Executor",
    "ExecutorStatistics",
    "Future",
    "GreenDelayedExecutorMixin",
    "GreenFuture",
    "GreenThreadPoolExecutor",
    "Pool",
    "ProcessPoolExecutor",
    "RejectedSubmission",
    "Reporter",
    "StatisticsRates",
    "SynchronousExecutor",
    "ThreadPoolExecutor",
    "TimeoutError",
    "WorkItem",
    "WorkerLostError",
    "executors",
    "periodics",
    "rejection",
    "report_every",
    "waiters",
]
