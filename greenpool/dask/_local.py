"""LocalLink: a DaskExecutor's client in its own process (no monkey patching).

The executor hands each accepted call to its link; this one keeps the
``distributed.Client`` here and a :class:`~greenpool.dask._session.Session`
on its event loop, whose :class:`~greenpool.dask._owner.FutureOwner`
resolves the calls' futures on that loop. Under monkey patching the
executor uses :class:`greenpool.dask._bridge.BridgeLink` instead, with the
same methods.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from greenpool import _exit, _native, _parking
from greenpool._workitem import WorkItem, hold, take_call
from greenpool.dask._connect import connect
from greenpool.dask._owner import FutureOwner, stopped_error
from greenpool.dask._remote import run_call
from greenpool.dask._session import Call, Session


class InlineOffload(concurrent.futures.Executor):
    """Runs what ``distributed`` offloads in the thread that offloads it (its event loop's).

    ``distributed`` hands some work to a thread pool of its own (reading a
    large message, 10 MiB by default; the scheduler's reading of a new
    graph), a stdlib ``ThreadPoolExecutor``. Python stops every such pool as
    the interpreter begins to exit, before any exit hook runs, and the pool
    then refuses work: at exit, a started call whose result was that large
    failed (``cannot schedule new futures after shutdown``), and so did every
    call handed over then to a scheduler in this process (a ``LocalCluster``
    made here), such as those ``max_in_flight`` held back (measured). See
    :func:`offload_inline_at_exit`.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future


def _offload_inline() -> None:
    from distributed import utils

    if isinstance(getattr(utils, "_offload_executor", None), concurrent.futures.Executor):
        setattr(utils, "_offload_executor", InlineOffload())  # noqa: B010 (typed a ThreadPoolExecutor)


_offloading_inline_at_exit = False


def offload_inline_at_exit() -> None:
    """Have ``distributed`` offload to an :class:`InlineOffload` once the interpreter exits.

    The swap is made by an exit hook of :mod:`threading`'s, registered here
    after ``distributed`` has been imported: those run last registered
    first, so it comes before the one that stops the stdlib's thread pools,
    and ``distributed`` never finds its pool stopped while the exit hook
    (:mod:`greenpool._exit`) waits for the calls. Where ``threading`` has
    no such hook (a private function, there since Python 3.9), or
    ``distributed`` no such pool, nothing is changed.
    """
    global _offloading_inline_at_exit
    register = getattr(threading, "_register_atexit", None)
    if _offloading_inline_at_exit or register is None:
        return
    try:
        register(_offload_inline)
    except RuntimeError:  # The interpreter is exiting already: too late for the swap.
        return
    _offloading_inline_at_exit = True


class LocalLink:
    """The client, its session and what the executor owns of them, in this process."""

    def __init__(
        self,
        client_or_address: Any,
        name: str,
        max_in_flight: int | None,
        on_threads: Callable[[int], None],
    ) -> None:
        client, cluster, owned = connect(client_or_address)
        offload_inline_at_exit()
        self.client = client
        self._cluster = cluster
        self._owned = owned
        self._name = name
        #: Set once no call is left, then once what is ours is closed.
        self.drained = self.closed = False
        self._closed_lot = _parking.ParkingLot()
        #: Set when no thread was started to close (see _drained): the first joiner closes.
        self._joiner_closes = False
        self._close_guard = _native.allocate_lock()  # Taken by the one that closes.
        try:
            on_threads(sum(client.nthreads().values()))
            self._session = Session(client, name, max_in_flight, on_threads, FutureOwner())
        except BaseException:
            self._close_client()
            raise

    @property
    def max_in_flight(self) -> int | None:
        return self._session.max_in_flight

    def accept(self, item: WorkItem) -> None:
        """Take an accepted call (under the executor's submit lock: no system call)."""
        if self.client.status in ("closing", "closed"):
            raise RuntimeError(f"the dask client is {self.client.status}")
        session = self._session
        if session.stopping:  # It may have drained and closed already.
            raise stopped_error()
        fn, args, kwargs = take_call(item)
        key = session.new_key(getattr(fn, "__name__", "call"))
        call = Call(key, (run_call, (fn, args, kwargs)), item)
        hold(item, lambda _item: session.may_cancel(call))
        session.accept(call)

    def flush(self) -> None:
        """Outside the submit lock: wake the loop for what was accepted."""
        self._session.wake()

    def take_unstarted(self) -> list[WorkItem]:
        return [call.item for call in self._session.take_unstarted() if call.item is not None]

    def stop(self, close: bool = True) -> None:
        """No more calls: close once the last has ended (in a thread: closing waits on the loop).

        With ``close`` false (interpreter exit), only say when the last has
        ended (:meth:`join_drained`); :meth:`close_now` closes.

        A client closed under the executor (the caller's, closed before the
        program returned) would never report the drain, and :meth:`join`, at
        interpreter exit too, would wait for ever: the calls left are ended
        with an error instead (see :meth:`Session.abandon`).
        """
        session = self._session
        if session.stopping:
            return
        if session.loop_stopped():
            session.abandon(RuntimeError("the dask client's event loop has stopped"))
            self._set_closed()
            return
        if self.client.status == "closed":
            session.stopping = True
            error = RuntimeError("the dask client was closed")

            def abandon() -> None:  # On the loop, which owns the calls.
                session.abandon(error)
                self._set_closed()

            session.loop.add_callback(abandon)
            return
        session.stop(self._drained if close else self._set_drained)

    def _set_drained(self) -> None:
        self.drained = True
        self._closed_lot.unpark_all()

    def _drained(self) -> None:
        """On the loop, once no call is left: close, in a thread of its own.

        Not once the exit hook has begun: then whoever joins closes, the
        hook's dask phase at the latest, which closes every link after all
        have drained, since another executor's calls may still run on this
        client (an executor collected when ``main()`` returned was stopped
        then, and drains during the hook). Nor where no thread can be
        started: Python 3.12 starts none once the interpreter is finalizing,
        as in an exit hook (gh-109047).
        """
        self._set_drained()
        if not _exit.finishing:
            try:
                thread = threading.Thread(
                    target=self._close, name=f"{self._name}-close", daemon=True
                )
                thread.start()
                return
            except RuntimeError:
                pass
        self._joiner_closes = True
        self._closed_lot.unpark_all()

    def join(self) -> None:
        if self._session.in_loop_thread():
            return  # shutdown() from a done callback: the loop cannot wait for itself.
        self._closed_lot.park_until(lambda: self.closed or self._joiner_closes)
        self.close_now()

    def join_drained(self) -> None:
        """Wait until no call is left (at interpreter exit, after ``stop(close=False)``)."""
        self._closed_lot.park_until(lambda: self.drained or self.closed)

    def close_now(self) -> None:
        """Close now, in this thread, unless closed or being closed; wait until closed.

        At interpreter exit, once every link has drained; and for :meth:`join`.
        """
        self._close()
        self._closed_lot.park_until(lambda: self.closed)

    def _close(self) -> None:
        """Close what is ours, once: whoever comes second returns at once."""
        if self.closed or not self._close_guard.acquire(blocking=False):
            return
        try:
            try:
                self._session.close()
            except Exception:  # The client went first.
                pass
            self._close_client()
        finally:
            self._set_closed()  # Whatever happened: nobody must wait for ever.

    def _set_closed(self) -> None:
        self.drained = self.closed = True
        self._closed_lot.unpark_all()

    def _close_client(self) -> None:
        if self._owned:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()
