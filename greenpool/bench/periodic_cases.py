"""Periodic workers: 1,000 callables at 10 Hz on a green executor, greenpool against futurist.

Each implementation runs, in the main green thread of a fresh interpreter:
1,000 periodic callables of ``spacing=0.1`` (schedule strategy
``last_started``), all added at once, on a ``GreenThreadPoolExecutor(1000)``
of its own library, the worker started in a green thread
(``eventlet.spawn(worker.start)``), for ``n`` seconds; then ``stop()`` and
``wait()``, not timed. futurist's worker is given eventlet's green
``Condition`` and ``Event``, as it needs in a green thread.

Every callable only notes the time it was called (``time.monotonic``, into
a list of its own), the same for every implementation. From those notes:

* ``periodic-cpu``: the process's CPU time (``time.process_time``, every
  thread) over the run, as a percentage of one CPU (100 % = one core busy
  for the whole run). 10,000 runs a second are asked for.
* ``periodic-lateness``: the 99th percentile of how late a run started,
  in ms: the time between two consecutive calls of one callable, minus the
  0.1 s ``last_started`` asks for (a callable's first call is not counted).
  A worker that cannot keep up shows it here.

The baseline is what the heap avoids: one green thread per callable, each
looping on ``eventlet.sleep`` until its next run (1,000 hub timers a tick),
calling the callable in that green thread.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

from greenpool.bench._measure import green_hub
from greenpool.bench._registry import case, smaller

CALLABLES = 1000
SPACING = 0.1
WORKERS = 1000

BASELINE = "a green thread per callable"

#: ``periodic(spacing)``, as greenpool's and futurist's decorators are called here.
Periodic = Callable[[float], Callable[[Callable[..., None]], Callable[..., None]]]

PERIODIC_CPU = case(
    "periodic-cpu",
    group="periodic",
    title=f"{CALLABLES:,} periodic callables at 10 Hz on a green executor for {{n}} s: CPU time",
    unit="% CPU",
    n=10,
    quick_n=2,
    targets=(smaller("futurist", 2, "greenpool at most half futurist's CPU time"),),
)

PERIODIC_LATENESS = case(
    "periodic-lateness",
    group="periodic",
    title=(
        f"the same run ({CALLABLES:,} callables at 10 Hz for {{n}} s): p99 of how late a run"
        " started against its schedule"
    ),
    unit="ms",
    n=10,
    quick_n=2,
)


def _make_callables(periodic: Periodic) -> tuple[list[Any], list[list[float]]]:
    """``CALLABLES`` periodic callables, each noting when it is called into its own list."""
    notes: list[list[float]] = []
    callables = []
    for _ in range(CALLABLES):
        calls: list[float] = []
        notes.append(calls)

        @periodic(SPACING)
        def note(calls: list[float] = calls, now: Callable[[], float] = time.monotonic) -> None:
            calls.append(now())

        callables.append((note, None, None))
    return callables, notes


def _p99_lateness_ms(notes: list[list[float]]) -> float:
    late = sorted(
        later - earlier - SPACING for calls in notes for earlier, later in itertools.pairwise(calls)
    )
    if not late:
        raise RuntimeError("no callable ran twice: nothing to measure")
    return max(0.0, late[max(0, math.ceil(0.99 * len(late)) - 1)]) * 1e3


def _run(
    make_worker: Callable[[list[Any]], Any], periodic: Periodic, seconds: int
) -> tuple[float, float]:
    """Run the workload for ``seconds``: (% of a CPU, p99 lateness in ms)."""
    import eventlet

    green_hub()
    callables, notes = _make_callables(periodic)
    worker = make_worker(callables)
    wall = time.perf_counter()
    cpu = time.process_time()
    runner = eventlet.spawn(worker.start)
    eventlet.sleep(seconds)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    worker.stop()
    runner.wait()
    return cpu / wall * 100, _p99_lateness_ms(notes)


def _greenpool(seconds: int) -> tuple[float, float]:
    import greenpool
    from greenpool import periodics

    def make(callables: list[Any]) -> Any:
        return periodics.PeriodicWorker(
            callables, executor_factory=lambda: greenpool.GreenThreadPoolExecutor(WORKERS)
        )

    return _run(make, periodics.periodic, seconds)


def _futurist(seconds: int) -> tuple[float, float]:
    import futurist
    from eventlet.green import threading as green_threading
    from futurist import periodics

    def make(callables: list[Any]) -> Any:
        return periodics.PeriodicWorker(
            callables,
            executor_factory=lambda: futurist.GreenThreadPoolExecutor(WORKERS),
            cond_cls=green_threading.Condition,
            event_cls=green_threading.Event,
        )

    return _run(make, periodics.periodic, seconds)


class _ThreadPerCallable:
    """The baseline: each callable in a green thread of its own, sleeping until it is due."""

    def __init__(self, callables: list[Any]) -> None:
        self._callables = [cb for cb, _args, _kwargs in callables]
        self._stopped = False
        self._threads: list[Any] = []

    def _loop(self, cb: Callable[[], None]) -> None:
        import eventlet

        now = time.monotonic
        due = now() + SPACING
        while True:
            delay = due - now()
            if delay > 0:
                eventlet.sleep(delay)
            if self._stopped:
                return
            due = now() + SPACING  # last_started: spacing after this run starts.
            cb()

    def start(self) -> None:
        import eventlet

        self._threads = [eventlet.spawn(self._loop, cb) for cb in self._callables]
        for thread in self._threads:
            thread.wait()

    def stop(self) -> None:
        self._stopped = True


def _baseline(seconds: int) -> tuple[float, float]:
    def periodic(spacing: float) -> Callable[[Callable[..., None]], Callable[..., None]]:
        return lambda fn: fn

    return _run(_ThreadPerCallable, periodic, seconds)


@PERIODIC_CPU.implementation("greenpool")
def cpu_greenpool(n: int) -> float:
    return _greenpool(n)[0]


@PERIODIC_CPU.implementation("futurist")
def cpu_futurist(n: int) -> float:
    return _futurist(n)[0]


@PERIODIC_CPU.implementation(BASELINE, note="baseline")
def cpu_baseline(n: int) -> float:
    return _baseline(n)[0]


@PERIODIC_LATENESS.implementation("greenpool")
def lateness_greenpool(n: int) -> float:
    return _greenpool(n)[1]


@PERIODIC_LATENESS.implementation("futurist")
def lateness_futurist(n: int) -> float:
    return _futurist(n)[1]


@PERIODIC_LATENESS.implementation(BASELINE, note="baseline")
def lateness_baseline(n: int) -> float:
    return _baseline(n)[1]
