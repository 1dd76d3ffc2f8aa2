"""DaskExecutor: greenpool's executor API, statistics and backpressure on a dask cluster.

The executor base (:mod:`greenpool._executor`) owns submission, rejection,
statistics and shutdown, as for every backend; this class hands each
accepted call to its link to the cluster: a
:class:`~greenpool.dask._local.LocalLink` holding the client in this
process, or, in a process eventlet has monkey patched (where
``distributed`` cannot work), a :class:`~greenpool.dask._bridge.BridgeLink`
to a helper process that holds it.

At interpreter exit every link not yet closed is stopped and waited for,
in the exit hook's dask phase (:mod:`greenpool._exit`, after the green
executors and the thread pools, whose calls may wait for a dask call):
calls started on a worker finish with their results, queued ones run, and
then what the executor made (client and ``LocalCluster``, or helper
process) is closed; a call submitted once its link has stopped is refused
with ``RuntimeError``. The links are what is kept, so that the calls of an
executor collected without ``shutdown()`` (a local of ``main()``) are
waited for too. Each new executor registers the exit hook again, after its
link has imported ``distributed``, so that it runs before ``distributed``'s
own hooks, which close every client and cluster and so cancel the calls
still running. Without this, every such call failed with ``the dask
cluster ended this call: cancelled``; under monkey patching the main
process exited at once, its started calls' results were lost, and the
helper printed ``BrokenPipeError`` tracebacks and lingered (see
:mod:`greenpool.dask._helper`).
"""

from __future__ import annotations

import weakref
from typing import Any

from greenpool import _exit
from greenpool._executor import CheckAndReject, Executor
from greenpool._workitem import WorkItem
from greenpool.dask._bridge import BridgeLink
from greenpool.dask._connect import monkey_patched
from greenpool.dask._local import LocalLink


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
    another call.

    In a process eventlet has monkey patched, where ``distributed`` cannot
    work, the client runs in a helper process (an unpatched interpreter this
    executor starts and stops; see :mod:`greenpool.dask._bridge`): the same
    calls, futures and statistics, ``client_or_address`` an address or
    ``None`` only, and :attr:`client` ``None``.
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
        if max_in_flight is not None and (
            isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int)
        ):
            raise TypeError(f"max_in_flight must be an int or None, got {max_in_flight!r}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        # The base checks check_and_reject and name before anything is started.
        super().__init__(1, check_and_reject, name=name)
        this = weakref.ref(self)

        def on_threads(threads: int) -> None:
            executor = this()
            if executor is not None:
                executor._max_workers = executor._concurrency = threads

        link_class = BridgeLink if monkey_patched() else LocalLink
        self._link: LocalLink | BridgeLink = link_class(
            client_or_address, self._name, max_in_flight, on_threads
        )
        # Collected without shutdown(): finish what was accepted, then close what is ours.
        weakref.finalize(self, self._link.stop).atexit = False
        # At exit: the same, waited for (see the module). The link is kept, not
        # the executor: one collected without shutdown() still has calls to
        # finish. at_exit registers the hook again, after distributed's import.
        _links.add(self._link)
        _exit.at_exit(_exit.DASK, _finish_at_exit)

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` this executor drives; ``None`` under monkey patching,
        where the client lives in a helper process."""
        return self._link.client

    @property
    def max_in_flight(self) -> int | None:
        return self._link.max_in_flight

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
        self._link.accept(item)
        return True

    def _after_start(self, item: WorkItem) -> None:
        self._link.flush()

    def _take_pending(self) -> list[WorkItem]:
        return self._link.take_unstarted()

    def _stop_workers(self) -> None:
        self._link.stop()

    def _join_workers(self) -> None:
        self._link.join()


#: Every executor's link, held weakly (one that has closed may go), for interpreter exit.
_links: weakref.WeakSet[LocalLink | BridgeLink] = weakref.WeakSet()


def _finish_at_exit() -> None:
    """At interpreter exit: every link drains, then each closes what it owns (see the module).

    All drain before any closes: executors may share a client
    (``DaskExecutor(other.client)``), which the one that made it must not
    close while the other's calls still run. A link stopped before (by
    ``shutdown(wait=False)``, or its executor collected) closes on its own
    once drained; it is waited for too.
    """
    links = list(_links)
    for link in links:
        link.stop(close=False)
    for link in links:
        link.join_drained()
    for link in links:
        link.close_now()
