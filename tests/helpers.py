"""Helpers for tests that wait across green threads, native threads and hubs.

They live here, once, because test_future, test_waiters and test_parking
(and test_green and test_rejection, for :func:`eventually`) check the same
thing in the same way: a caller parked the right way, woken soon, the hub
kept running meanwhile, no stale wake-up left behind. One copy keeps those
checks equally strict everywhere.

Import them as ``from helpers import ...``: ``tests`` is not a package, so
pytest puts this folder on ``sys.path`` (as for ``from conftest import
run_python``), whether it is run as ``pytest`` or as ``python -m pytest``.
conftest.py registers this module for pytest's assertion rewriting, so a
failed ``assert`` in here explains itself as one in a test module would.

Unlike conftest.py, this module imports eventlet: only import it from test
modules that use eventlet anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import eventlet
import eventlet.event

#: A wait that must end early gets this timeout; ending before half of it proves it was woken.
LONG = 10.0
WOKEN_BOUND = LONG / 2


class Ticker:
    """A green thread that counts while the hub runs: proof the hub is not blocked."""

    def __init__(self) -> None:
        self.ticks = 0
        self._thread: Any = None

    def _run(self) -> None:
        while True:
            self.ticks += 1
            eventlet.sleep(0.001)

    def __enter__(self) -> Ticker:
        self._thread = eventlet.spawn(self._run)
        eventlet.sleep(0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.kill()

    def wait_from_native(self, ticks: int) -> int:
        """From a native thread: poll until the count reaches ``ticks`` (or give up); return it.

        A native thread that completes work only after this returns proves
        the hub ran while a green thread waited for that work: the ticks
        cannot happen before the green thread parks (it does not yield
        before), and it cannot wake before the work is done.
        """
        deadline = time.monotonic() + WOKEN_BOUND / 2
        while self.ticks < ticks and time.monotonic() < deadline:
            time.sleep(0.001)
        return self.ticks


#: The :class:`Ticker` of a program run in a fresh interpreter after
#: ``eventlet.monkey_patch()``, to paste after ``import eventlet`` and ``from
#: eventlet import patcher``: ``ticks[0]`` counts while the hub runs.
#: ``RealThread`` and ``real_sleep`` are the unpatched ones, for work that
#: must really run in, or block, an OS thread.
PATCHED_TICKER = """
RealThread = patcher.original("threading").Thread
real_sleep = patcher.original("time").sleep  # Patched time.sleep would start a hub there.
ticks = [0]

def ticker():
    while True:
        ticks[0] += 1
        eventlet.sleep(0.001)

eventlet.spawn(ticker)
"""


def eventually(predicate: Callable[[], bool], timeout: float = LONG) -> None:
    """Yield to the hub until ``predicate()`` holds (a correctness wait, not a speed check)."""
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.001)


def run_native(fn: Callable[..., Any], *args: Any, timeout: float = LONG) -> Any:
    """Run ``fn`` in a real OS thread while this green thread keeps the hub running."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = fn(*args)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    eventually(lambda: not thread.is_alive(), timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def timed(wait: Callable[[], Any]) -> tuple[Any, float]:
    """``wait()``'s value and how long it took; what ``wait()`` raises propagates."""
    started = time.monotonic()
    value = wait()
    return value, time.monotonic() - started


def timed_outcome(wait: Callable[[], Any]) -> tuple[Any, float]:
    """Like :func:`timed`, but an exception is returned as its type, as the value.

    For waits that are expected to end in an exception (a cancelled or failed
    future), and for waits in a thread whose exception would otherwise be lost.
    """

    def outcome() -> Any:
        try:
            return wait()
        except BaseException as exc:
            return type(exc)

    return timed(outcome)


def assert_no_stray_switch() -> None:
    """Park on an eventlet event that is set later: a stray switch into us returns early.

    A stale wake-up (a second wake, or a wake after a timeout) that switched
    into the green thread while it was parked elsewhere would end this wait
    before the event is ready. The event is set only after several turns of
    the hub and 10 ms, so that wake-ups scheduled for the next turn and
    wake-ups on a short timer both have their chance to show up.
    """
    event = eventlet.event.Event()

    def set_later() -> None:
        for _ in range(5):
            eventlet.sleep(0)
        eventlet.sleep(0.01)
        event.send("set")

    eventlet.spawn(set_later)
    assert event.wait() == "set"


def thread_idents() -> set[int | None]:
    """The identities of the OS threads alive now.

    For "started no thread" checks: compare sets, not ``threading.active_count()``, which
    a thread of an earlier test that happens to end meanwhile lowers.
    """
    return {thread.ident for thread in threading.enumerate()}
