"""DaskExecutor: greenpool's executor API, statistics and backpressure on a dask cluster.

The executor base (:mod:`greenpool._executor`) owns submission, rejection,
statistics and shutdown, as for every backend; this class connects to the
cluster and leaves each accepted call to its
:class:`~greenpool.dask._session.Session`, which moves calls on the dask
client's event loop.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

from greenpool import _parking
from greenpool._executor import CheckAndReject, Executor
from greenpool._workitem import WorkItem
from greenpool.dask._session import Session

#: The modules whose patching breaks ``distributed`` (its event loop runs in a
#: native thread on real sockets, selectors and locks).
_BREAKING_PATCHES = ("socket", "select", "thread", "time")


def refuse_if_monkey_patched() -> None:
    """Raise ``RuntimeError`` if eventlet has patched what ``distributed`` needs."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None:
        return
    patched = [name for name in _BREAKING_PATCHES if patcher.is_monkey_patched(name)]
    if patched:
        raise RuntimeError(
            "DaskExecutor cannot work in a process that eventlet has monkey patched "
            f"({', '.join(patched)}): dask.distributed runs its client on an asyncio loop "
            "in a native thread, which patched modules break (a LocalCluster never starts, "
            "results come back as coroutines never awaited). Run the dask work from a "
            "process that is not monkey patched, or hand it to one through a "
            "ProcessPoolExecutor."
        )


def _connect(client_or_address: Any) -> tuple[Any, Any, bool]:
    """The client to drive, the cluster to close with it (if ours), and whether it is ours."""
    import distributed

    Client: Any = distributed.Client
    LocalCluster: Any = distributed.LocalCluster

    if client_or_address is None:
        cluster = LocalCluster(host="127.0.0.1", dashboard_address=None)
        try:
            return Client(cluster), cluster, True
        except BaseException:
            cluster.close()
            raise
    if isinstance(client_or_address, str):
        return Client(client_or_address), None, True
    if isinstance(client_or_address, Client):
        if client_or_address.asynchronous:
            raise ValueError("DaskExecutor needs a synchronous distributed.Client")
        if client_or_address.status not in ("running", "connecting", "newly-created"):
            raise ValueError(f"the dask client is {client_or_address.status}, not running")
        return client_or_address, None, False
    raise TypeError(
        "client_or_address must be a distributed.Client, a scheduler address or None, "
        f"not {type(client_or_address).__name__}"
    )


class DaskExecutor(Executor):
    """Runs calls on a dask cluster, with greenpool's futures, statistics and backpressure.

    ``client_or_address``: a ``distributed.Client`` to drive (left open at
    shutdown), a scheduler address to connect to, or ``None`` for a
    ``LocalCluster`` on 127.0.0.1 without a dashboard; those two are closed
    at shutdown. ``max_in_flight`` bounds the calls handed to the scheduler
    at once (``None``: no bound); the rest wait here, where a cancel is
    exact and cheap. ``check_and_reject`` and ``name`` as for every executor.

    ``max_workers`` is the cluster's worker threads, counted again every
    0.2 s as workers join and leave (0 while it has none). A call counts as
    running from its worker's start event; its wait time ends at the start
    on the worker (that worker's clock, kept between acceptance and now) and
    its run time is measured there. A worker lost mid-call: dask runs the
    call again elsewhere, up to ``distributed.scheduler.allowed-failures``
    times; when it gives up the future fails with
    :class:`greenpool.WorkerLostError`. Exceptions come back with the
    worker's traceback as their ``__cause__``. Done callbacks run on the
    dask client's event loop: they must be quick and must not wait for
    another call. Refused in a process eventlet has monkey patched (see
    :func:`refuse_if_monkey_patched`).
    """

    map_batches = True  # Each call crosses to a worker through the scheduler.

    def __init__(
        self,
        client_or_address: Any = None,
        *,
        max_in_flight: int | None = None,
        check_and_reject: CheckAndReject | None = None,
        name: str | None = None,
    ) -> None:
        refuse_if_monkey_patched()
        if max_in_flight is not None and (
            isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int)
        ):
            raise TypeError(f"max_in_flight must be an int or None, got {max_in_flight!r}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        # The base checks check_and_reject and name before anything is started.
        super().__init__(1, check_and_reject, name=name)
        client, cluster, owned = _connect(client_or_address)
        self._client = client
        self._cluster = cluster
        self._owns_client = owned
        self._closed = False
        self._closed_lot = _parking.ParkingLot()
        this = weakref.ref(self)

        def on_threads(threads: int) -> None:
            executor = this()
            if executor is not None:
                executor._max_workers = executor._concurrency = threads

        try:
            on_threads(sum(client.nthreads().values()))
            self._session = Session(client, self._name, max_in_flight, on_threads)
        except BaseException:
            self._close_client()
            raise
        # Collected without shutdown(): finish what was accepted, then close what is ours.
        finalizer = weakref.finalize(self, _stop_collected, self._session, client, cluster, owned)
        finalizer.atexit = False  # At exit distributed closes its clients itself.

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` this executor drives."""
        return self._client

    @property
    def max_in_flight(self) -> int | None:
        return self._session._max_in_flight

    @property
    def num_workers(self) -> int:
        """The cluster's worker threads (each runs one call at a time)."""
        return self._max_workers

    @property
    def idle_workers(self) -> int:
        """Worker threads not running one of this executor's calls (others may use them)."""
        gatherer = self._gatherer
        running = gatherer.outstanding - gatherer.pending
        return max(0, self._max_workers - running)

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} cannot be pickled: it drives this process's client")

    # -- backend hooks ---------------------------------------------------

    def _start(self, item: WorkItem) -> bool:
        if self._client.status in ("closing", "closed"):
            raise RuntimeError(f"the dask client is {self._client.status}")
        self._session.accept(item)
        return True

    def _after_start(self, item: WorkItem) -> None:
        self._session.wake()

    def _take_pending(self) -> list[WorkItem]:
        return self._session.take_unstarted()

    def _stop_workers(self) -> None:
        # Once the last call has ended (on the loop), close in a thread of its own:
        # closing waits on the loop.
        self._session.stop(
            lambda: threading.Thread(
                target=self._close, name=f"{self._name}-close", daemon=True
            ).start()
        )

    def _join_workers(self) -> None:
        if self._session.in_loop_thread():
            return  # shutdown() from a done callback: the loop cannot wait for itself.
        self._closed_lot.park_until(lambda: self._closed)

    def _close(self) -> None:
        try:
            self._session.close()
        except Exception:  # The client went first.
            pass
        self._close_client()
        self._closed = True
        self._closed_lot.unpark_all()

    def _close_client(self) -> None:
        if self._owns_client:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()


def _stop_collected(session: Session, client: Any, cluster: Any, owned: bool) -> None:
    def close() -> None:
        try:
            session.close()
        finally:
            if owned:
                client.close()
                if cluster is not None:
                    cluster.close()

    if owned and not session.stopping:
        session.stop(lambda: threading.Thread(target=close, daemon=True).start())
