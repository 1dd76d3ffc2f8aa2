"""``greenpool.Pool``: ``multiprocessing.Pool``'s interface over any greenpool executor.

The pool owns no workers of its own: it drives an executor through its
public API (``submit``, ``statistics``, ``shutdown``), so every call it
makes is counted, refused or accepted by the executor's
``check_and_reject``, and runs wherever the executor runs calls: green
threads, native threads, worker processes. Without ``executor=`` it makes
(and owns) a :class:`~greenpool.ProcessPoolExecutor`, the
``multiprocessing.Pool`` equivalent.

Where each piece of work happens:

* ``apply_async`` submits one call; the executor's worker that finishes
  it settles the :class:`ApplyResult` (running its callback) from a done
  callback.
* ``imap``/``imap_unordered`` are :class:`Feed`\\s pulled by the consumer:
  lazy, at most a window of chunks in flight.
* ``map``/``starmap`` pull a feed to the end in the caller;
  ``map_async``/``starmap_async`` pull it in a feeder beside the caller (a
  green thread for a green caller, else a daemon thread), which then
  settles the :class:`MapResult` and runs its callback.

Lifecycle, as ``multiprocessing.Pool``'s: ``close()`` refuses new work and
lets what was accepted finish; ``terminate()`` cancels the pool's calls
that have not started (their results fail with :class:`PoolTerminated`)
and shuts an owned executor down without waiting; ``join()``, only after
either, waits for the pool's accepted work and for an owned executor.
"""

from __future__ import annotations

import enum
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from greenpool import waiters
from greenpool._beside import start_beside
from greenpool._chunks import Chunks, ListChunks
from greenpool._executor import Executor
from greenpool._future import Future
from greenpool._statistics import ExecutorStatistics
from greenpool.pool._arguments import check_chunksize, check_func, make_process_pool
from greenpool.pool._feed import Feed, IMapIterator, gather
from greenpool.pool._results import (
    ApplyResult,
    Callback,
    MapResult,
    PoolTerminated,
    check_callbacks,
)

_T = TypeVar("_T")

#: Chunks in flight per worker: enough that a worker finishing one finds the next waiting.
WINDOW_PER_WORKER = 2


class _State(enum.Enum):
    RUN = "RUN"
    CLOSE = "CLOSE"
    TERMINATE = "TERMINATE"


class Pool:
    """A ``multiprocessing.Pool`` whose workers are any greenpool executor's."""

    def __init__(
        self,
        processes: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        maxtasksperchild: int | None = None,
        *,
        executor: Executor | None = None,
    ) -> None:
        initargs = tuple(initargs)
        if executor is not None:
            if (
                processes is not None
                or initializer is not None
                or initargs
                or maxtasksperchild is not None
            ):
                raise ValueError(
                    "executor= cannot be combined with processes, initializer, initargs or"
                    " maxtasksperchild: configure the executor itself"
                )
            if not isinstance(executor, Executor):
                raise TypeError(f"executor must be a greenpool executor, got {executor!r}")
            self._executor = executor
            self._owned = False
        else:
            self._executor = make_process_pool(processes, initializer, initargs, maxtasksperchild)
            self._owned = True
        self._state = _State.RUN
        # Both sets change by one C call each (add, discard) and are read by
        # copy(), so no lock is needed around them (the GIL orders them).
        #: Results with callbacks not yet run: join() waits for them too.
        self._unsettled: set[ApplyResult[Any]] = set()
        #: The pool's calls not yet finished: what terminate() cancels and join() awaits.
        self._calls: set[Future[Any]] = set()
        #: imap feeds not yet taken to the end or dropped (a set, for the same reason),
        #: and whether join() has run.
        self._open_feeds: set[Feed] = set()
        self._joined = False
        if self._owned:
            # Collected without close()/terminate(): stop the workers it made.
            weakref.finalize(self, _stop_executor, self._executor)

    # -- what the pool drives ----------------------------------------------

    @property
    def executor(self) -> Executor:
        """The executor that runs the pool's calls."""
        return self._executor

    @property
    def statistics(self) -> ExecutorStatistics:
        """The executor's statistics (every call the pool made is one of its calls)."""
        return self._executor.statistics

    def _window(self) -> int:
        return max(1, WINDOW_PER_WORKER * self._executor.max_workers)

    def _check_running(self) -> None:
        if self._state is not _State.RUN:
            raise ValueError("Pool not running")

    def _submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Submit through the executor, keeping the future until it is done."""
        if self._state is _State.TERMINATE:  # A feed still pulling after terminate().
            raise PoolTerminated("the pool was terminated")
        future = self._executor.submit(fn, *args, **kwargs)
        calls = self._calls
        calls.add(future)
        future.add_done_callback(calls.discard)
        return future

    # -- apply -------------------------------------------------------------

    def apply(
        self,
        func: Callable[..., _T],
        args: Iterable[Any] = (),
        kwds: Mapping[str, Any] | None = None,
    ) -> _T:
        """``func(*args, **kwds)`` in a worker; its result (or its exception, raised)."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(
        self,
        func: Callable[..., _T],
        args: Iterable[Any] = (),
        kwds: Mapping[str, Any] | None = None,
        callback: Callback | None = None,
        error_callback: Callback | None = None,
    ) -> ApplyResult[_T]:
        """Submit ``func(*args, **kwds)``; its :class:`ApplyResult` at once.

        ``RejectedSubmission`` if the executor's ``check_and_reject`` refuses
        it (nothing is queued). ``callback(result)`` or
        ``error_callback(exception)`` runs once, in whichever thread or green
        thread finishes the call (a green worker, a worker thread, or the
        process pool's manager thread), before the result becomes ready.
        """
        self._check_running()
        check_func(func)
        check_callbacks(callback, error_callback)
        future = self._submit(func, *args, **(kwds if kwds is not None else {}))
        return ApplyResult(future, callback, error_callback, self._unsettled)

    # -- map ---------------------------------------------------------------

    def map(
        self, func: Callable[..., _T], iterable: Iterable[Any], chunksize: int | None = None
    ) -> list[_T]:
        """``[func(item) for item in iterable]``, in workers; raises the first failed item's
        exception (in input order). Waits for room when the executor refuses."""
        return self._map(func, iterable, chunksize, star=False)

    def starmap(
        self,
        func: Callable[..., _T],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
    ) -> list[_T]:
        """As :meth:`map`, with each item unpacked as ``func``'s arguments."""
        return self._map(func, iterable, chunksize, star=True)

    def map_async(
        self,
        func: Callable[..., _T],
        iterable: Iterable[Any],
        chunksize: int | None = None,
        callback: Callback | None = None,
        error_callback: Callback | None = None,
    ) -> MapResult[_T]:
        """:meth:`map` without waiting: its :class:`MapResult` at once.

        A feeder beside the caller (a green thread for a green caller, else a
        daemon thread) submits the chunks, waiting for room when refused,
        then settles the result and runs ``callback(results)`` or
        ``error_callback(exception)``.
        """
        return self._map_async(func, iterable, chunksize, callback, error_callback, star=False)

    def starmap_async(
        self,
        func: Callable[..., _T],
        iterable: Iterable[Iterable[Any]],
        chunksize: int | None = None,
        callback: Callback | None = None,
        error_callback: Callback | None = None,
    ) -> MapResult[_T]:
        """As :meth:`map_async`, with each item unpacked as ``func``'s arguments."""
        return self._map_async(func, iterable, chunksize, callback, error_callback, star=True)

    def imap(
        self, func: Callable[..., _T], iterable: Iterable[Any], chunksize: int = 1
    ) -> IMapIterator[_T]:
        """Results of ``func`` over ``iterable``, in order, lazily: at most a window of chunks
        in flight, submitted as results are taken, so an endless iterator works."""
        return self._imap(func, iterable, chunksize, ordered=True)

    def imap_unordered(
        self, func: Callable[..., _T], iterable: Iterable[Any], chunksize: int = 1
    ) -> IMapIterator[_T]:
        """As :meth:`imap`, results in the order they finish."""
        return self._imap(func, iterable, chunksize, ordered=False)

    def _feed(
        self,
        func: Callable[..., Any],
        iterable: Iterable[Any],
        chunksize: int | None,
        *,
        star: bool,
        ordered: bool = True,
        lazy: bool = False,
    ) -> Feed:
        self._check_running()
        check_chunksize(chunksize)
        check_func(func)
        # Items go to the workers as they are: starmap's are unpacked there.
        chunks: Chunks
        if isinstance(iterable, list) and chunksize is not None:
            chunks = ListChunks(iterable, chunksize)  # map's, listed at the call.
        else:
            chunks = Chunks(iter(iterable), chunksize)
        # An imap may still be pulling after join() (see join): it says when it ends.
        on_end = self._feed_ended if lazy else None
        feed = Feed(
            self._submit, func, chunks, self._window(), ordered=ordered, star=star, on_end=on_end
        )
        if lazy:
            self._open_feeds.add(feed)
        feed.start()
        return feed

    def _feed_ended(self, feed: Feed) -> None:
        self._open_feeds.discard(feed)
        if not self._open_feeds and self._joined and self._owned:
            self._executor.shutdown(wait=False)  # join() left it for the last imap.

    def _imap(
        self, func: Callable[..., _T], iterable: Iterable[Any], chunksize: int, *, ordered: bool
    ) -> IMapIterator[_T]:
        if chunksize is None:
            raise ValueError("chunksize must be a positive int, got None")
        check_chunksize(chunksize)  # Before the test below, which True would pass.
        adaptive = chunksize == 1 and self._executor.map_batches
        feed = self._feed(
            func, iterable, None if adaptive else chunksize, star=False, ordered=ordered, lazy=True
        )
        return IMapIterator(feed)

    def _map_chunks(
        self, iterable: Iterable[Any], chunksize: int | None
    ) -> tuple[list[Any], int | None]:
        """The input as a list, and the chunk size: the stdlib's rule when none is given."""
        items = iterable if isinstance(iterable, list) else list(iterable)
        if chunksize is None:
            if self._executor.map_batches:
                chunksize, extra = divmod(len(items), self._executor.max_workers * 4)
                chunksize += 1 if extra else 0
                chunksize = max(1, chunksize)
            else:
                chunksize = 1
        return items, chunksize

    def _map(
        self, func: Callable[..., _T], iterable: Iterable[Any], chunksize: int | None, *, star: bool
    ) -> list[_T]:
        self._check_running()
        check_chunksize(chunksize)
        check_func(func)  # Before the input is listed: bad input changes nothing.
        items, size = self._map_chunks(iterable, chunksize)
        return gather(self._feed(func, items, size, star=star))

    def _map_async(
        self,
        func: Callable[..., _T],
        iterable: Iterable[Any],
        chunksize: int | None,
        callback: Callback | None,
        error_callback: Callback | None,
        *,
        star: bool,
    ) -> MapResult[_T]:
        self._check_running()
        check_chunksize(chunksize)
        check_func(func)
        check_callbacks(callback, error_callback)
        items, size = self._map_chunks(iterable, chunksize)
        feed = self._feed(func, items, size, star=star)
        result: MapResult[_T] = MapResult(None, callback, error_callback, self._unsettled)

        def feed_to_the_end() -> None:
            try:
                values = gather(feed)
            except BaseException as exc:
                result._settle(None, exc)
            else:
                result._settle(values, None)

        start_beside(feed_to_the_end, "greenpool-pool-map")
        return result

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Accept no more work; what was accepted still runs. Then ``join()``."""
        if self._state is _State.RUN:
            self._state = _State.CLOSE

    def terminate(self) -> None:
        """Stop now: cancel the pool's calls not yet started (their results fail with
        :class:`PoolTerminated`); an owned process pool also ends its workers at once
        (``terminate_workers``: the calls they run fail with ``WorkerLostError``), and
        any other owned executor is shut down without waiting."""
        self._state = _State.TERMINATE
        for future in self._calls.copy():
            future.cancel()
        if self._owned:
            end_workers = getattr(self._executor, "terminate_workers", None)
            if end_workers is not None:
                end_workers()
            else:
                self._executor.shutdown(wait=False, cancel_futures=True)

    def join(self) -> None:
        """Wait for the pool's accepted work to end (and an owned executor's workers);
        only after :meth:`close` or :meth:`terminate` (``ValueError`` before).

        An ``imap`` still open is lazy: its input not yet taken is not
        waited for. It keeps an owned executor's workers until it has been
        taken to the end, or dropped, so that ``it = pool.imap(...);
        pool.close(); pool.join(); list(it)`` gets every result, as with the
        stdlib; the executor is then shut down.
        """
        if self._state is _State.RUN:
            raise ValueError("Pool is still running")
        while True:
            latches = [result._latch for result in self._unsettled.copy()]
            calls = list(self._calls.copy())
            if not latches and not calls:
                break
            waiters.wait_for_all([*latches, *calls])
        if self._owned:
            self._joined = True
            if not self._open_feeds or self._state is _State.TERMINATE:
                self._executor.shutdown(wait=True)

    def __enter__(self) -> Pool:
        self._check_running()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.terminate()  # As multiprocessing.Pool: leaving the block terminates.

    def __del__(self) -> None:
        if getattr(self, "_state", None) is _State.RUN and getattr(self, "_owned", False):
            warnings.warn(
                f"unclosed running greenpool.Pool {self!r}", ResourceWarning, stacklevel=2
            )

    def __reduce__(self) -> Any:
        raise NotImplementedError(
            "pool objects cannot be passed between processes or pickled"
        )  # As multiprocessing.Pool's.

    def __repr__(self) -> str:
        state = getattr(self, "_state", _State.RUN).value
        return f"<greenpool.Pool state={state} executor={self._executor!r}>"

    # The original ``processing.pool`` names.
    applyAsync = apply_async
    mapAsync = map_async
    imapUnordered = imap_unordered


def _stop_executor(executor: Executor) -> None:
    executor.shutdown(wait=False, cancel_futures=True)
