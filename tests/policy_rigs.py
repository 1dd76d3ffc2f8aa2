"""One executor of each kind, with calls the test controls: for test_policies and test_signals.

A :class:`Rig` holds an executor of one kind (green, thread, dynamic,
synchronous, process) and makes, for that kind, the calls the policy tests
need: a call that waits for a *token* the test hands out (so the test
decides when each call ends), a call that sleeps, one that fails, and one
that goes through a simulated downstream of a few slots (a semaphore around
a sleep, the kind of semaphore and sleep each executor's workers need).

The process pool's calls are the module-level functions of
:mod:`policy_workers` (which imports no eventlet, so worker processes do
not either); their tokens and downstream are multiprocessing semaphores
that each worker process receives from its initializer.

The test drives every rig from the main thread's main greenlet, which is a
green thread of the main hub: the green executor's workers run whenever it
waits, through :func:`until` or ``eventlet.sleep``.
"""

from __future__ import annotations

import collections
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import eventlet.semaphore
import pytest
from policy_workers import LONG, identity, init_worker, sleep_for, take_token, use_downstream

import greenpool
from greenpool import Future
from greenpool.process import ProcessPoolExecutor

__all__ = ["KINDS", "LONG", "QUEUEING", "Rig", "identity", "until"]

KINDS = ("green", "thread", "dynamic", "synchronous", "process")
#: Kinds where an accepted call can wait for a worker (the synchronous one runs it in the caller).
QUEUEING = ("green", "thread", "dynamic", "process")

# -- the rigs -----------------------------------------------------------------


class Rig:
    """An executor of ``kind`` with ``workers`` workers and ``policy``, and calls for it.

    ``capacity`` is the number of slots of the simulated downstream that
    :meth:`downstream_call` goes through.
    """

    def __init__(self, kind: str, policy: Any = None, workers: int = 2, capacity: int = 1) -> None:
        self.kind = kind
        self.held: list[Future[Any]] = []
        self._holders: list[threading.Thread] = []
        self.holder_errors: list[BaseException] = []
        if kind == "green":
            self._tokens: Any = eventlet.semaphore.Semaphore(0)
            self._downstream: Any = eventlet.semaphore.Semaphore(capacity)
            self.executor: Any = greenpool.GreenThreadPoolExecutor(workers, policy)
        elif kind in ("thread", "dynamic", "synchronous"):
            self._tokens = threading.Semaphore(0)
            self._downstream = FairSemaphore(capacity)
            if kind == "thread":
                self.executor = greenpool.ThreadPoolExecutor(workers, policy)
            elif kind == "dynamic":
                self.executor = greenpool.DynamicThreadPoolExecutor(workers, policy)
            else:
                self.executor = greenpool.SynchronousExecutor(check_and_reject=policy)
        elif kind == "process":
            context = multiprocessing.get_context("forkserver")
            self._tokens = context.Semaphore(0)
            self._downstream = context.Semaphore(capacity)
            self.executor = ProcessPoolExecutor(
                workers,
                mp_context=context,
                initializer=init_worker,
                initargs=(self._tokens, self._downstream),
                check_and_reject=policy,
            )
        else:
            raise ValueError(kind)

    # -- calls for this kind ---------------------------------------------------

    def token_call(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """A call that waits until the test :meth:`release` s a token for it."""
        if self.kind == "process":
            return take_token, ()
        return self._tokens.acquire, (True, LONG)

    def sleep_call(self, seconds: float) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        if self.kind == "green":
            return eventlet.sleep, (seconds,)
        return sleep_for, (seconds,)

    def downstream_call(self, seconds: float) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """A call that waits for one of the downstream's slots, then takes ``seconds``."""
        if self.kind == "process":
            return use_downstream, (seconds,)
        if self.kind == "green":
            return self._green_downstream, (seconds,)
        return self._native_downstream, (seconds,)

    def _green_downstream(self, seconds: float) -> None:
        with self._downstream:
            eventlet.sleep(seconds)

    def _native_downstream(self, seconds: float) -> None:
        with self._downstream:
            time.sleep(seconds)

    # -- driving -------------------------------------------------------------

    def submit_token_call(self) -> Future[Any]:
        fn, args = self.token_call()
        return self.executor.submit(fn, *args)

    def hold(self, count: int) -> None:
        """Put ``count`` more calls in flight that wait for tokens; wait until they are.

        On the synchronous executor each call runs inside its caller's
        ``submit``, so each is submitted from a native thread of its own,
        which stays inside ``submit`` until its token comes.
        """
        target = self.executor.in_flight + count
        if self.kind != "synchronous":
            self.held.extend(self.submit_token_call() for _ in range(count))
        else:
            for _ in range(count):
                thread = threading.Thread(target=self._hold_in_thread, daemon=True)
                thread.start()
                self._holders.append(thread)
        until(lambda: self.executor.in_flight >= target or bool(self.holder_errors))
        if self.holder_errors:
            raise self.holder_errors[0]

    def _hold_in_thread(self) -> None:
        try:
            self.held.append(self.submit_token_call())
        except BaseException as exc:
            self.holder_errors.append(exc)

    def release(self, count: int = 1) -> None:
        """Hand out ``count`` tokens: that many token calls may end."""
        for _ in range(count):
            self._tokens.release()

    def drain(self) -> None:
        """Let every call in flight end: one token each (all must be token calls), none spare."""
        self.release(self.executor.in_flight)
        until(lambda: self.executor.in_flight == 0)

    def until_running(self, count: int) -> None:
        """Wait until ``count`` calls are running (a worker has started them)."""
        until(lambda: self.executor.statistics.running == count)

    def close(self) -> None:
        """Let every token call end and shut the executor down (queued calls cancelled)."""
        self.release(1000)
        with eventlet.Timeout(LONG):
            self.executor.shutdown(wait=True, cancel_futures=True)
            for thread in self._holders:
                until(lambda thread=thread: not thread.is_alive())


class FairSemaphore:
    """A semaphore of ``slots`` that hands a freed slot to the longest waiter, for native threads.

    ``threading.Semaphore`` lets the thread that frees a slot take it back at
    once, before the waiter it notified wakes up: a client in a loop then
    keeps the slot and the others starve, so finished calls show no queueing
    at all. A real downstream serves its queue in order; so does this.
    """

    def __init__(self, slots: int) -> None:
        self._lock = threading.Lock()
        self._free = slots
        self._waiters: collections.deque[Any] = collections.deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        waiter.acquire()  # Released by __exit__, which hands this caller its slot.

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1


def until(predicate: Callable[[], bool], timeout: float = LONG) -> None:
    """Yield to the hub until ``predicate()`` holds; ``TimeoutError`` if it does not in time.

    A correctness wait (the hub keeps running, native threads too), never a
    speed check: the timeout only stops a failed test from hanging.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{predicate} still false after {timeout} s")
        eventlet.sleep(0.001)


@pytest.fixture
def rigs() -> Iterator[Callable[..., Rig]]:
    """Make :class:`Rig` s; each is closed (tokens handed out, shut down) after the test."""
    made: list[Rig] = []

    def factory(kind: str, policy: Any = None, **kwargs: Any) -> Rig:
        rig = Rig(kind, policy, **kwargs)
        made.append(rig)
        return rig

    yield factory
    for rig in made:
        rig.close()
