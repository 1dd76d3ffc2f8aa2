"""Items of a ``map`` cut into chunks, each one call: sized as given, or from measured time.

Where each call crosses a process boundary (the process pool, and
``greenpool.Pool`` over it), one item per call spends more on the crossing
than on the item. :class:`Chunks` cuts the input into tuples instead: of a
given size, or, with ``chunksize=None``, starting at one item and then sized
from the time per item that finished chunks report (:meth:`Chunks.observe`),
to about ``CHUNK_SECONDS`` of work each. Small chunks keep results
streaming and workers evenly loaded; big ones amortise the crossing.

:func:`run_chunk` runs one chunk of an executor's ``map`` (the base's, on an
executor whose ``map_batches`` is true), and :func:`flatten` turns the
chunks' results back into items.

:func:`run_items` (and :func:`run_star_items`, for ``starmap``) runs one
chunk for ``greenpool.Pool``, which must keep
each item's own outcome (``imap`` raises a failed item's exception at its
place and goes on after it, as ``multiprocessing.Pool`` does): an item that
raises is returned as an :class:`ItemFailure`, which crosses a process
boundary with its traceback text as the process pool's own errors do.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: With ``chunksize=None``, chunks aim at about this much work...
CHUNK_SECONDS = 0.005
#: ... and at most this many items.
MAX_CHUNKSIZE = 1024


class Chunks:
    """Items (argument tuples, for ``map``) cut into chunks: of ``chunksize`` items, or sized
    from measured time."""

    def __init__(self, arguments: Iterator[Any], chunksize: int | None) -> None:
        self._arguments = arguments
        self._chunksize = chunksize
        self._seconds_per_item: float | None = None
        #: The input's exception, raised after the chunk of the items before it.
        self._error: Exception | None = None

    def __iter__(self) -> Chunks:
        return self

    def __next__(self) -> tuple[Any, ...]:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        size = self._chunksize
        if size is None:
            per_item = self._seconds_per_item
            if per_item is None:
                size = 1  # Until the first chunk says how long an item takes.
            else:
                size = max(1, min(MAX_CHUNKSIZE, int(CHUNK_SECONDS / max(per_item, 1e-9))))
        if size == 1:
            return (next(self._arguments),)
        taken: list[Any] = []
        try:
            taken.extend(itertools.islice(self._arguments, size))
        except Exception as exc:
            if not taken:
                raise
            self._error = exc  # The items before it are a chunk of their own first.
        if not taken:
            raise StopIteration
        return tuple(taken)

    def observe(self, items: int, seconds: float) -> None:
        """A chunk of ``items`` took ``seconds`` to run: size the next ones from it."""
        per_item = seconds / max(1, items)
        previous = self._seconds_per_item
        self._seconds_per_item = per_item if previous is None else (previous + per_item) / 2


class ListChunks(Chunks):
    """A list cut into slices of ``chunksize`` items (``map``'s input, listed at the call):
    one C-level copy per chunk, where islicing an iterator steps item by item."""

    def __init__(self, items: list[Any], chunksize: int) -> None:
        super().__init__(iter(()), chunksize)
        self._items = items
        self._size = chunksize
        self._start = 0

    def __next__(self) -> tuple[Any, ...]:
        start = self._start
        if start >= len(self._items):
            raise StopIteration
        self._start = start + self._size
        return tuple(self._items[start : start + self._size])


class ItemFailure:
    """The exception one item of a chunk raised, in place of its result.

    In one process it is just the exception. Pickled (a process pool's
    answer), it carries the exception's traceback text, and comes back with
    it as ``__cause__``, as the process pool's own errors do; an exception
    that cannot be pickled is replaced by the pickling error, as there.
    """

    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception

    def __reduce__(self) -> tuple[Callable[[bytes], ItemFailure], tuple[bytes]]:
        from greenpool.process import _wire

        return _rebuild_failure, (_wire.encode_error(self.exception),)


def _rebuild_failure(body: bytes) -> ItemFailure:
    from greenpool.process import _wire

    return ItemFailure(_wire.decode_error(body))


def run_chunk(fn: Callable[..., Any], chunk: Iterable[tuple[Any, ...]]) -> tuple[list[Any], float]:
    """Run ``fn`` over one chunk of an executor's ``map`` (argument tuples) and say how long
    that took; the first item that raises fails the chunk, as the stdlib's."""
    start = time.perf_counter()
    results = [fn(*args) for args in chunk]
    return results, time.perf_counter() - start


def flatten(chunk_results: Iterator[tuple[list[Any], float]], chunks: Chunks) -> Iterator[Any]:
    """The items of each chunk's results in order, each chunk's time sizing the next ones.

    Closing it closes ``chunk_results`` (a bounded map, which cancels the
    chunks still in flight).
    """
    try:
        for results, seconds in chunk_results:
            chunks.observe(len(results), seconds)
            results.reverse()  # Pop from the end: yielded items are not kept alive.
            while results:
                yield results.pop()
    finally:
        close = getattr(chunk_results, "close", None)
        if close is not None:
            close()


def run_items(fn: Callable[[Any], Any], chunk: Iterable[Any]) -> tuple[list[Any], float, bool]:
    """Run ``fn(item)`` for each item of ``chunk``: each result or :class:`ItemFailure`, how
    long the chunk took, and whether any item failed."""
    start = time.perf_counter()
    outcomes: list[Any] = []
    failed = False
    for item in chunk:
        try:
            outcomes.append(fn(item))
        except Exception as exc:
            outcomes.append(ItemFailure(exc))
            failed = True
    return outcomes, time.perf_counter() - start, failed


def run_star_items(
    fn: Callable[..., Any], chunk: Iterable[tuple[Any, ...]]
) -> tuple[list[Any], float, bool]:
    """As :func:`run_items`, with each item unpacked as ``fn``'s arguments."""
    start = time.perf_counter()
    outcomes: list[Any] = []
    failed = False
    for args in chunk:
        try:
            outcomes.append(fn(*args))
        except Exception as exc:
            outcomes.append(ItemFailure(exc))
            failed = True
    return outcomes, time.perf_counter() - start, failed
