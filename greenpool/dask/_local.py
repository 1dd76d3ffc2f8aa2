"""LocalLink: a DaskExecutor's client in its own process (no monkey patching).

The executor hands each accepted call to its link; this one keeps the
``distributed.Client`` here and a :class:`~greenpool.dask._session.Session`
on its event loop, whose :class:`~greenpool.dask._owner.FutureOwner`
resolves the calls' futures on that loop. Under monkey patching the
executor uses :class:`greenpool.dask._bridge.BridgeLink` instead, with the
same methods.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from greenpool import _parking
from greenpool._workitem import WorkItem, hold, take_call
from greenpool.dask._connect import connect
from greenpool.dask._owner import FutureOwner
from greenpool.dask._remote import run_call
from greenpool.dask._session import Call, Session


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
        self.client = client
        self._cluster = cluster
        self._owned = owned
        self._name = name
        self.closed = False
        self._closed_lot = _parking.ParkingLot()
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

    def stop(self) -> None:
        """No more calls: close once the last has ended (in a thread: closing waits on the loop)."""
        if self._session.stopping:
            return
        self._session.stop(
            lambda: threading.Thread(
                target=self._close, name=f"{self._name}-close", daemon=True
            ).start()
        )

    def join(self) -> None:
        if self._session.in_loop_thread():
            return  # shutdown() from a done callback: the loop cannot wait for itself.
        self._closed_lot.park_until(lambda: self.closed)

    def _close(self) -> None:
        try:
            self._session.close()
        except Exception:  # The client went first.
            pass
        self._close_client()
        self.closed = True
        self._closed_lot.unpark_all()

    def _close_client(self) -> None:
        if self._owned:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()
