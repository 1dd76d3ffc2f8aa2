"""What the executor base tells admission policies, cheaply: call ends, shutdown, queue age.

A ``check_and_reject`` policy runs on every submit, under the submit lock,
so it must decide from what it can read in a few attribute loads: building
an :class:`~greenpool.ExecutorStatistics` snapshot there (a copy of two
histograms) would cost more than the submit. The executor base therefore
offers three cheap signals, all of them off unless a policy asks:

* **Call ends.** ``executor.add_done_listener(fn)`` makes every accepted call
  that ends (finished, failed, cancelled) call ``fn(runtime)`` (``None`` for
  a call that never ran) in whichever thread ended it, after its future resolved
  and outside every lock. The gatherer holds one callable, ``None`` while no
  listener is registered, so a call costs an executor without listeners one
  attribute load and one comparison. A blocking policy wakes its next
  waiter from here; an adaptive one learns run times.
* **Shutdown.** ``executor.add_shutdown_listener(fn)``: ``fn()`` runs once
  when ``shutdown`` is first called, outside the submit lock, so a policy
  can wake the submitters it keeps waiting (they then get the
  ``RuntimeError`` every submit after shutdown gets).
* **Queue age.** ``executor.oldest_wait``: how long the oldest call still
  waiting for a worker has waited. The base keeps the acceptance times of
  the last :data:`ARRIVALS_KEPT` submissions, from the first time the
  property is read; calls leave the queue in the order they came (every
  backend's queue is first in, first out), so the oldest waiting call is the
  one accepted ``pending`` submissions ago. A call cancelled out of order
  makes this a slight underestimate until the calls before it leave. The
  record is a ``deque`` with a ``maxlen``: appending is one C call, needs no
  pruning, and memory is fixed.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

LOGGER = logging.getLogger("greenpool")

#: Acceptance times kept for ``oldest_wait``: with more calls than this
#: waiting, it reports the wait of the call accepted this many submissions
#: ago (a lower bound), which is far past any sensible latency target.
ARRIVALS_KEPT = 4096

DoneListener = Callable[[float | None], object]
ShutdownListener = Callable[[], object]


def new_arrivals() -> deque[float]:
    """An empty record of acceptance times (see the module docstring)."""
    return deque(maxlen=ARRIVALS_KEPT)


def oldest_wait(arrivals: deque[float], pending: int, at: float) -> float:
    """The wait at time ``at`` of the oldest of the ``pending`` most recent acceptances."""
    if pending <= 0:
        return 0.0
    kept = len(arrivals)
    if kept == 0:
        return 0.0
    try:
        accepted_at = arrivals[kept - min(pending, kept)]
    except IndexError:  # Another OS thread submitted meanwhile and the record moved.
        accepted_at = arrivals[0]
    wait = at - accepted_at
    return wait if wait > 0.0 else 0.0


class Listeners:
    """An ordered set of listeners, and the one callable that calls them all."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: tuple[Callable[..., object], ...] = ()

    def add(self, listener: Callable[..., object]) -> Callable[..., None]:
        """Add ``listener``; return the callable to install that calls every listener."""
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {listener!r}")
        self._listeners = (*self._listeners, listener)
        return self.call

    def call(self, *args: object) -> None:
        """Call every listener with ``args``; one that raises is logged and the rest still run."""
        for listener in self._listeners:
            try:
                listener(*args)
            except Exception:
                LOGGER.exception("greenpool listener %r raised", listener)
