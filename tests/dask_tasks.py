"""What tests/test_dask.py runs on dask workers: module-level, so it pickles by reference.

The workers (processes a ``LocalCluster``'s nannies start with ``spawn``)
inherit the test run's ``sys.path``, which pytest gave ``tests/``, and
import this module by name. Nothing here imports eventlet.
"""

from __future__ import annotations

import os
import threading
import time


class TaskError(Exception):
    """What :func:`fail` raises: a class of our own, so a match is never by accident."""


def inc(x: int) -> int:
    return x + 1


def fail(message: str) -> None:
    raise TaskError(message)


def nap(seconds: float, value: object = None) -> object:
    time.sleep(seconds)
    return value


def mark_then_nap(path: str, seconds: float) -> int:
    """Leave ``path`` (holding this worker's pid), then sleep: proves a call ran, and where."""
    with open(path + ".tmp", "w") as file:
        file.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(seconds)
    return os.getpid()


def big(size: int) -> bytes:
    return b"x" * size


def unpicklable_result() -> object:
    return threading.Lock()


def raise_base(kind: str) -> None:
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt("inside a dask worker")
    raise SystemExit(3)
