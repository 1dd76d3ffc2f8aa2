"""Pool's arguments checked as ``multiprocessing.Pool`` checks them, at the call that made them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from greenpool._executor import Executor


def check_func(func: object) -> None:
    """Refuse a ``func`` that cannot be called, at the call (the stdlib fails in the worker)."""
    if not callable(func):
        raise TypeError(f"{func!r} is not callable")


def check_chunksize(chunksize: object) -> None:
    if chunksize is not None and (
        isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1
    ):
        raise ValueError(f"Chunksize must be 1+, not {chunksize!r}")


def make_process_pool(
    processes: int | None,
    initializer: Callable[..., object] | None,
    initargs: Iterable[Any],
    maxtasksperchild: int | None,
) -> Executor:
    """The ``ProcessPoolExecutor`` a ``Pool()`` without ``executor=`` drives, checked as the
    stdlib checks its arguments."""
    if processes is not None:
        if isinstance(processes, bool) or not isinstance(processes, int):
            raise TypeError(f"processes must be an int or None, got {processes!r}")
        if processes < 1:
            raise ValueError("Number of processes must be at least 1")
    if initializer is not None and not callable(initializer):
        raise TypeError("initializer must be a callable")
    if maxtasksperchild is not None and (
        isinstance(maxtasksperchild, bool)
        or not isinstance(maxtasksperchild, int)
        or maxtasksperchild <= 0
    ):
        raise ValueError("maxtasksperchild must be a positive int or None")
    from greenpool.process import ProcessPoolExecutor

    return ProcessPoolExecutor(
        processes,
        initializer=initializer,
        initargs=tuple(initargs),
        max_tasks_per_child=maxtasksperchild,
    )
