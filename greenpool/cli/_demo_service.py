"""The demo's service: a WSGI app on 127.0.0.1 whose every request is one call through an executor.

What it stands for is an OpenStack-style API worker: each request needs one
call to a slower dependency (a database, another service), made through a
:class:`~greenpool.GreenThreadPoolExecutor` whose ``check_and_reject`` policy
refuses work when overloaded; a refused request gets ``503`` with
``Retry-After`` at once instead of waiting in a queue.

The dependency (:class:`Downstream`) serves a fixed number of calls at once,
each taking a fixed time: an eventlet ``Semaphore`` around
``eventlet.sleep``. It keeps the time integral of how many calls it is
serving and how many wait for it, so an interval's occupancy (how much of its
capacity was in use) is exact, not sampled: the demo's summary needs that to
say whether the pool or the dependency limited throughput.
"""

from __future__ import annotations

import dataclasses
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterable
from typing import Any

with warnings.catch_warnings():  # eventlet warns on import that it is deprecated.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet
    from eventlet import wsgi
    from eventlet.semaphore import Semaphore

from greenpool._errors import RejectedSubmission
from greenpool._executor import Executor
from greenpool.cli.loadgen import HOST

#: Concurrent connections the WSGI server takes (its default queue holds thousands).
MAX_CONNECTIONS = 10_000
#: How many connections may wait to be accepted.
LISTEN_BACKLOG = 4096


@dataclasses.dataclass(frozen=True)
class DownstreamUsage:
    """What a :class:`Downstream` had done by ``at``: subtract two for an interval."""

    at: float
    calls: int
    #: Time integral of the calls being served: seconds x calls.
    busy: float
    #: Time integral of the calls waiting for a slot.
    waiting: float

    def occupancy(self, earlier: DownstreamUsage, slots: int) -> float:
        """The share of the slots in use between ``earlier`` and this (1.0: always all)."""
        span = self.at - earlier.at
        return (self.busy - earlier.busy) / (span * slots) if span > 0 else 0.0


class Downstream:
    """A dependency that serves ``slots`` calls at once, each taking ``base`` seconds.

    Beyond ``slots`` callers, calls wait inside it (as they would for a
    database's connections) and take longer, the more of them there are.
    """

    def __init__(self, slots: int, base: float) -> None:
        self.slots = slots
        self.base = base
        self._semaphore = Semaphore(slots)
        self._calls = 0
        self._serving = 0
        self._waiting = 0
        self._busy = 0.0
        self._waited = 0.0
        self._since = time.monotonic()

    def _advance(self) -> float:
        now = time.monotonic()
        span = now - self._since
        self._busy += self._serving * span
        self._waited += self._waiting * span
        self._since = now
        return now

    def call(self) -> None:
        """One call: ``base`` seconds once a slot is free."""
        self._advance()
        self._waiting += 1
        try:
            self._semaphore.acquire()
        finally:
            self._advance()
            self._waiting -= 1
        self._serving += 1
        try:
            eventlet.sleep(self.base)
        finally:
            self._advance()
            self._serving -= 1
            self._semaphore.release()
        self._calls += 1

    def usage(self) -> DownstreamUsage:
        """What it has done so far."""
        at = self._advance()
        return DownstreamUsage(at, self._calls, self._busy, self._waited)


StartResponse = Callable[[str, list[tuple[str, str]]], object]


class DemoService:
    """The WSGI app: ``GET /work`` makes one downstream call through ``executor``.

    ``200`` once the call ran, ``503`` with ``Retry-After`` when the
    executor's policy refused it, ``500`` if it failed. It counts what
    arrived and what it answered, by the load step each request names
    (``?step=K``, from :mod:`greenpool.cli.loadgen`).
    """

    def __init__(self, executor: Executor, downstream: Downstream) -> None:
        self.executor = executor
        self.downstream = downstream
        #: Requests for ``/work`` so far.
        self.arrived = 0
        #: What ``/work`` was answered, by status.
        self.answered = {200: 0, 503: 0, 500: 0}
        #: Requests for ``/work`` by the step they named.
        self.arrived_by_step: dict[int, int] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO", "") != "/work":
            return _answer(start_response, "404 Not Found", b"not found\n")
        self.arrived += 1
        step = _step(environ.get("QUERY_STRING", ""))
        self.arrived_by_step[step] = self.arrived_by_step.get(step, 0) + 1
        try:
            future = self.executor.submit(self.downstream.call)
        except RejectedSubmission:
            self.answered[503] += 1
            # Come back in a second: by then the overload may have passed.
            retry = [("Retry-After", "1")]
            return _answer(start_response, "503 Service Unavailable", b"busy\n", retry)
        try:
            future.result()
        except Exception:
            self.answered[500] += 1
            return _answer(start_response, "500 Internal Server Error", b"failed\n")
        self.answered[200] += 1
        return _answer(start_response, "200 OK", b"done\n")


def _step(query: str) -> int:
    values = urllib.parse.parse_qs(query).get("step", ["0"])
    try:
        return int(values[0])
    except ValueError:
        return 0


def _answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), *headers]
    )
    return [body]


class Server:
    """``app`` served by eventlet's WSGI server on 127.0.0.1, on a free port, in a green thread."""

    def __init__(self, app: DemoService) -> None:
        self._listener = eventlet.listen((HOST, 0), backlog=LISTEN_BACKLOG)
        self.port: int = self._listener.getsockname()[1]
        self._thread = eventlet.spawn(
            wsgi.server,
            self._listener,
            app,
            log_output=False,
            max_size=MAX_CONNECTIONS,
            keepalive=False,
            debug=False,
        )

    def stop(self) -> None:
        """Stop accepting and close the listening socket."""
        self._thread.kill()
        self._listener.close()
