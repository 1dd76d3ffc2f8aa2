"""Session: the executor's side of one dask client, run on the client's event loop.

:class:`~greenpool.DaskExecutor` accepts calls as every executor does (the
base's submit lock, rejection and counts) and leaves each one here, in
:attr:`Session.waiting`; a submitter wakes the loop at most once for a run
of calls. Everything else happens on the loop thread, so nothing here
needs a lock of its own:

* :meth:`Session._dispatch` hands waiting calls to the scheduler
  (``Client.submit`` of :func:`~greenpool.dask._remote.run_call`, with a key
  of our own), at most ``max_in_flight`` at once, and watches each dask
  future for what only dask can tell (a worker lost for good, a cancel);
* :meth:`Session._on_event` hears each call's start and end from its worker,
  through a topic of dask's event broker, and resolves the call's future
  from them: its wait ends at the start on the worker, its run time is the
  worker's measure, and a small outcome comes in the event itself, without
  the round trip to the worker that gathering a result costs;
* every :data:`REFRESH_SECONDS` the cluster's worker threads are counted
  again (``max_workers`` changes as workers join and leave).

A call is pending, and its ``cancel()`` goes ahead (withdrawing it from the
scheduler), until its start event arrives. A worker that started it in the
milliseconds before the cancel reached the cluster still runs it; the
future stays cancelled and its outcome is dropped, as with dask's own
``Future.cancel``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from greenpool.dask import _remote
from greenpool.dask._owner import Tracked, dask_error, submit_error

#: How often the cluster's worker threads are counted again, in seconds.
REFRESH_SECONDS = 0.2


def _closed_client(status: str) -> Callable[..., Any]:
    """What :meth:`Session._dispatch` calls for ``Client.submit`` once the client has closed."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"the dask client is {status}")

    return refuse


class Call(Tracked):
    """One accepted call on its way through the cluster."""

    __slots__ = ("dask_future", "ident", "key", "task", "watcher")

    def __init__(
        self,
        key: str,
        task: tuple[Callable[..., Any], tuple[Any, ...]],
        item: Any = None,
        ident: int = 0,
    ) -> None:
        super().__init__(item)
        self.key = key
        #: What the worker runs: ``(function, arguments)``, given the topic and key first.
        self.task: tuple[Callable[..., Any], tuple[Any, ...]] | None = task
        #: The parent's number for the call, when the session runs in a helper process.
        self.ident = ident
        self.dask_future: Any = None
        #: The task that watches the dask future (asyncio keeps only weak references).
        self.watcher: asyncio.Task[None] | None = None


class Owner(Protocol):
    """Who hears how each call goes (see :mod:`greenpool.dask._owner`); called on the loop."""

    def started(self, call: Any, wall_time: float) -> None: ...
    def ended(self, call: Any, runtime: float, outcome: bytes) -> None: ...
    def failed(self, call: Any, error: BaseException) -> None: ...
    def refused(self, call: Any, error: BaseException) -> None: ...


class Session:
    """The calls of one executor on one client, and the client's loop that moves them."""

    def __init__(
        self,
        client: Any,
        name: str,
        max_in_flight: int | None,
        on_threads: Callable[[int], None],
        owner: Owner,
    ) -> None:
        self.client = client
        self._owner = owner
        self.loop = client.loop
        #: At most this many calls handed to the scheduler at once; None: no bound.
        self.max_in_flight = max_in_flight
        self._on_threads = on_threads
        token = uuid.uuid4().hex
        self.topic = f"greenpool-{name}-{token}"
        self._numbers = itertools.count(1)
        self._token = token
        #: Accepted calls not handed to the scheduler yet, in order (submitters append).
        self.waiting: collections.deque[Call] = collections.deque()
        #: Calls handed to the scheduler, by key; the loop's alone.
        self.handed: dict[str, Call] = {}
        self._wake_pending = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._loop_thread: int | None = None
        self._refresher: Any = None
        self.stopping = False
        self._on_drained: Callable[[], None] | None = None
        # The loop thread's identity, and the subscription, set up on the loop itself.
        client.sync(self._open)

    async def _open(self) -> None:
        import threading

        from tornado.ioloop import PeriodicCallback

        self._loop_thread = threading.get_ident()
        self.client.subscribe_topic(self.topic, self._on_event)
        self._refresher = PeriodicCallback(self._refresh, REFRESH_SECONDS * 1000)
        self._refresher.start()

    def in_loop_thread(self) -> bool:
        import threading

        return threading.get_ident() == self._loop_thread

    # -- calls in (any thread) -------------------------------------------

    def new_key(self, name: str) -> str:
        """A key of this session's for a call of ``name``: unique on any scheduler."""
        return f"{name}-{self._token}-{next(self._numbers)}"

    def accept(self, call: Call) -> None:
        """Keep an accepted call to hand over (a submitter's; under its submit lock)."""
        self.waiting.append(call)

    def wake(self) -> None:
        """Have the loop hand over what waits; at most one wake-up is pending at a time."""
        if not self._wake_pending:
            self._wake_pending = True
            self.loop.add_callback(self._dispatch)

    def may_cancel(self, call: Call) -> bool:
        """Whether the call may still be cancelled; if so, withdraw it from the cluster.

        Called from any thread (in this process, as the future's holder, under
        its state lock); a call whose start has been heard cannot be.
        """
        if call.started:
            return False
        call.cancelled = True
        if call.dask_future is not None:
            self.loop.add_callback(self._withdraw, call)
        return True

    def take_unstarted(self) -> list[Call]:
        """Every call not started on the cluster (for ``shutdown(cancel_futures=True)``)."""
        calls = []
        while self.waiting:
            try:
                calls.append(self.waiting.popleft())
            except IndexError:  # The loop took the last one meanwhile.
                break
        calls.extend(call for call in list(self.handed.values()) if not call.started)
        return calls

    def stop(self, on_drained: Callable[[], None]) -> None:
        """No more calls will come: call ``on_drained`` (on the loop) once none is left."""
        self._on_drained = on_drained
        self.stopping = True
        self.loop.add_callback(self._check_drained)

    def loop_stopped(self) -> bool:
        """Whether the client's loop has stopped: the client (and the cluster whose loop it
        shared) was closed under the executor, and no callback given to it will ever run."""
        asyncio_loop = getattr(self.loop, "asyncio_loop", None)
        return asyncio_loop is not None and not asyncio_loop.is_running()

    def abandon(self, error: BaseException) -> None:
        """End every call left with ``error``: the client was closed under the executor.

        On the loop; or, once :meth:`loop_stopped`, from any thread, since
        nothing else touches the calls then. Nothing could ever resolve
        them: those not handed over are refused, the others failed.
        """
        self.stopping = True
        while self.waiting:
            try:
                call = self.waiting.popleft()
            except IndexError:
                break
            self._owner.refused(call, error)
        for call in list(self.handed.values()):
            self.handed.pop(call.key, None)
            call.dask_future = None
            self._owner.failed(call, error)

    def close(self) -> None:
        """Stop listening to the cluster; from any thread but the loop's."""
        self.client.sync(self._close)

    async def _close(self) -> None:
        if self._refresher is not None:
            self._refresher.stop()
        try:
            self.client.unsubscribe_topic(self.topic)
        except Exception:  # The client has gone already.
            pass

    # -- on the loop -------------------------------------------------------

    def _dispatch(self) -> None:
        self._wake_pending = False
        waiting = self.waiting
        handed = self.handed
        limit = self.max_in_flight
        submit = self.client.submit
        topic = self.topic
        if self.client.status in ("closing", "closed"):
            # Closed under the executor (by whoever owns it, when another executor
            # shares it): a call handed to it now would never be heard of again,
            # and the executor would never drain. Its handed calls fail on their own.
            limit = None
            submit = _closed_client(self.client.status)
        while waiting and (limit is None or len(handed) < limit):
            try:
                call = waiting.popleft()
            except IndexError:  # shutdown's take_unstarted took it.
                break
            task, call.task = call.task, None
            if call.cancelled or task is None:
                continue
            remote, arguments = task
            del task
            try:
                dask_future = submit(remote, topic, call.key, *arguments, key=call.key, pure=False)
            except BaseException as exc:
                self._owner.refused(call, submit_error(exc))
                del exc
                continue
            del arguments
            call.dask_future = dask_future
            handed[call.key] = call
            call.watcher = asyncio.ensure_future(self._watch(call))
            if call.cancelled:  # Cancelled while being handed over.
                self._withdraw(call)
        self._check_drained()

    def _withdraw(self, call: Call) -> None:
        dask_future = call.dask_future
        if dask_future is not None and self.handed.get(call.key) is call:
            self._keep(self.client.cancel([dask_future], asynchronous=True))

    def _keep(self, awaitable: Any) -> None:
        """Run ``awaitable`` on the loop, holding it until done (asyncio holds tasks weakly)."""
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, event: tuple[float, Any]) -> None:
        message = event[1]
        kind = message[0]
        call = self.handed.get(message[1])
        if call is None:
            return  # Resolved already (a retry's events, or a cancel's).
        if kind == _remote.STARTED:
            if not call.started:
                call.started = True
                self._owner.started(call, message[2])
            return
        if kind == _remote.ENDED:
            self._forget(call)
            self._owner.ended(call, message[2], message[3])
        else:  # READY: the outcome is the task's result, too big for an event.
            self._keep(self._fetch(call, message[2]))

    async def _fetch(self, call: Call, runtime: float) -> None:
        try:
            (outcome,) = await self.client.gather([call.dask_future], asynchronous=True)
        except BaseException as exc:
            self._forget(call)
            self._owner.failed(call, exc)
            del exc
            return
        self._forget(call)
        self._owner.ended(call, runtime, outcome)

    async def _watch(self, call: Call) -> None:
        """What only dask can tell: it gave up on the call, or cancelled or lost it."""
        dask_future = call.dask_future
        await dask_future._state.wait()
        if self.handed.get(call.key) is not call or dask_future.status == "finished":
            return  # Resolved from its events, or its end event (or READY fetch) is on its way.
        try:
            error = dask_error(dask_future._state)
        except BaseException as exc:  # Never leave the call unresolved.
            error = exc
        self._forget(call)
        self._owner.failed(call, error)
        del error

    def _forget(self, call: Call) -> None:
        self.handed.pop(call.key, None)
        call.dask_future = None  # Releases the key on the cluster.
        if self.waiting:
            self.wake()
        else:
            self._check_drained()

    def _check_drained(self) -> None:
        if self.stopping and not self.waiting and not self.handed:
            on_drained, self._on_drained = self._on_drained, None
            if on_drained is not None:
                on_drained()

    async def _refresh(self) -> None:
        try:
            threads = await self.client.scheduler.ncores_running()
        except Exception:  # The scheduler has gone; the watchers fail the calls.
            return
        self._on_threads(sum(threads.values()))
