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

from greenpool import rejection, waiters
from greenpool._errors import CallTimeoutError, RejectedSubmission
from greenpool._executor import Executor, WorkItem
from greenpool._future import Future, GreenFuture
from greenpool._statistics import ExecutorStatistics
from greenpool.green import GreenThreadPoolExecutor
from greenpool.process import ProcessPoolExecutor, WorkerLostError
from greenpool.synchronous import SynchronousExecutor
from greenpool.thread import BrokenThreadPool, ThreadPoolExecutor

__version__ = "0.1.0"

__all__ = [
    "BrokenThreadPool",
    "CallTimeoutError",
    "CancelledError",
    "Executor",
    "ExecutorStatistics",
    "Future",
    "GreenFuture",
    "GreenThreadPoolExecutor",
    "ProcessPoolExecutor",
    "RejectedSubmission",
    "SynchronousExecutor",
    "ThreadPoolExecutor",
    "TimeoutError",
    "WorkItem",
    "WorkerLostError",
    "rejection",
    "waiters",
]
