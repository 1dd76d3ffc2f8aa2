"""Wait for any or all of a set of futures: greenpool's, the stdlib's, or a mix.

Both functions install one waiter through the stdlib's own protocol (the
``_waiters`` list each ``concurrent.futures.Future`` notifies under its lock),
so every kind of future wakes it, and the waiter parks its caller the
greenpool way: a green thread yields to its hub, a native thread blocks on a
real lock. futurist raises when asked to wait on green and non-green futures
together; here that just works.

As in ``concurrent.futures.wait``, a future counts as done once it has
finished, or has been cancelled and its executor has let go of it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Iterable, Iterator
from concurrent.futures._base import CANCELLED_AND_NOTIFIED, FINISHED
from typing import Any, NamedTuple

from greenpool import _native
from greenpool._parking import new_waiter
from greenpool._timeouts import wait_timeout

_DONE = frozenset((CANCELLED_AND_NOTIFIED, FINISHED))


class DoneAndNotDoneFutures(NamedTuple):
    """What ``wait_for_any`` and ``wait_for_all`` return (as futurist's)."""

    done: set[concurrent.futures.Future[Any]]
    not_done: set[concurrent.futures.Future[Any]]


class _CountdownWaiter:
    """Wakes its caller once ``needed`` of the futures it is installed in are done."""

    __slots__ = ("_lock", "_needed", "_waiter")

    def __init__(self, needed: int) -> None:
        self._lock = _native.allocate_lock()
        self._needed = needed
        self._waiter = new_waiter()

    def _one_done(self) -> None:
        with self._lock:
            self._needed -= 1
            ready = self._needed == 0
        if ready:
            self._waiter.wake()

    def add_result(self, future: object) -> None:
        self._one_done()

    def add_exception(self, future: object) -> None:
        self._one_done()

    def add_cancelled(self, future: object) -> None:
        self._one_done()

    def wait(self, timeout: float | None) -> None:
        self._waiter.wait(timeout)


@contextlib.contextmanager
def _all_locked(fs: list[concurrent.futures.Future[Any]]) -> Iterator[None]:
    # Always in the same order (by id), as the stdlib does, so two waits over
    # overlapping sets cannot deadlock.
    with contextlib.ExitStack() as stack:
        for future in sorted(fs, key=id):
            stack.enter_context(future._condition)
        yield


def _partition(fs: Iterable[concurrent.futures.Future[Any]]) -> DoneAndNotDoneFutures:
    done: set[concurrent.futures.Future[Any]] = set()
    not_done: set[concurrent.futures.Future[Any]] = set()
    for future in fs:
        (done if future._state in _DONE else not_done).add(future)
    return DoneAndNotDoneFutures(done, not_done)


def _wait(
    fs: Iterable[concurrent.futures.Future[Any]], timeout: float | None, wait_for_all: bool
) -> DoneAndNotDoneFutures:
    timeout = wait_timeout(timeout)
    futures = list(dict.fromkeys(fs))  # Unique, in order.
    with _all_locked(futures):
        result = _partition(futures)
        if not result.not_done or (result.done and not wait_for_all):
            return result
        waiter = _CountdownWaiter(len(result.not_done) if wait_for_all else 1)
        for future in result.not_done:
            future._waiters.append(waiter)  # type: ignore[arg-type]  # Duck-typed, as the stdlib's.
    try:
        waiter.wait(timeout)
    finally:
        for future in result.not_done:
            with future._condition, contextlib.suppress(ValueError):
                future._waiters.remove(waiter)  # type: ignore[arg-type]
    with _all_locked(futures):
        return _partition(futures)


def wait_for_all(
    fs: Iterable[concurrent.futures.Future[Any]], timeout: float | None = None
) -> DoneAndNotDoneFutures:
    """Wait until every future is done or ``timeout`` seconds pass; return ``(done, not_done)``.

    ``timeout`` as for :meth:`greenpool.Future.result`: None or ``inf`` waits
    for ever, NaN raises ``ValueError``, a non-number ``TypeError``.
    """
    return _wait(fs, timeout, wait_for_all=True)


def wait_for_any(
    fs: Iterable[concurrent.futures.Future[Any]], timeout: float | None = None
) -> DoneAndNotDoneFutures:
    """Wait until at least one future is done or ``timeout`` passes; return ``(done, not_done)``."""
    return _wait(fs, timeout, wait_for_all=False)
