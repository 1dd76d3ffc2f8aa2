"""Green and native submitters on one green pool: do native threads stall the green ones?

A service's hub runs green threads that submit to a ``GreenThreadPoolExecutor``
while native threads (a thread pool's workers, a driver's callback thread)
submit to the same executor. Every submission takes the executor's submit
lock, whoever makes it, so a native thread that holds the lock while it has
lost the GIL (to a system call or a thread switch) can stall every green
thread of the hub that wants it. These cases load one pool from both sides
at once, as issue 8 describes:

* ``GreenThreadPoolExecutor(64, check_and_reject=reject_when_reached(150))``;
  each call sleeps ``CALL_SLEEP`` (1 ms of green IO), so the pool saturates
  and the backlog cap is reached again and again.
* 4 green threads submit ``n`` calls each (100,000 by default, five times
  the issue's 20,000: the stalls grow with the length of the run); a refused
  one is retried after ``eventlet.sleep(0)``.
* 3 native threads submit until the green threads are done; after a refusal
  they sleep ``NATIVE_BACKOFF`` (0.2 ms).

``mixed-gap`` reports the longest time any green submitter went between two
of its submit attempts, in milliseconds; ``mixed-native`` the native
submitters' combined cost per accepted call (1e6 / their combined rate in
calls per second), beside a single native thread submitting alone to the
same pool. Each is measured on a quiet machine and again with another
process spinning on a CPU (``BUSY_CORE``), as on a shared host: with the
four threads squeezed onto one core, a thread that gives up the GIL waits
longer to get it back, and stalls caused by a lock held across that wait
grow from milliseconds to seconds. futurist is not measured: its green executor cannot take
submissions from native threads (its green locks switch greenlets across
threads: ``greenlet.error: Cannot switch to a different thread``, then it
hangs).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from time import perf_counter
from typing import Any

from greenpool.bench._measure import green_hub, per_call_us
from greenpool.bench._registry import at_most, case

WORKERS = 64
MAX_BACKLOG = 150
GREEN_SUBMITTERS = 4
NATIVE_SUBMITTERS = 3
CALL_SLEEP = 0.001
NATIVE_BACKOFF = 0.0002

#: The implementations' names, and the spinning process of the busy ones.
QUIET = "greenpool"
BUSY = "greenpool, another process busy on a CPU"
BUSY_CORE = "while True: pass"

MIXED_GAP = case(
    "mixed-gap",
    group="green",
    title=(
        "longest gap between two submits of a green thread: 4 green threads x {n:,} calls"
        " and 3 native threads on one GreenThreadPoolExecutor(64), reject_when_reached(150),"
        " 1 ms calls"
    ),
    unit="ms",
    n=100_000,
    quick_n=10_000,
    targets=(
        at_most(20, "longest gap a green submitter sees beside 3 native submitters under 20 ms"),
        at_most(20, "the same with another process busy on a CPU", reference=BUSY),
    ),
)

MIXED_NATIVE = case(
    "mixed-native",
    group="green",
    title=(
        "native submitters' cost per accepted call (1e6 / combined calls per second), on"
        " the same pool: 3 native threads beside 4 green threads x {n:,} calls, or one alone"
        " submitting {n:,}"
    ),
    unit="µs/call",
    n=100_000,
    quick_n=10_000,
)


def _pool() -> Any:
    from greenpool import GreenThreadPoolExecutor
    from greenpool.rejection import reject_when_reached

    return GreenThreadPoolExecutor(WORKERS, check_and_reject=reject_when_reached(MAX_BACKLOG))


def _call() -> None:
    import eventlet

    eventlet.sleep(CALL_SLEEP)


class _NativeSubmitters:
    """Native threads that submit until stopped (or ``quota`` calls), backing off when refused."""

    def __init__(self, executor: Any, threads: int, quota: int | None = None) -> None:
        from greenpool import RejectedSubmission

        self._executor = executor
        self._refused = RejectedSubmission
        self._quota = quota
        self._stop = False
        self.accepted = [0] * threads
        self._threads = [
            threading.Thread(target=self._submit, args=(index,), daemon=True)
            for index in range(threads)
        ]

    def _submit(self, index: int) -> None:
        import time

        submit = self._executor.submit
        accepted = 0
        while not self._stop and (self._quota is None or accepted < self._quota):
            try:
                submit(_call)
            except self._refused:
                time.sleep(NATIVE_BACKOFF)
            else:
                accepted += 1
        self.accepted[index] = accepted

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        self._stop = True
        for thread in self._threads:
            thread.join()


def _green_submitter(executor: Any, n: int) -> float:
    """Submit ``n`` calls, retrying refused ones after a hub turn; return the longest gap (s)."""
    import eventlet

    from greenpool import RejectedSubmission

    submit = executor.submit
    longest = 0.0
    done = 0
    last = perf_counter()
    while done < n:
        try:
            submit(_call)
        except RejectedSubmission:
            eventlet.sleep(0)
        else:
            done += 1
        now = perf_counter()
        if now - last > longest:
            longest = now - last
        last = now
    return longest


class _BusyCore:
    """Another process spinning on a CPU while the measurement runs, as on a shared host."""

    def __enter__(self) -> _BusyCore:
        self._process = subprocess.Popen([sys.executable, "-c", BUSY_CORE])
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._process.kill()
        self._process.wait()


def _mixed(n: int, natives: int, *, busy: bool = False) -> tuple[float, float, int]:
    """Green submitters beside ``natives`` native ones: (longest gap s, seconds, accepted)."""
    import eventlet

    green_hub()
    executor = _pool()
    submitters = _NativeSubmitters(executor, natives)
    with _BusyCore() if busy else contextlib.nullcontext():
        start = perf_counter()
        submitters.start()
        greens = [eventlet.spawn(_green_submitter, executor, n) for _ in range(GREEN_SUBMITTERS)]
        longest = max(green.wait() for green in greens)
        elapsed = perf_counter() - start
        submitters.stop()
    executor.shutdown()
    return longest, elapsed, sum(submitters.accepted)


@MIXED_GAP.implementation(QUIET)
def mixed_gap_greenpool(n: int) -> float:
    longest, _elapsed, _accepted = _mixed(n, NATIVE_SUBMITTERS)
    return longest * 1e3


@MIXED_GAP.implementation(BUSY)
def mixed_gap_busy(n: int) -> float:
    longest, _elapsed, _accepted = _mixed(n, NATIVE_SUBMITTERS, busy=True)
    return longest * 1e3


@MIXED_GAP.implementation("greenpool, green submitters only", note="for scale")
def mixed_gap_green_only(n: int) -> float:
    longest, _elapsed, _accepted = _mixed(n, 0)
    return longest * 1e3


@MIXED_NATIVE.implementation(QUIET)
def mixed_native_greenpool(n: int) -> float:
    _longest, elapsed, accepted = _mixed(n, NATIVE_SUBMITTERS)
    return per_call_us(elapsed, max(1, accepted))


@MIXED_NATIVE.implementation(BUSY)
def mixed_native_busy(n: int) -> float:
    _longest, elapsed, accepted = _mixed(n, NATIVE_SUBMITTERS, busy=True)
    return per_call_us(elapsed, max(1, accepted))


@MIXED_NATIVE.implementation("greenpool, one native thread alone")
def mixed_native_alone(n: int) -> float:
    import eventlet

    green_hub()
    executor = _pool()
    submitters = _NativeSubmitters(executor, 1, quota=n)
    start = perf_counter()
    submitters.start()
    while submitters.alive():  # The hub runs the calls meanwhile.
        eventlet.sleep(0.001)
    elapsed = perf_counter() - start
    submitters.stop()
    executor.shutdown()
    return per_call_us(elapsed, sum(submitters.accepted))
