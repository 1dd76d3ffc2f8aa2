"""BridgeLink: a DaskExecutor's client in a helper process, for a monkey-patched process.

``distributed`` cannot run in a process eventlet has monkey patched: its
client's asyncio loop runs in a native thread, on sockets, selectors and
locks that patching turns green (measured: a ``LocalCluster`` comes back
unstarted, ``result()`` returns a coroutine never awaited). So under
patching the executor starts a helper, a fresh unpatched interpreter
(``python -m greenpool.dask._helper``), which holds the client and runs the
same :class:`~greenpool.dask._session.Session` a process without patching
runs; the two talk over a pair of pipes (:mod:`greenpool.dask._frames`).

This process pickles each call once (with cloudpickle, as dask would) and
the bytes go through the helper and the scheduler untouched, to be
unpickled on the worker (:func:`~greenpool.dask._remote.run_pickled_call`).
The helper sends back what its session hears, each call's start and end,
outcome bytes as the worker made them, and the cluster's thread count; a
real OS thread here reads it and applies it to the calls' futures with the
same :class:`~greenpool.dask._owner.FutureOwner` as in-process, so
statistics, cancellation and errors mean the same on both paths.

Messages, this process to the helper: ``("open", address, name,
max_in_flight, sys_path)``, ``("C", ident, name, pickled call)``, ``("X",
ident)`` (cancel), ``("Q",)`` (stop once drained). The helper back:
``("ready", threads)`` or ``("error", error)``, ``("T", threads)``, ``("S",
ident, wall time)``, ``("E", ident, run time, outcome)``, ``("F", ident,
error)`` (dask ended it), ``("R", ident, error)`` (never reached the
cluster), ``("D",)`` (closed). Errors travel encoded with their traceback
text (:func:`greenpool.process._wire.encode_error`).

If the helper dies, every call it held fails with
:class:`~greenpool.WorkerLostError` and the executor takes no more calls.
"""

from __future__ import annotations

import collections
import itertools
import sys
from collections.abc import Callable
from typing import Any

from greenpool import _native, _parking
from greenpool._workitem import WorkItem, hold, take_call
from greenpool.dask import _frames
from greenpool.dask._owner import FutureOwner, Tracked, stopped_error
from greenpool.process._errors import WorkerLostError
from greenpool.process._handle import how_it_ended
from greenpool.process._wire import decode_error

#: How long a helper may take to connect (or start its LocalCluster).
OPEN_SECONDS = 120.0


class BridgeLink:
    """The helper process, and the calls this process has sent it."""

    client = None  # The client lives in the helper.

    def __init__(
        self,
        client_or_address: Any,
        name: str,
        max_in_flight: int | None,
        on_threads: Callable[[int], None],
    ) -> None:
        if client_or_address is not None and not isinstance(client_or_address, str):
            raise TypeError(
                "under eventlet monkey patching DaskExecutor takes a scheduler address or None: "
                "a distributed.Client cannot work in a monkey-patched process, so the client "
                f"is made in a helper process (got {type(client_or_address).__name__})"
            )
        self._name = name
        self.max_in_flight = max_in_flight
        self._on_threads = on_threads
        self._owner = FutureOwner()
        self._records: dict[int, Tracked] = {}
        self._outbox: collections.deque[tuple[int, Tracked]] = collections.deque()
        self._idents = itertools.count(1)
        self._write_lock = _native.allocate_lock()
        self._lot = _parking.ParkingLot()
        self._opened = False
        self._open_error: BaseException | None = None
        self.stopping = False
        self.closed = False
        #: Set once the helper has gone: calls are refused with it.
        self.broken: WorkerLostError | None = None

        os = _native.original("os")
        subprocess = _native.original("subprocess")
        commands_in, self._commands = os.pipe()
        self._answers, answers_out = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "greenpool.dask._helper",
                    str(commands_in),
                    str(answers_out),
                ],
                pass_fds=(commands_in, answers_out),
            )
        finally:
            os.close(commands_in)
            os.close(answers_out)
        self._send(("open", client_or_address, name, max_in_flight, list(sys.path)))
        self._reader = _native.threading_module().Thread(
            target=self._read, name=f"{name}-bridge", daemon=True
        )
        self._reader.start()
        opened = self._lot.park_until(
            lambda: self._opened or self._open_error is not None or self.closed, OPEN_SECONDS
        )
        if not self._opened:
            self._process.kill()
            if self._open_error is not None:
                raise self._open_error
            raise RuntimeError(
                "the dask helper process did not connect"
                + ("" if opened else f" within {OPEN_SECONDS:g} s")
            )

    # -- calls out (any thread) --------------------------------------------

    def accept(self, item: WorkItem) -> None:
        """Take an accepted call (under the executor's submit lock: no system call)."""
        if self.broken is not None:
            raise WorkerLostError(str(self.broken))
        if self.stopping:  # The helper may have drained and closed already.
            raise stopped_error()
        ident = next(self._idents)
        tracked = Tracked(item)
        self._records[ident] = tracked
        hold(item, lambda _item: self._may_cancel(ident, tracked))
        self._outbox.append((ident, tracked))

    def flush(self) -> None:
        """Pickle and send what was accepted, in order, outside the submit lock."""
        import cloudpickle  # type: ignore[import-untyped]

        frames = []
        unpicklable = []
        with self._write_lock:
            outbox = self._outbox
            while outbox:
                try:
                    ident, tracked = outbox.popleft()
                except IndexError:  # Another submitter's flush took it.
                    break
                assert tracked.item is not None
                fn, args, kwargs = take_call(tracked.item)
                if fn is None:
                    continue  # Cancelled meanwhile.
                try:
                    payload = cloudpickle.dumps((fn, args, kwargs))
                except BaseException as exc:
                    unpicklable.append((ident, tracked, exc))
                    continue
                name = getattr(fn, "__name__", "call")
                frames.append(_frames.encode(("C", ident, name, payload)))
            if frames:
                self._write_locked(b"".join(frames))
        # Outside the write lock: failing a future takes its state lock, which a
        # cancel holds while it waits for the write lock.
        for ident, tracked, cause in unpicklable:
            self._records.pop(ident, None)
            error = TypeError(f"the call cannot be pickled for the dask cluster: {cause}")
            error.__cause__ = cause
            self._owner.refused(tracked, error)

    def _may_cancel(self, ident: int, tracked: Tracked) -> bool:
        """The future's holder, under its state lock: cancel unless its start was heard."""
        if tracked.started:
            return False
        tracked.cancelled = True
        self._records.pop(ident, None)
        self._send(("X", ident))
        return True

    def take_unstarted(self) -> list[WorkItem]:
        return [
            tracked.item
            for tracked in list(self._records.values())
            if not tracked.started and tracked.item is not None
        ]

    def stop(self, close: bool = True) -> None:
        """No more calls: the helper closes once the last has ended, then exits.

        ``close`` is :class:`~greenpool.dask._local.LocalLink`'s: a helper's
        client is its own, shared with no other executor.
        """
        if not self.stopping:
            self.stopping = True
            self._send(("Q",))

    def join(self) -> None:
        if _native.get_ident() == self._reader.ident:
            return  # shutdown() from a done callback: the reader cannot wait for itself.
        self._lot.park_until(lambda: self.closed)

    def close_now(self) -> None:
        """Nothing to do: the helper closes its client before it ends, which :meth:`join`
        waits for (see :func:`greenpool.dask._executor._finish_at_exit`)."""

    def join_drained(self) -> None:
        """At interpreter exit: as :meth:`join` (the helper drains, closes, then ends)."""
        self.join()

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._write_lock:
            self._write_locked(_frames.encode(message))

    def _write_locked(self, data: bytes) -> None:
        try:
            _frames.write_all(self._commands, data)
        except OSError:  # The helper has gone; the reader fails what it held.
            pass

    def _close_commands(self) -> None:
        with self._write_lock:
            if self._commands >= 0:
                _native.original("os").close(self._commands)
                self._commands = -1

    # -- answers in (the reader thread) ------------------------------------

    def _read(self) -> None:
        records = self._records
        owner = self._owner
        try:
            for message in _frames.read_messages(self._answers):
                kind = message[0]
                if kind == "S":
                    tracked = records.get(message[1])
                    if tracked is not None:
                        owner.started(tracked, message[2])
                elif kind == "E":
                    tracked = records.pop(message[1], None)
                    if tracked is not None:
                        owner.ended(tracked, message[2], message[3])
                elif kind == "T":
                    self._on_threads(message[1])
                elif kind == "F" or kind == "R":
                    tracked = records.pop(message[1], None)
                    if tracked is not None:
                        error = decode_error(message[2])
                        if kind == "F":
                            owner.failed(tracked, error)
                        else:
                            owner.refused(tracked, error)
                        del error
                elif kind == "ready":
                    self._on_threads(message[1])
                    self._opened = True
                    self._lot.unpark_all()
                elif kind == "error":
                    self._open_error = decode_error(message[1])
                    self._lot.unpark_all()
                elif kind == "D":  # Closed: our end of its commands goes, and with it the helper.
                    self._close_commands()
        finally:
            self._ended()

    def _ended(self) -> None:
        """The helper has closed its end: reap it, fail what it held, wake the joiners."""
        exitcode = self._process.wait()
        _native.original("os").close(self._answers)
        self._close_commands()
        how = how_it_ended(exitcode)
        self.broken = WorkerLostError(
            f"the dask helper process {self._process.pid} ended ({how}); "
            "the executor takes no more calls"
        )
        while self._records:
            _ident, tracked = self._records.popitem()
            if tracked.started:
                self._owner.failed(tracked, self.broken)
            else:
                self._owner.refused(tracked, self.broken)
        self.closed = True
        self._lot.unpark_all()
