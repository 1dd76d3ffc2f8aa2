"""The pipeline under ``Pool.imap``, ``map`` and the rest: chunks submitted as results are taken.

``multiprocessing.Pool`` feeds the whole input to its workers from a
thread of its own, so ``imap`` over an endless iterator never ends and over
a long one holds every item and result at once. A :class:`Feed` pulls
instead: at most ``window`` chunks are in flight, and taking a chunk's
results submits the next, so memory stays bounded by the window whatever
the input's length. A submission the executor's ``check_and_reject``
refuses is not an error here: the feed keeps fewer chunks in flight until
one finishes, and with none in flight it waits a little and tries again
(counted, as every refusal is, in the executor's ``statistics.rejected``),
so ``map`` waits for room instead of failing halfway.

Each chunk is one call of :func:`greenpool._chunks.run_items` (or
``run_star_items``), which keeps every item's outcome, so a failed item raises at its own place in
``imap`` and the items after it still come. A chunk whose call failed as
a whole (its worker process died, its function could not be pickled, the
pool was terminated) fails each of its items with that exception.
"""

from __future__ import annotations

import concurrent.futures
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from greenpool import _parking, waiters
from greenpool._chunks import Chunks, ItemFailure, run_items, run_star_items
from greenpool._errors import RejectedSubmission
from greenpool._future import Future
from greenpool._timeouts import wait_timeout
from greenpool._workitem import now
from greenpool.pool._results import PoolTerminated, TimeoutError

#: With nothing in flight and the executor refusing, wait this long before
#: trying again, doubling up to the most.
FIRST_BACKOFF = 0.001
MOST_BACKOFF = 0.05

_T = TypeVar("_T")

Submit = Callable[..., Future[Any]]
#: A chunk's answer: each item's outcome, how long it ran, whether any item failed.
ChunkAnswer = tuple[list[Any], float, bool]


class Feed:
    """``fn`` over ``chunks``, through ``submit``, at most ``window`` chunks in flight.

    :meth:`take` returns the next item's outcome (a result, or an
    :class:`ItemFailure`), in input order if ``ordered``, else as chunks
    finish. Not safe to share between threads: one consumer, as an
    iterator is.
    """

    def __init__(
        self,
        submit: Submit,
        fn: Callable[..., Any],
        chunks: Chunks,
        window: int,
        *,
        ordered: bool = True,
        star: bool = False,
        on_end: Callable[[Feed], object] | None = None,
    ) -> None:
        self._submit = submit
        self._on_end = on_end
        self._fn = fn
        self._runner = run_star_items if star else run_items
        self._chunks = chunks
        self._window = window
        self._ordered = ordered
        self._in_flight: deque[tuple[Future[ChunkAnswer], int]] = deque()
        self._ready: deque[Any] = deque()
        self._next_chunk: tuple[Any, ...] | None = None
        self._exhausted = False
        #: What ends the outcomes once the chunks in flight are taken: the input's
        #: exception, or why no more chunks could be submitted.
        self._last: ItemFailure | None = None
        self._backoff = FIRST_BACKOFF

    def start(self) -> None:
        """Submit the first window now, in the caller (as much of it as is accepted), so the
        workers start while the caller goes on."""
        self._fill()

    def take(self, timeout: object = None) -> Any:
        """The next item's outcome; ``StopIteration`` at the end; :class:`TimeoutError` if
        none is ready within ``timeout`` seconds (the feed stays usable)."""
        if not self._ready:
            outcomes, _ = self.take_chunk(timeout)
            self._ready.extend(outcomes)
        return self._ready.popleft()

    def take_chunk(self, timeout: object = None) -> tuple[list[Any], bool]:
        """The outcomes of the next finished chunk (what :meth:`take` would return one by
        one), and whether any of them is an :class:`ItemFailure`."""
        if self._ready:
            outcomes = list(self._ready)
            self._ready.clear()
            return outcomes, any(isinstance(outcome, ItemFailure) for outcome in outcomes)
        seconds = wait_timeout(timeout)
        deadline = None if seconds is None else now() + seconds
        while True:
            self._fill()
            if self._in_flight:
                answer = self._collect(deadline)
                self._fill()  # Keep the workers busy while the caller takes these.
                return answer
            if self._exhausted:
                last, self._last = self._last, None
                if last is not None:
                    return [last], True
                self._ended()
                raise StopIteration
            # Refused with nothing in flight: room comes when others' calls end.
            self._pause(deadline)

    def close(self) -> None:
        """Stop early: cancel the chunks not started, let go of the input."""
        for future, _ in self._in_flight:
            future.cancel()
        self._in_flight.clear()
        self._ready.clear()
        self._exhausted = True
        self._next_chunk = None
        self._last = None
        self._ended()

    def _ended(self) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end(self)

    def _fill(self) -> None:
        while not self._exhausted and len(self._in_flight) < self._window:
            chunk = self._next_chunk
            if chunk is None:
                try:
                    chunk = next(self._chunks)
                except StopIteration:
                    self._exhausted = True
                    return
                except Exception as exc:
                    # As multiprocessing.Pool: the input's exception comes after the
                    # results of the items before it, and then the end.
                    self._end_with(exc)
                    return
            try:
                future = self._submit(self._runner, self._fn, chunk)
            except RejectedSubmission:
                self._next_chunk = chunk  # Keep it for the next try.
                return
            except Exception as exc:
                # The executor takes no more calls (shut down, broken, the pool
                # terminated): the chunks in flight still come, then this error.
                self._next_chunk = None
                self._end_with(exc)
                return
            self._next_chunk = None
            self._backoff = FIRST_BACKOFF
            self._in_flight.append((future, len(chunk)))

    def _end_with(self, error: BaseException) -> None:
        self._exhausted = True
        self._last = ItemFailure(error)

    def _collect(self, deadline: float | None) -> tuple[list[Any], bool]:
        """Wait for a chunk (the oldest if ordered, else any); its outcomes, and whether any
        item failed."""
        remaining = None if deadline is None else max(0.0, deadline - now())
        if self._ordered:
            future, size = self._in_flight[0]
            try:
                future.exception(remaining)
            except concurrent.futures.TimeoutError:
                raise TimeoutError(f"no result within {remaining} seconds") from None
            except concurrent.futures.CancelledError:
                pass
            self._in_flight.popleft()
        else:
            done, _ = waiters.wait_for_any([f for f, _ in self._in_flight], remaining)
            if not done:
                raise TimeoutError(f"no result within {remaining} seconds")
            index = next(i for i, (f, _) in enumerate(self._in_flight) if f in done)
            future, size = self._in_flight[index]
            del self._in_flight[index]
        return _outcomes(future, size, self._chunks)

    def _pause(self, deadline: float | None) -> None:
        wait = self._backoff
        if deadline is not None:
            remaining = deadline - now()
            if remaining <= 0:
                raise TimeoutError("the executor refused every submission until the timeout")
            wait = min(wait, remaining)
        _parking.new_waiter().wait(wait)
        self._backoff = min(MOST_BACKOFF, self._backoff * 2)


def _outcomes(future: Future[ChunkAnswer], size: int, chunks: Chunks) -> tuple[list[Any], bool]:
    """Each item's outcome from a finished chunk's future, and whether any failed."""
    if future.cancelled():
        failure = ItemFailure(PoolTerminated("the pool was terminated before the call ran"))
        return [failure] * size, True
    error = future.exception()
    if error is not None:
        return [ItemFailure(error)] * size, True
    outcomes, seconds, failed = future.result()
    chunks.observe(size, seconds)
    return outcomes, failed


class IMapIterator(Iterator[_T]):
    """The iterator ``imap`` and ``imap_unordered`` return; ``next(timeout)`` as the stdlib's."""

    def __init__(self, feed: Feed) -> None:
        self._feed = feed

    def __iter__(self) -> IMapIterator[_T]:
        return self

    def __next__(self) -> _T:
        return self.next()

    def next(self, timeout: float | None = None) -> _T:
        """The next result; raises a failed item's exception at its place, and
        :class:`~greenpool.pool.TimeoutError` if none comes within ``timeout``."""
        outcome = self._feed.take(timeout)
        if isinstance(outcome, ItemFailure):
            raise outcome.exception
        result: _T = outcome
        return result

    def __del__(self) -> None:
        self._feed.close()


def gather(feed: Feed) -> list[Any]:
    """Every outcome of ``feed``, in order; raises the first failed item's exception."""
    values: list[Any] = []
    while True:
        try:
            outcomes, failed = feed.take_chunk()
        except StopIteration:
            return values
        if failed:
            feed.close()  # The rest would be thrown away: cancel what has not started.
            raise next(o for o in outcomes if isinstance(o, ItemFailure)).exception
        values += outcomes
