"""One million randomized submissions across the executors: every call ends exactly once (issue 14).

Each executor kind gets an equal share of ``ATTEMPTS`` operations, made at
once by green threads (in the test's hub) and native threads, each drawing
its next operation at random:

* ``submit`` of a call that returns, or of one that raises
  (:class:`stress_tasks.ExpectedFailure`);
* ``submit`` then an immediate ``cancel()`` (which may or may not win);
* ``submit_after`` a delay of up to 2 ms (it falls due and is admitted
  then, or refused then);
* ``submit_after`` a minute, cancelled at once (it must never count);
* ``map`` over ten items, consumed whole.

A ``check_and_reject`` refuses a random 5 % of admissions, except those a
``map`` makes (a refused ``map`` cancels the calls it had in flight, which
would leave the test unable to know exactly what ran), and counts every
time it is asked. Each submitter keeps a bounded window of futures and
checks each as it leaves: a returning call's value, a failing call's own
exception, a cancelled call's cancellation; every future gets one
done-callback, which marks its own slot.

At the end, after ``shutdown(wait=True)``, the statistics must agree
exactly with what the submitters saw: every done-callback ran exactly once
(no slot at 0 or 2), ``submitted == executed + cancelled`` with nothing
pending, running or scheduled, ``submitted + rejected`` equals the
admissions attempted (and the times ``check_and_reject`` was asked),
``failures`` equals the futures that hold an exception of their call, and
``cancelled`` the cancels that returned True.

The same runs on a ``DaskExecutor`` over its own two-worker
``LocalCluster`` (a thousand operations in CI, 20,000 at full size: each
call is a round trip of about 2 ms there), and ``greenpool.Pool`` over
each kind gets random ``apply_async`` (returning or raising),
``starmap_async`` and ``imap_unordered`` calls: each async result's
callback or error callback runs exactly once, and the executor's counts
agree with what the submitters saw.

CI runs a tenth of the issue's size; the full million is
``GREENPOOL_STRESS=full python -m pytest -m stress tests/stress``.
"""

from __future__ import annotations

import os
import random
import threading
import zlib
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import eventlet
import greenlet
import pytest
from stress_tasks import ExpectedFailure, double, work

import greenpool

FULL = os.environ.get("GREENPOOL_STRESS") == "full"
#: Operations in all, shared equally between the kinds.
ATTEMPTS = 1_000_000 if FULL else 100_000
GREEN_SUBMITTERS = 4
NATIVE_SUBMITTERS = 2
#: Futures a submitter holds before it checks the oldest.
WINDOW = 64
REJECT_FRACTION = 0.05
MAP_ITEMS = 10
#: The dask cluster's share (each call about 2 ms there, against microseconds here).
DASK_ATTEMPTS = 20_000 if FULL else 1_000
#: Pool calls over each executor kind.
POOL_ATTEMPTS = 200_000 if FULL else 20_000

pytestmark = [pytest.mark.stress, pytest.mark.timeout(900 if FULL else 120)]

KINDS: dict[str, Callable[..., greenpool.Executor]] = {
    "green": lambda **kw: greenpool.GreenThreadPoolExecutor(8, **kw),
    "thread": lambda **kw: greenpool.ThreadPoolExecutor(4, **kw),
    "dynamic": lambda **kw: greenpool.DynamicThreadPoolExecutor(4, **kw),
    "synchronous": lambda **kw: greenpool.SynchronousExecutor(**kw),
    "process": lambda **kw: greenpool.ProcessPoolExecutor(2, **kw),
}


class RandomRefusal:
    """``check_and_reject``: refuses a random fraction of admissions, never a ``map``'s.

    ``asked`` counts every call (under a lock of its own: green threads and
    native threads ask at once).
    """

    def __init__(self) -> None:
        self.asked = 0
        self._lock = threading.Lock()
        #: The green threads (greenlets, one per native thread at least) inside a map.
        self.mapping: set[Any] = set()

    def __call__(self, executor: object, backlog: int) -> None:
        with self._lock:
            self.asked += 1
        if random.random() < REJECT_FRACTION and greenlet.getcurrent() not in self.mapping:
            raise greenpool.RejectedSubmission(f"refused at random (backlog {backlog})")


class Windowed:
    """A submitter's loop: ``operations`` random operations, each result checked
    (``settle``) once more than ``WINDOW`` are outstanding, the rest at the end.

    Run in a green or a native thread; what it raises is kept in ``error``
    for the test to raise, with its traceback.
    """

    operations: int
    window: deque[Any]
    error: BaseException | None = None

    def operate(self, i: int) -> None:
        raise NotImplementedError

    def settle(self, *entry: Any) -> None:
        raise NotImplementedError

    def run(self) -> None:
        try:
            for i in range(self.operations):
                self.operate(i)
                while len(self.window) > WINDOW:
                    self.settle(*self.window.popleft())
            while self.window:
                self.settle(*self.window.popleft())
        except BaseException as exc:
            self.error = exc


class Submitter(Windowed):
    """One green or native thread's operations, and what it saw of them."""

    def __init__(
        self,
        executor: greenpool.Executor,
        policy: RandomRefusal,
        operations: int,
        first_slot: int,
        callbacks: bytearray,
        seed: int,
    ) -> None:
        self.executor = executor
        self.policy = policy
        self.operations = operations
        self.slot = first_slot  # The callback slot of this submitter's next future.
        self.callbacks = callbacks
        self.random = random.Random(seed)
        self.window: deque[tuple[Future[int], str, int, bool]] = deque()
        self.seen: Counter[str] = Counter()

    def track(self, future: Future[int], how: str, i: int, cancelled: bool = False) -> None:
        slot = self.slot
        self.slot += 1
        self.seen["futures"] += 1
        future.add_done_callback(lambda _f: self.mark(slot))
        self.window.append((future, how, i, cancelled))

    def mark(self, slot: int) -> None:
        self.callbacks[slot] += 1

    def operate(self, i: int) -> None:
        draw = self.random.random()
        seen = self.seen
        if draw < 0.02:  # A map, never refused (see RandomRefusal).
            seen["admissions"] += MAP_ITEMS
            self.policy.mapping.add(greenlet.getcurrent())
            try:
                items = range(i, i + MAP_ITEMS)
                results = list(
                    self.executor.map(work, items, [False] * MAP_ITEMS, chunksize=1, timeout=60)
                )
            finally:
                self.policy.mapping.discard(greenlet.getcurrent())
            assert results == [2 * item for item in items]
            seen["map items"] += MAP_ITEMS
            return
        if draw < 0.04:  # A delayed call cancelled long before it falls due: counts nowhere.
            future = self.executor.submit_after(60.0, work, i, False)
            assert future.cancel(), "a call due in a minute could not be cancelled at once"
            seen["delayed cancelled"] += 1
            self.track(future, "delayed cancelled", i, cancelled=True)
            return
        if draw < 0.12:  # A delayed call that falls due (admitted or refused then).
            fail = self.random.random() < 0.2
            future = self.executor.submit_after(self.random.random() * 0.002, work, i, fail)
            seen["admissions"] += 1
            self.track(future, "delayed failing" if fail else "delayed", i)
            return
        fail = 0.12 <= draw < 0.27
        seen["admissions"] += 1
        try:
            future = self.executor.submit(work, i, fail)
        except greenpool.RejectedSubmission:
            seen["refused"] += 1
            return
        seen["accepted"] += 1
        if draw >= 0.87:  # Submitted, then cancelled at once (or too late).
            won = future.cancel()
            seen["cancelled" if won else "cancel too late"] += 1
            self.track(future, "cancelled", i, cancelled=won)
            return
        self.track(future, "failing" if fail else "returning", i)

    def settle(self, future: Future[int], how: str, i: int, cancelled: bool) -> None:
        """Wait for ``future`` and check it ended as ``how`` says it must."""
        if cancelled:
            assert future.cancelled(), f"{how} call {i}: cancel() said True, then {future!r}"
            return
        try:
            value = future.result(timeout=60)
        except greenpool.CancelledError:
            raise AssertionError(f"{how} call {i} was cancelled, though no cancel won") from None
        except ExpectedFailure as exc:
            assert how.endswith("failing") and exc.args == (i,), f"{how} call {i} raised {exc!r}"
            self.seen["failed"] += 1
            return
        except greenpool.RejectedSubmission:
            assert how.startswith("delayed"), f"{how} call {i}'s future was refused"
            self.seen["refused"] += 1
            return
        assert not how.endswith("failing"), f"{how} call {i} returned {value!r}"
        assert value == 2 * i, f"{how} call {i} returned {value!r}"
        self.seen["returned"] += 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_randomized_submissions_from_green_and_native_threads_all_end_exactly_once(
    kind: str,
) -> None:
    policy = RandomRefusal()
    drive(kind, KINDS[kind](check_and_reject=policy), policy, ATTEMPTS // len(KINDS))


@pytest.mark.dask
def test_randomized_submissions_to_a_dask_cluster_all_end_exactly_once() -> None:
    # Each call is a round trip to a LocalCluster of two worker processes (about 2 ms).
    pytest.importorskip("distributed", reason="the extra greenpool[dask]")
    policy = RandomRefusal()
    drive("dask", greenpool.DaskExecutor(check_and_reject=policy), policy, DASK_ATTEMPTS)


def run_all(workers: list[Any]) -> None:
    """Run each worker's ``run``: the first ``GREEN_SUBMITTERS`` in green threads of this
    hub, the others in native threads, all at once; raise the first one's error."""
    natives = [
        threading.Thread(target=worker.run, name=f"submitter-{n}")
        for n, worker in enumerate(workers[GREEN_SUBMITTERS:])
    ]
    for thread in natives:
        thread.start()
    greens = [eventlet.spawn(worker.run) for worker in workers[:GREEN_SUBMITTERS]]
    for green in greens:
        green.wait()
    for thread in natives:
        while thread.is_alive():  # The hub runs meanwhile: green calls go on.
            eventlet.sleep(0.01)
    for worker in workers:
        if worker.error is not None:
            raise worker.error


def drive(kind: str, executor: greenpool.Executor, policy: RandomRefusal, attempts: int) -> None:
    """Run ``attempts`` random operations on ``executor`` from every submitter at once,
    shut it down, and check that every future and every count came out right."""
    submitters = GREEN_SUBMITTERS + NATIVE_SUBMITTERS
    share = attempts // submitters
    callbacks = bytearray(share * submitters)
    workers = [
        Submitter(executor, policy, share, n * share, callbacks, zlib.crc32(f"{kind} {n}".encode()))
        for n in range(submitters)
    ]
    try:
        run_all(workers)
    finally:
        executor.shutdown(wait=True)

    seen: Counter[str] = sum((worker.seen for worker in workers), Counter())
    for n, worker in enumerate(workers):
        # Submitter n's futures have slots n * share onwards, one each; the rest stay 0.
        slots = callbacks[n * share : (n + 1) * share]
        futures = worker.seen["futures"]
        runs = Counter(slots[:futures]) + Counter(slot for slot in slots[futures:] if slot)
        assert runs == Counter({1: futures}), f"submitter {n}: done-callbacks per future {runs}"
    stats = executor.statistics
    assert (stats.pending, stats.running, stats.scheduled) == (0, 0, 0), stats
    assert stats.submitted == stats.executed + stats.cancelled, stats
    assert stats.submitted + stats.rejected == seen["admissions"] == policy.asked, (
        stats,
        seen,
    )
    assert stats.rejected == seen["refused"], (stats, seen)
    assert stats.failures == seen["failed"], (stats, seen)
    assert stats.cancelled == seen["cancelled"], (stats, seen)
    assert stats.executed == seen["returned"] + seen["failed"] + seen["map items"], (stats, seen)
    # Every kind of operation happened, so none of the checks above held vacuously.
    # (A synchronous executor's call has ended when submit returns: no cancel can win.)
    cancels = "cancel too late" if kind == "synchronous" else "cancelled"
    for what in ("refused", "failed", cancels, "returned", "map items", "delayed cancelled"):
        assert seen[what] > 0, f"no {what!r} in {seen}"


class PoolSubmitter(Windowed):
    """One green or native thread's random ``Pool`` calls over an executor, and what it saw.

    ``apply_async`` raises ``RejectedSubmission`` when refused; the map
    family waits for room (so a refusal there is retried, each try asking
    ``check_and_reject`` again). Each async result's ``callback`` or
    ``error_callback`` marks its slot.
    """

    def __init__(
        self, pool: greenpool.Pool, operations: int, first_slot: int, marks: bytearray, seed: int
    ) -> None:
        self.pool = pool
        self.operations = operations
        self.slot = first_slot
        self.marks = marks
        self.random = random.Random(seed)
        self.window: deque[tuple[Any, str, int]] = deque()
        self.seen: Counter[str] = Counter()

    def marker(self) -> Callable[[object], None]:
        slot = self.slot
        self.slot += 1
        self.seen["async results"] += 1

        def mark(_value: object) -> None:
            self.marks[slot] += 1

        return mark

    def operate(self, i: int) -> None:
        draw = self.random.random()
        items = range(i, i + MAP_ITEMS)
        if draw < 0.1:
            mark = self.marker()
            result = self.pool.starmap_async(work, [(item, False) for item in items], callback=mark)
            self.window.append((result, "map", i))
            self.seen["map items"] += MAP_ITEMS
        elif draw < 0.2:
            values = sorted(self.pool.imap_unordered(double, items))
            assert values == [2 * item for item in items], values
            self.seen["map items"] += MAP_ITEMS
        else:
            fail = draw >= 0.8
            mark = self.marker()
            try:
                result = self.pool.apply_async(work, (i, fail), callback=mark, error_callback=mark)
            except greenpool.RejectedSubmission:
                self.seen["refused"] += 1
                # No result, so no callback: the slot goes to the next result (were
                # this callback ever to run, that slot would read 2).
                self.seen["async results"] -= 1
                self.slot -= 1
                return
            self.window.append((result, "failing" if fail else "returning", i))

    def settle(self, result: Any, how: str, i: int) -> None:
        if how == "map":
            assert result.get(60) == [2 * item for item in range(i, i + MAP_ITEMS)]
            return
        try:
            value = result.get(60)
        except ExpectedFailure as exc:
            assert how == "failing" and exc.args == (i,), f"{how} call {i} raised {exc!r}"
            self.seen["failed"] += 1
            return
        assert how == "returning" and value == 2 * i, f"{how} call {i} returned {value!r}"
        self.seen["returned"] += 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_randomized_pool_calls_over_each_executor_all_end_exactly_once(kind: str) -> None:
    policy = RandomRefusal()
    executor = KINDS[kind](check_and_reject=policy)
    pool = greenpool.Pool(executor=executor)
    submitters = GREEN_SUBMITTERS + NATIVE_SUBMITTERS
    share = POOL_ATTEMPTS // len(KINDS) // submitters
    marks = bytearray(share * submitters)
    workers = [
        PoolSubmitter(pool, share, n * share, marks, zlib.crc32(f"pool {kind} {n}".encode()))
        for n in range(submitters)
    ]
    try:
        run_all(workers)
    finally:
        pool.close()
        pool.join()
        executor.shutdown(wait=True)
    seen: Counter[str] = sum((worker.seen for worker in workers), Counter())
    for n, worker in enumerate(workers):
        slots = marks[n * share : (n + 1) * share]
        used = worker.slot - n * share
        runs = Counter(slots[:used]) + Counter(slot for slot in slots[used:] if slot)
        assert runs == Counter({1: used}), f"submitter {n}: callbacks per async result {runs}"
    stats = executor.statistics
    assert (stats.pending, stats.running, stats.cancelled) == (0, 0, 0), stats
    assert stats.submitted == stats.executed, stats
    assert stats.submitted + stats.rejected == policy.asked, (stats, policy.asked)
    assert stats.rejected >= seen["refused"] > 0, (stats, seen)  # The map family retries.
    assert stats.failures == seen["failed"] > 0, (stats, seen)
    assert seen["returned"] > 0 and seen["map items"] > 0, seen
