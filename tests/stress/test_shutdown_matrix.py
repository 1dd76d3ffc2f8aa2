"""The shutdown matrix (issue 14): every way of calling ``shutdown`` returns, as documented.

The axes, 4 x 2 x 2 x 4 x 3 = 192 cells:

* **kind**: ``GreenThreadPoolExecutor``, ``ThreadPoolExecutor``,
  ``DynamicThreadPoolExecutor``, ``ProcessPoolExecutor`` (the default start
  method, ``forkserver``), each with ``max_workers=2``.
* **wait**: ``shutdown(wait=True)`` or ``wait=False``.
* **cancel_futures**: True or False.
* **caller**: ``owner`` (the thread that made the executor; for the green
  executor, the thread whose hub runs it), ``worker`` (a call running on the
  pool shuts its own pool down), ``other_thread`` (another native OS thread;
  for the green executor the owner's hub keeps running meanwhile, its thread
  waiting with ``eventlet.sleep``), ``twice`` (two callers at once: two green
  threads of the owner's hub for the green executor, which take turns at
  each wait, two native threads released by a barrier otherwise).
* **state** when shutdown is called: ``idle`` (both workers started and
  idle), ``busy`` (both workers running a call held by a gate, three more
  calls queued behind them), ``submitting`` (one worker runs a call that got
  one more call accepted, queued, and submits again once shutdown has begun;
  the other runs a gated call). From a worker, the call that shuts the pool
  down takes the place of a gated call (``idle``: of an idle worker).

"busy" is deterministic, not timed: the calls wait on a gate (an eventlet
event, a ``threading.Event``, or a file the worker process polls for) and
the test waits for ``statistics.running`` before it shuts down. With
``wait=True`` the gate is opened by a helper (a green thread of the owner's
hub, or a native thread) once shutdown has begun and, with
``cancel_futures``, the queued calls are cancelled, then 10 ms later; with
``wait=False`` the test opens it itself once every caller has returned.

What each cell asserts, at the moment each caller's ``shutdown`` returns:

* ``wait=True``: every call that had started, and every queued call not
  cancelled, has finished; every worker has exited (``num_workers == 0``),
  except, from a worker, the caller's own: it waits for the other workers
  only (``num_workers == 1``).
* ``wait=False``: it returned while the gated calls were still held (not
  done), and, in ``busy``, while the queued calls could not have run.
* ``cancel_futures=True``: the calls queued when it was called are
  cancelled (``future.cancelled()``); without it they are not, and later run.
* ``submitting``: the call's second submit, made while shutdown runs, gets
  ``RuntimeError("cannot schedule new futures after shutdown")``, and
  shutdown still returns; the call it got accepted before is a queued call
  like the others.
* ``twice``: both callers return, each seeing the above; the queued calls
  are cancelled once (``statistics.cancelled`` is not doubled).

And once everything has ended: every future is done, the gated calls
returned their value (no gate timed out), the workers have exited on their
own, a later ``submit`` raises ``RuntimeError``, and the statistics add up
exactly: ``submitted`` is the number of calls accepted, ``cancelled`` the
number queued at shutdown if ``cancel_futures`` (else 0), ``executed ==
submitted - cancelled``, no failure, no rejection, ``pending == running ==
0``.

Cells that cannot exist, left out of the parameter list (168 cells run):

* **process x worker** (12 cells): a worker process has no handle on its
  pool. The pool does not pickle, so no call can carry it, nor its bound
  ``shutdown``, to a worker: such a submit fails with ``TypeError`` (checked
  by :func:`test_a_process_pool_cannot_be_handed_to_its_own_workers`). The
  nearest thing, ``shutdown`` from a done callback, which runs in the pool's
  manager thread, is ``tests/test_process.py::
  test_shutdown_from_a_done_callback_does_not_hang``.
* **process x submitting** (12 cells, the three other callers): for the same
  reason a call in a worker process cannot submit to its parent's pool.

One cell is also run in a form that is not left to timing
(:func:`test_a_second_shutdown_returns_once_the_calls_the_first_is_cancelling_are_done`):
``twice`` with ``cancel_futures``, the first caller held inside a done
callback of a call it cancels; a second ``shutdown(wait=True)`` must still
return with every queued call done (cancelled, on all but the process pool).

Bounded: every wait in a cell gives up after ``BOUND`` seconds with a
message naming what it waited for, a gated call raises ``GateTimeout``
rather than wait longer, and pytest-timeout ends a cell that hangs anyway.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import eventlet
import eventlet.event
import pytest
from shutdown_matrix_tasks import GateTimeout, wait_for_file

import greenpool
from greenpool.process import ProcessPoolExecutor

pytestmark = [pytest.mark.stress, pytest.mark.timeout(30)]

KINDS = ("green", "thread", "dynamic", "process")
WAITS = (True, False)
CANCELS = (True, False)
CALLERS = ("owner", "worker", "other_thread", "twice")
STATES = ("idle", "busy", "submitting")

#: Why a cell cannot exist, by (kind, caller) or (kind, state).
NOT_APPLICABLE = {
    ("process", "worker"): (
        "a worker process has no handle on its pool: the pool does not pickle, "
        "so no call can carry its shutdown to a worker"
    ),
    ("process", "submitting"): (
        "a call in a worker process cannot submit to its parent's pool: the pool does not pickle"
    ),
}

#: Seconds any wait of a cell may take before the cell fails; a passing cell takes at most
#: a few hundred milliseconds (a process pool's start).
BOUND = 5.0
#: How long after shutdown has begun the helper opens the gate (wait=True): long enough
#: that a shutdown that did not wait would return before the gated calls finish.
OPEN_DELAY = 0.01
QUEUED = 3
SHUT_DOWN_MESSAGE = "cannot schedule new futures after shutdown"


def not_applicable(kind: str, caller: str, state: str) -> str | None:
    return NOT_APPLICABLE.get((kind, caller)) or NOT_APPLICABLE.get((kind, state))


ALL_CELLS = list(itertools.product(KINDS, WAITS, CANCELS, CALLERS, STATES))
CELLS = [cell for cell in ALL_CELLS if not_applicable(cell[0], cell[3], cell[4]) is None]


def cell_id(kind: str, wait: bool, cancel: bool, caller: str, state: str) -> str:
    return "-".join(
        (kind, "wait" if wait else "nowait", "cancel" if cancel else "keep", caller, state)
    )


# -- gates: what keeps a worker busy until the test says ---------------------


class GreenGate:
    """An eventlet event; waited on by green workers, opened from the owner's hub only."""

    def __init__(self) -> None:
        self._event = eventlet.event.Event()

    @property
    def is_open(self) -> bool:
        return self._event.ready()

    def open(self) -> None:
        if not self._event.ready():
            self._event.send(True)

    def wait(self) -> bool:
        return self._event.wait(BOUND) is True

    def call(self, value: int) -> int:
        if not self.wait():
            raise GateTimeout("the gate was never opened")
        return value

    def task(self, value: int) -> tuple[Callable[..., int], tuple[Any, ...]]:
        return self.call, (value,)


class ThreadGate(GreenGate):
    """A ``threading.Event``, for worker threads."""

    def __init__(self) -> None:
        self._flag = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._flag.is_set()

    def open(self) -> None:
        self._flag.set()

    def wait(self) -> bool:
        return self._flag.wait(BOUND)


class FileGate(GreenGate):
    """A file that worker processes poll for (see shutdown_matrix_tasks)."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def is_open(self) -> bool:
        return os.path.exists(self.path)

    def open(self) -> None:
        with open(self.path, "a"):
            pass

    def task(self, value: int) -> tuple[Callable[..., int], tuple[Any, ...]]:
        return wait_for_file, (self.path, value, BOUND)


# -- callers: who runs what beside the owner ----------------------------------


class Caller:
    """Runs ``fn`` concurrently: in a native thread, or in a green thread of this hub."""

    def __init__(self, fn: Callable[[], Any], native: bool) -> None:
        self._fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False
        if native:
            threading.Thread(target=self._run, daemon=True).start()
        else:
            eventlet.spawn(self._run)

    def _run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done = True


@dataclasses.dataclass
class Backend:
    kind: str
    directory: str
    gates: list[GreenGate] = dataclasses.field(default_factory=list)
    _numbers: Any = dataclasses.field(default_factory=itertools.count)

    @property
    def green(self) -> bool:
        return self.kind == "green"

    def make(self) -> greenpool.Executor:
        if self.kind == "green":
            return greenpool.GreenThreadPoolExecutor(2)
        if self.kind == "thread":
            return greenpool.ThreadPoolExecutor(2)
        if self.kind == "dynamic":
            return greenpool.DynamicThreadPoolExecutor(2)
        return ProcessPoolExecutor(2)

    def gate(self) -> GreenGate:
        gate: GreenGate
        if self.kind == "green":
            gate = GreenGate()
        elif self.kind == "process":
            gate = FileGate(os.path.join(self.directory, f"gate-{next(self._numbers)}"))
        else:
            gate = ThreadGate()
        self.gates.append(gate)
        return gate

    def pause(self, seconds: float) -> None:
        """Sleep the right way here: green for a green executor (its workers run meanwhile)."""
        if self.green:
            eventlet.sleep(seconds)
        else:
            time.sleep(seconds)

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + BOUND
        while not predicate():
            assert time.monotonic() < deadline, f"gave up after {BOUND} s waiting for {what}"
            self.pause(0.001)

    def join(self, callers: list[Caller], what: str) -> list[Any]:
        """The callers' results, once all have returned (bounded); a caller's error is raised."""
        self.wait_until(lambda: all(caller.done for caller in callers), what)
        for caller in callers:
            if caller.error is not None:
                raise caller.error
        return [caller.result for caller in callers]


@dataclasses.dataclass(frozen=True)
class AtReturn:
    """What a caller of ``shutdown`` sees the moment it returns."""

    done: tuple[bool, ...]
    cancelled: tuple[bool, ...]
    workers: int


def at_return(executor: greenpool.Executor, tracked: list[Any]) -> AtReturn:
    return AtReturn(
        tuple(f.done() for f in tracked),
        tuple(f.cancelled() for f in tracked),
        executor.num_workers,
    )


def finish(backend: Backend, executor: greenpool.Executor) -> None:
    """After a cell, passed or failed: open every gate, then shut down, bounded."""
    for gate in backend.gates:
        gate.open()
    if backend.green:
        with eventlet.Timeout(BOUND, False):
            executor.shutdown(wait=True, cancel_futures=True)
    else:
        thread = threading.Thread(
            target=executor.shutdown, kwargs={"cancel_futures": True}, daemon=True
        )
        thread.start()
        thread.join(BOUND)


# -- the matrix ---------------------------------------------------------------


def test_the_matrix_is_complete() -> None:
    """192 cells: 168 run, 24 not applicable, each for a stated reason."""
    assert len(ALL_CELLS) == 4 * 2 * 2 * 4 * 3 == 192
    left_out = [cell for cell in ALL_CELLS if cell not in CELLS]
    assert len(CELLS) == 168
    assert len(left_out) == 24
    assert {cell[0] for cell in left_out} == {"process"}
    assert all(cell[3] == "worker" or cell[4] == "submitting" for cell in left_out)
    assert all(not_applicable(cell[0], cell[3], cell[4]) for cell in left_out)


@pytest.mark.parametrize(
    ("kind", "wait", "cancel_futures", "caller", "state"),
    [pytest.param(*cell, id=cell_id(*cell)) for cell in CELLS],
)
def test_shutdown(
    kind: str, wait: bool, cancel_futures: bool, caller: str, state: str, tmp_path: Any
) -> None:
    backend = Backend(kind, str(tmp_path))
    executor = backend.make()
    try:
        run_cell(backend, executor, wait, cancel_futures, caller, state)
    finally:
        finish(backend, executor)


def run_cell(
    b: Backend, executor: greenpool.Executor, wait: bool, cancel: bool, caller: str, state: str
) -> None:
    gate = b.gate()  # Holds the calls that keep workers busy.
    accepted = 0  # Calls accepted, besides those in the lists below.
    gated: list[Any] = []  # Running, held by the gate, when shutdown is called.
    queued: list[Any] = []  # Accepted and not started when shutdown is called.
    tracked: list[Any] = []  # Every call but the shutting-down one (caller worker).
    submitter: Any = None
    shutter: Any = None

    def submit_gated(on: GreenGate, value: int) -> Any:
        fn, args = on.task(value)
        return executor.submit(fn, *args)

    def running(count: int) -> None:
        b.wait_until(lambda: executor.statistics.running == count, f"{count} running calls")

    if state == "idle":
        # Both workers started, then idle.
        warm = b.gate()
        first = [submit_gated(warm, i) for i in range(2)]
        running(2)
        warm.open()
        assert [f.result(BOUND) for f in first] == [0, 1]
        accepted += 2

    if state == "submitting":
        begin = b.gate()
        children: list[Any] = []

        def submit_more() -> BaseException | None:
            if not begin.wait():
                raise GateTimeout("begin was never opened")
            children.append(executor.submit(abs, -7))  # Both workers busy: queued.
            b.wait_until(lambda: not executor.alive, "shutdown to begin")
            try:
                executor.submit(abs, -8)
            except RuntimeError as exc:
                return exc
            return None

        submitter = executor.submit(submit_more)

    if caller == "worker":
        go = b.gate()

        def shut_down_here() -> AtReturn:
            if not go.wait():
                raise GateTimeout("go was never opened")
            executor.shutdown(wait=wait, cancel_futures=cancel)
            return at_return(executor, tracked)

        shutter = executor.submit(shut_down_here)

    # The other workers: held by the gate.
    workers_left = 2 - (shutter is not None) - (submitter is not None)
    if state != "idle":
        gated = [submit_gated(gate, i) for i in range(workers_left)]
    running(2 if state != "idle" else int(shutter is not None))
    if state == "busy":
        queued = [executor.submit(abs, -i) for i in range(1, QUEUED + 1)]
    if state == "submitting":
        begin.open()
        b.wait_until(lambda: bool(children), "the submitting call's first submit")
        queued = list(children)
    tracked.extend(gated + queued + ([submitter] if submitter is not None else []))
    assert not any(f.done() for f in tracked)

    opener = None
    if wait and gated:

        def open_once_shutting_down() -> None:
            try:
                b.wait_until(
                    lambda: not executor.alive and (not cancel or all(f.done() for f in queued)),
                    "shutdown to begin (and cancel the queued calls)",
                )
                b.pause(OPEN_DELAY)
            finally:
                gate.open()

        opener = Caller(open_once_shutting_down, native=not b.green)

    def shut_down() -> AtReturn:
        executor.shutdown(wait=wait, cancel_futures=cancel)
        return at_return(executor, tracked)

    if caller == "owner":
        returns = [shut_down()]
    elif caller == "other_thread":
        returns = b.join([Caller(shut_down, native=True)], "shutdown in another thread")
    elif caller == "twice":
        if b.green:
            start = eventlet.event.Event()

            def shut_down_together() -> AtReturn:
                start.wait()
                return shut_down()

            both = [Caller(shut_down_together, native=False) for _ in range(2)]
            start.send(True)
        else:
            barrier = threading.Barrier(2, timeout=BOUND)

            def shut_down_together() -> AtReturn:
                barrier.wait()
                return shut_down()

            both = [Caller(shut_down_together, native=True) for _ in range(2)]
        returns = b.join(both, "both shutdowns")
    else:
        go.open()
        b.wait_until(shutter.done, "shutdown in a worker to return")
        returns = [shutter.result(0)]

    # -- what each caller saw as its shutdown returned --------------------------
    queued_ids = {id(f) for f in queued}
    expect_cancelled = tuple(cancel and id(f) in queued_ids for f in tracked)
    for seen in returns:
        if wait:
            assert seen.done == (True,) * len(tracked), seen
            assert seen.cancelled == expect_cancelled, seen
            # From a worker it waits for the other workers, not for itself.
            assert seen.workers == (1 if caller == "worker" else 0), seen
        else:
            gated_done = seen.done[: len(gated)]
            assert gated_done == (False,) * len(gated), seen  # Returned while they ran.
            queued_seen = seen.cancelled[len(gated) : len(gated) + len(queued)]
            assert queued_seen == (cancel,) * len(queued), seen
            if state == "busy":
                assert seen.done[len(gated) : len(gated) + len(queued)] == (cancel,) * QUEUED, seen

    # -- once everything has ended ----------------------------------------------
    gate.open()
    if opener is not None:
        b.join([opener], "the gate's opener")
    b.wait_until(lambda: all(f.done() for f in tracked), "every call to end")
    assert [f.result(0) for f in gated] == list(range(len(gated)))
    if cancel:
        assert all(f.cancelled() for f in queued)
    else:
        expected = {"idle": [], "busy": [1, 2, 3], "submitting": [7]}[state]
        assert [f.result(0) for f in queued] == expected
    if submitter is not None:
        refused = submitter.result(0)
        assert isinstance(refused, RuntimeError), refused
        assert str(refused) == SHUT_DOWN_MESSAGE
    if shutter is not None:
        assert isinstance(shutter.result(0), AtReturn)
    b.wait_until(lambda: executor.num_workers == 0, "every worker to exit")
    assert not executor.alive
    with pytest.raises(RuntimeError, match=SHUT_DOWN_MESSAGE):
        executor.submit(abs, -1)

    submitted = accepted + len(tracked) + (shutter is not None)
    cancelled = len(queued) if cancel else 0
    stats = executor.statistics
    counts = (stats.submitted, stats.executed, stats.cancelled, stats.failures, stats.rejected)
    assert counts == (submitted, submitted - cancelled, cancelled, 0, 0), stats
    assert (stats.pending, stats.running) == (0, 0), stats
    assert stats.submitted == stats.executed + stats.cancelled


# -- twice at once, the first caller held while it cancels ---------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_shutdown_returns_once_the_calls_the_first_is_cancelling_are_done(
    kind: str, tmp_path: Any
) -> None:
    """The cell ``twice`` with ``cancel_futures``, not left to timing: the first caller
    takes the queued calls, then is held inside the done callback of the first one it
    cancels (callbacks run outside every lock, so it can be). A second
    ``shutdown(wait=True)`` returns only once every one of them is done. (The green and
    thread pools used to return while two of them were still pending, out of every queue,
    never to run: now the second shutdown withdraws them too.)

    On the green and thread pools they are cancelled: they left the queue when the first
    shutdown took them. The process pool leaves each where it is until it is withdrawn,
    and a worker that falls idle meanwhile may start it (each call's holder decides at
    its withdrawal, see greenpool.process): there each is cancelled or has run."""
    b = Backend(kind, str(tmp_path))
    executor = b.make()
    try:
        gate = b.gate()
        gated = [executor.submit(fn, *args) for fn, args in (gate.task(0), gate.task(1))]
        b.wait_until(lambda: executor.statistics.running == 2, "2 running calls")
        queued = [executor.submit(abs, -i) for i in range(1, QUEUED + 1)]
        in_callback = threading.Event()
        release = threading.Event()

        def hold_the_first_canceller(_: Any) -> None:
            in_callback.set()
            release.wait(BOUND)

        queued[0].add_done_callback(hold_the_first_canceller)
        first = Caller(lambda: executor.shutdown(wait=False, cancel_futures=True), native=True)
        b.wait_until(in_callback.is_set, "the first shutdown to cancel the first queued call")
        gate.open()
        executor.shutdown(wait=True, cancel_futures=True)
        seen = at_return(executor, queued)
        release.set()
        b.join([first], "the first shutdown")
        assert seen.done == (True,) * QUEUED, seen
        assert seen.workers == 0, seen
        assert queued[0].cancelled()
        if kind == "process":
            assert all(f.cancelled() or f.result(0) == i for i, f in enumerate(queued, 1))
        else:
            assert seen.cancelled == (True,) * QUEUED, seen
        assert [f.result(0) for f in gated] == [0, 1]
        cancelled = sum(f.cancelled() for f in queued)
        stats = executor.statistics
        counts = (stats.submitted, stats.executed, stats.cancelled, stats.failures)
        assert counts == (5, 5 - cancelled, cancelled, 0), stats
        assert (stats.pending, stats.running) == (0, 0), stats
    finally:
        finish(b, executor)


# -- what makes the process pool's missing cells impossible ----------------------


def test_a_process_pool_cannot_be_handed_to_its_own_workers() -> None:
    """Why process x worker and process x submitting are not in the matrix: a call that
    would shut the pool down or submit to it cannot reach a worker process. It fails to
    pickle, alone; the pool goes on."""
    executor = ProcessPoolExecutor(1)
    try:
        for fn, args in (
            (executor.shutdown, ()),
            (executor.submit, (abs, -1)),
            (id, (executor,)),
        ):
            error = executor.submit(fn, *args).exception(BOUND * 2)
            assert isinstance(error, TypeError), error
            assert "pickle" in str(error)
        assert executor.alive
        assert executor.submit(abs, -3).result(BOUND * 2) == 3
    finally:
        executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.submitted, stats.failures, stats.pending, stats.running) == (4, 3, 0, 0)
