"""The helper process of a monkey-patched DaskExecutor: ``python -m greenpool.dask._helper IN OUT``.

A fresh interpreter, never monkey patched, that holds the
``distributed.Client`` and runs a :class:`~greenpool.dask._session.Session`
for the executor in the parent process, reading its commands from the pipe
``IN`` and writing back what the session hears to the pipe ``OUT``. The
messages are listed in :mod:`greenpool.dask._bridge`.

It never unpickles a call: the parent's bytes go to the worker as they are.
It takes ``sys.path`` from the parent first, so that the workers of a
``LocalCluster`` it starts can import what the parent can. It ignores
``SIGINT`` (a Ctrl-C reaches the whole process group; the parent decides
what happens), and when the parent goes away without stopping it, it
cancels what has not started, waits for the rest, closes and exits.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from greenpool.dask import _frames
from greenpool.dask._connect import connect
from greenpool.dask._remote import run_pickled_call
from greenpool.dask._session import Call, Session
from greenpool.process._wire import encode_error

#: How long the helper waits, once its parent has gone, for the calls started to end.
ORPHAN_SECONDS = 60.0


class Answers:
    """Messages to the parent, written once per turn of the loop rather than each at once."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._loop: Any = None
        #: Set once a write found the parent gone.
        self.parent_gone = False

    def send_now(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            data = b"".join([*self._pending, _frames.encode(message)])
            self._pending = []
            self._write_locked(data)

    def send(self, message: tuple[Any, ...]) -> None:
        """Queue ``message``; from the loop thread, which writes the queue at its next turn."""
        with self._lock:
            first = not self._pending
            self._pending.append(_frames.encode(message))
        if first:
            self._loop.add_callback(self.flush)

    def flush(self) -> None:
        with self._lock:
            data, self._pending = b"".join(self._pending), []
            if data:
                self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        """Write to the parent; once it has gone, drop what it can no longer read.

        The parent may exit, or be killed, while calls it sent still run here:
        each answer would then raise ``BrokenPipeError`` on the loop (measured:
        a traceback per answer, and the one from ``close`` kept the helper
        from ever exiting). The calls still finish and the client closes.
        """
        if self.parent_gone:
            return
        try:
            _frames.write_all(self._fd, data)
        except OSError:  # BrokenPipeError: nobody reads any more.
            self.parent_gone = True


class HelperOwner:
    """The session's owner here: each call's news goes to the parent (see the bridge)."""

    def __init__(self, answers: Answers, calls: dict[int, Call]) -> None:
        self._answers = answers
        self._calls = calls

    def started(self, call: Call, wall_time: float) -> None:
        self._answers.send(("S", call.ident, wall_time))

    def ended(self, call: Call, runtime: float, outcome: bytes) -> None:
        self._calls.pop(call.ident, None)
        self._answers.send(("E", call.ident, runtime, outcome))

    def failed(self, call: Call, error: BaseException) -> None:
        self._calls.pop(call.ident, None)
        self._answers.send(("F", call.ident, encode_error(error)))

    def refused(self, call: Call, error: BaseException) -> None:
        self._calls.pop(call.ident, None)
        self._answers.send(("R", call.ident, encode_error(error)))


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    commands_fd, answers_fd = int(argv[0]), int(argv[1])
    answers = Answers(answers_fd)
    messages = _frames.read_messages(commands_fd)
    opening = next(messages, None)
    if opening is None or opening[0] != "open":
        return 2
    _, address, name, max_in_flight, sys_path = opening
    sys.path[:] = sys_path
    calls: dict[int, Call] = {}
    closed = threading.Event()
    try:
        client, cluster, owned = connect(address)
        answers._loop = client.loop

        def on_threads(threads: int) -> None:
            answers.send(("T", threads))

        session = Session(client, name, max_in_flight, on_threads, HelperOwner(answers, calls))
        answers.send_now(("ready", sum(client.nthreads().values())))
    except BaseException as exc:
        answers.send_now(("error", encode_error(exc)))
        return 1

    def close() -> None:
        try:
            session.close()
            if owned:
                client.close()
                if cluster is not None:
                    cluster.close()
        finally:
            try:
                answers.send_now(("D",))
            finally:
                closed.set()  # Whatever happened: main() must return, and the helper exit.

    def stop() -> None:
        on_drained: Callable[[], None] = lambda: threading.Thread(target=close).start()  # noqa: E731
        session.stop(on_drained)

    stopped = False
    for message in messages:
        kind = message[0]
        if kind == "C":
            _, ident, call_name, payload = message
            call = Call(session.new_key(call_name), (run_pickled_call, (payload,)), ident=ident)
            calls[ident] = call
            session.accept(call)
            session.wake()
        elif kind == "X":
            cancelled = calls.get(message[1])
            if cancelled is not None and session.may_cancel(cancelled):
                calls.pop(message[1], None)
        elif kind == "Q" and not stopped:
            stopped = True
            stop()
    if not stopped:  # The parent went away: cancel what has not started, finish the rest.
        for call in session.take_unstarted():
            session.may_cancel(call)
        stop()
        closed.wait(ORPHAN_SECONDS)
    else:
        closed.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
