"""What ``greenpool.Pool`` hands back: results of ``apply_async``/``map_async``, and the timeout.

An :class:`ApplyResult` is settled once, by whoever completes its work
(the executor's worker for ``apply_async``, the feeder for ``map_async``):
its callback runs first, then it becomes ready, so that code written for
``multiprocessing.Pool`` (``r = apply_async(f, callback=out.append);
r.wait(); out[0]``) sees the callback's effect once ``wait`` returns. A
callback that raises is logged and the result still becomes ready. The
readiness latch is a greenpool :class:`~greenpool.Future`, so ``get`` and
``wait`` park a green thread in its hub and a native thread on a real lock.
"""

from __future__ import annotations

import builtins
import concurrent.futures
import logging
import multiprocessing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from greenpool._future import Future

LOGGER = logging.getLogger("greenpool")

_T = TypeVar("_T")

_TIMEOUT_BASES: tuple[type[BaseException], ...] = (
    multiprocessing.TimeoutError,
    builtins.TimeoutError,
)
if not issubclass(concurrent.futures.TimeoutError, builtins.TimeoutError):  # Python 3.10
    _TIMEOUT_BASES += (concurrent.futures.TimeoutError,)


class TimeoutError(*_TIMEOUT_BASES):  # type: ignore[misc]
    """``get(timeout)`` or ``next(timeout)`` ran out of time.

    An instance of ``multiprocessing.TimeoutError`` and of the builtin
    ``TimeoutError`` (and of ``concurrent.futures.TimeoutError``), so code
    written for ``multiprocessing.Pool`` or for ``concurrent.futures``
    catches it.
    """


class PoolTerminated(RuntimeError):
    """The pool was terminated before this call ran (``multiprocessing.Pool`` waits for ever)."""


Callback = Callable[[Any], object]


def check_callbacks(callback: object, error_callback: object) -> None:
    """Refuse, at the call, a callback that is neither ``None`` nor callable."""
    for name, value in (("callback", callback), ("error_callback", error_callback)):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be callable or None, got {value!r}")


class ApplyResult(Generic[_T]):
    """The result of ``apply_async`` (and, as :class:`MapResult`, of ``map_async``).

    Without callbacks it reads the executor's future itself: nothing runs
    between the call finishing and the result being ready. With one, a
    latch of its own becomes ready once the callback has run. ``unsettled``
    (the pool's) holds the result until then, for ``join``.
    """

    def __init__(
        self,
        future: concurrent.futures.Future[Any] | None = None,
        callback: Callback | None = None,
        error_callback: Callback | None = None,
        unsettled: set[ApplyResult[Any]] | None = None,
    ) -> None:
        self._callback = callback
        self._error_callback = error_callback
        self._value: Any = None
        self._error: BaseException | None = None
        self._latch: concurrent.futures.Future[Any]
        self._own_latch = not (future is not None and callback is None and error_callback is None)
        if not self._own_latch:
            assert future is not None
            self._latch = future  # Ready when the call is.
            self._unsettled = None
            return
        self._latch = Future()
        self._unsettled = unsettled
        if unsettled is not None:
            unsettled.add(self)
        if future is not None:
            future.add_done_callback(self._settle_from)

    def _settle(self, value: Any, error: BaseException | None) -> None:
        """Record the outcome, run the callback for it, then become ready. Called once."""
        self._value, self._error = value, error
        callback = self._callback if error is None else self._error_callback
        try:
            if callback is not None:
                callback(value if error is None else error)
        except BaseException:
            LOGGER.exception("the %s of %r raised", _callback_name(error), self)
        finally:
            self._callback = self._error_callback = None  # Run once; let go of them.
            self._latch.set_result(None)
            if self._unsettled is not None:
                self._unsettled.discard(self)

    def _settle_from(self, future: concurrent.futures.Future[Any]) -> None:
        """Settle from a finished future of the pool's executor (a done-callback)."""
        if future.cancelled():
            self._settle(None, _terminated())
            return
        error = future.exception()
        self._settle(None if error is not None else future.result(), error)

    def ready(self) -> bool:
        """Whether the call has finished (and its callback has run)."""
        return self._latch.done()

    def successful(self) -> bool:
        """Whether the call returned without raising; ``ValueError`` if it is not ready."""
        if not self._latch.done():
            raise ValueError(f"{self!r} not ready")
        return self._outcome()[1] is None

    def wait(self, timeout: float | None = None) -> None:
        """Wait until ready, or for ``timeout`` seconds."""
        try:
            self._latch.exception(timeout)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            pass

    def get(self, timeout: float | None = None) -> _T:
        """The call's result, once ready; re-raises its exception; :class:`TimeoutError` if
        not ready within ``timeout`` seconds."""
        self.wait(timeout)
        if not self._latch.done():
            raise TimeoutError(f"no result within {timeout} seconds")
        value, error = self._outcome()
        if error is not None:
            raise error
        result: _T = value
        return result

    def _outcome(self) -> tuple[Any, BaseException | None]:
        """(value, exception) of a ready result."""
        if self._own_latch:
            return self._value, self._error
        latch = self._latch
        if latch.cancelled():
            return None, _terminated()
        error = latch.exception()
        return (None, error) if error is not None else (latch.result(), None)

    def __repr__(self) -> str:
        state = "ready" if self._latch.done() else "pending"
        return f"<{type(self).__name__} {state} at {id(self):#x}>"


def _terminated() -> PoolTerminated:
    return PoolTerminated("the pool was terminated before the call ran")


#: ``multiprocessing.pool.AsyncResult`` is the same class under another name.
AsyncResult = ApplyResult


class MapResult(ApplyResult[list[_T]]):
    """The result of ``map_async``/``starmap_async``: the list of results, in input order."""


def _callback_name(error: BaseException | None) -> str:
    return "callback" if error is None else "error_callback"
