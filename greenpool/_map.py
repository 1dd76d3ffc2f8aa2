"""Lazy, bounded ``map`` over any ``submit``: results in input order, a window of calls in flight.

The stdlib's ``Executor.map`` submits the whole input before it yields
anything, so an endless iterator never yields and a long one holds every
call and result at once. Here at most ``window`` calls are in flight: the
first window is submitted at the ``map`` call (so a shut-down executor or a
refusing ``check_and_reject`` raises there, as with the stdlib), and each
result taken submits the next call. Calls still in flight are cancelled if
the caller stops early or a wait raises.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from greenpool._future import Future
from greenpool._timeouts import wait_timeout
from greenpool._workitem import now

_T = TypeVar("_T")


def check_map_arguments(fn: object, chunksize: object) -> None:
    """Refuse, at the ``map`` call, a ``fn`` that cannot be called or a bad ``chunksize``."""
    if chunksize is not None and (
        isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1
    ):
        raise ValueError(f"chunksize must be a positive int or None, got {chunksize!r}")
    if not callable(fn):
        raise TypeError(f"{fn!r} is not callable")


def bounded_map(
    submit: Callable[..., Future[_T]],
    fn: Callable[..., _T],
    iterables: tuple[Iterable[Any], ...],
    timeout: object,
    window: int,
) -> Iterator[_T]:
    """``fn`` over the zipped ``iterables`` through ``submit``, ``window`` calls at a time.

    ``timeout`` (checked here, as every wait's) counts from this call; a
    result not ready by then raises ``TimeoutError``.
    """
    seconds = wait_timeout(timeout)
    deadline = None if seconds is None else now() + seconds
    arguments = zip(*iterables, strict=False)
    in_flight: deque[Future[_T]] = deque()
    for args in itertools.islice(arguments, window):
        in_flight.append(submit(fn, *args))
    return _results(submit, fn, arguments, in_flight, deadline)


def _results(
    submit: Callable[..., Future[_T]],
    fn: Callable[..., _T],
    arguments: Iterator[tuple[Any, ...]],
    in_flight: deque[Future[_T]],
    deadline: float | None,
) -> Iterator[_T]:
    try:
        while in_flight:
            remaining = None if deadline is None else deadline - now()
            # Wait with the future still in in_flight, so that the finally
            # clause cancels it too if the wait raises (a timeout).
            in_flight[0].result(remaining)
            next_args = next(arguments, None)
            if next_args is not None:
                in_flight.append(submit(fn, *next_args))
            # Yielded straight from the future, never held in a local of
            # this suspended generator: once the caller drops a result, it
            # is freed (CPython issue 14406).
            yield in_flight.popleft().result()
    finally:
        for future in in_flight:
            future.cancel()
