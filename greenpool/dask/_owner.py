"""FutureOwner: what a call's start and end on the cluster do to its future and statistics.

The :class:`~greenpool.dask._session.Session` hears how each call goes on
the cluster (started on a worker, ended with an outcome, failed as only
dask can fail it, refused before it got there) and tells the call's owner.
In the executor's own process the owner is a :class:`FutureOwner`, which
changes the call's :class:`~greenpool.WorkItem` (and with it the counts);
under monkey patching the session runs in a helper process, whose owner
sends the news to this process, where a :class:`FutureOwner` applies it
(:mod:`greenpool.dask._bridge`). Either way it happens here, once.
"""

from __future__ import annotations

import time
from typing import Any

from greenpool._workitem import WorkItem, accepted_at, fail, hold, now, refuse, start, succeed
from greenpool.dask import _remote


class Tracked:
    """What the owner of a call's future knows of the call."""

    __slots__ = ("cancelled", "item", "started", "started_at")

    def __init__(self, item: WorkItem | None) -> None:
        self.item = item
        #: Set when the worker's start event has been heard.
        self.started = False
        self.started_at = 0.0
        #: Set by a cancel that went ahead, or a start that found one: the outcome is dropped.
        self.cancelled = False


class FutureOwner:
    """Applies a call's news to its future (see the module docstring); one thread at a time."""

    def started(self, call: Tracked, wall_time: float) -> None:
        """The worker started the call at ``wall_time`` (its ``time.time()``)."""
        item = call.item
        assert item is not None
        # The worker's clock on this process's monotonic one, kept between acceptance
        # and now: another machine's clock may be a little off.
        started_at = wall_time - (time.time() - now())
        started_at = min(max(started_at, accepted_at(item)), now())
        call.started_at = started_at
        call.started = True
        if not start(item, started_at):
            call.cancelled = True  # Cancelled just before: what it returns is dropped.

    def ended(self, call: Tracked, runtime: float, outcome: bytes) -> None:
        """The call ran for ``runtime`` s on its worker and ended with ``outcome``
        (:func:`~greenpool.dask._remote.run_call`'s)."""
        if not call.started:  # A start event lost with its worker: count it started now.
            self.started(call, time.time())
        item = call.item
        assert item is not None
        hold(item, None)  # Ended: nothing to cancel any more.
        if call.cancelled:
            return
        try:
            returned, value = _remote.decode_outcome(outcome)
        except BaseException as exc:  # Such as a class this process cannot import.
            fail(item, runtime, exc)
            del exc
            return
        if returned:
            succeed(item, runtime, value)
        else:
            fail(item, runtime, value)

    def failed(self, call: Tracked, error: BaseException) -> None:
        """dask ended the call without an outcome (gave up on it, lost it, cancelled it)."""
        if not call.started:
            self.started(call, time.time())
        item = call.item
        assert item is not None
        hold(item, None)
        if call.cancelled:
            return
        fail(item, now() - call.started_at, error)

    def refused(self, call: Tracked, error: BaseException) -> None:
        """The call never reached the cluster (``Client.submit`` raised)."""
        item = call.item
        assert item is not None
        hold(item, None)
        if not call.cancelled:
            refuse(item, error)


def stopped_error() -> RuntimeError:
    """What a link raises for a call accepted once it has stopped (at interpreter exit, or
    a due delayed call of an executor collected meanwhile): it would never be handed over."""
    from greenpool import _exit

    when = "interpreter shutdown" if _exit.DASK in _exit.finishing else "shutdown"
    return RuntimeError(f"cannot schedule new futures after {when}")


def submit_error(error: BaseException) -> BaseException:
    """What ``Client.submit`` raised, said plainly: dask reports a call it could not pickle
    as its graph (``Could not serialize object of type LLGExpr``), the cause two levels down."""
    if not isinstance(error, TypeError) or "serialize" not in str(error):
        return error
    root: BaseException = error
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    plain = TypeError(f"the call cannot be pickled for the dask cluster: {root}")
    plain.__cause__ = error
    return plain


def dask_error(state: Any) -> BaseException:
    """The error a dask future's ``_state`` ended with, as greenpool raises it."""
    from distributed import KilledWorker

    from greenpool.process._errors import WorkerLostError

    if state.status == "error":
        exception = state.exception
        if isinstance(exception, KilledWorker):
            error = WorkerLostError(
                f"the dask cluster gave up on this call: {exception}; "
                "see distributed.scheduler.allowed-failures"
            )
            error.__cause__ = exception
            return error
        if isinstance(exception, BaseException):
            return exception.with_traceback(state.traceback)
        return RuntimeError(f"dask reported an error: {exception!r}")
    if state.status == "lost":
        return WorkerLostError("the dask cluster lost this call with the worker that held it")
    return RuntimeError(f"the dask cluster ended this call: {state.status}")
