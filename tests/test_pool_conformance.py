"""greenpool.Pool against multiprocessing.Pool, side by side: the same calls, the same outcomes.

Each test runs one body against every pool kind in :data:`KINDS`: the
reference (``multiprocessing.Pool``) and ``greenpool.Pool`` over each
executor (its own process pool, and pools over the thread, green, dynamic
and synchronous executors), and asserts the same results, result order,
exceptions (type and message), ready()/successful() states, callback calls
and timeout classes. Where greenpool deliberately differs (the issue and
the README lists each), the test is named ``test_difference_...`` and pins
BOTH behaviours: what the stdlib does and what greenpool does instead.
Known greenpool bugs are ``xfail(strict=True)`` on the greenpool kinds,
with the stdlib's behaviour as the expectation.

The reference pool uses the ``forkserver`` start method (the same
``multiprocessing.pool.Pool`` class as ``multiprocessing.Pool()``, and
greenpool's default start method): forking this multi-threaded test
process (greenpool's manager threads, pytest-timeout's thread) can
deadlock a child, and warns on 3.12+.

Everything the workers run lives in ``pool_tasks`` (so it pickles by
reference). Every wait has a timeout of its own, so a hang fails one test
instead of ending the run (pytest-timeout's thread method would). Pools
that a test does not close or terminate are shared per kind (module
scope); every pool made here is terminated and joined at teardown.
"""

from __future__ import annotations

import builtins
import dataclasses
import gc
import itertools
import logging
import math
import multiprocessing
import multiprocessing.pool
import os
import pickle
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pool_tasks
import pytest
from conftest import run_python
from hypothesis import given, settings
from hypothesis import strategies as st
from pool_tasks import TaskError

import greenpool
from greenpool.pool import PoolTerminated
from greenpool.process import WorkerLostError
from greenpool.rejection import reject_when_reached

pytestmark = pytest.mark.timeout(30)

#: ``multiprocessing.Pool`` first: the reference every other kind is held to.
KINDS = ("stdlib", "processes", "threads", "green", "dynamic", "synchronous")
GREENPOOL_KINDS = KINDS[1:]
PROCESS_KINDS = ("stdlib", "processes")
#: Kinds whose calls run in this process (so nothing they are given is pickled).
IN_PROCESS_KINDS = ("threads", "green", "dynamic", "synchronous")

#: What a wait that must not time out waits at most.
PATIENCE = 10.0

EXECUTORS: dict[str, Callable[[], greenpool.Executor]] = {
    "threads": lambda: greenpool.ThreadPoolExecutor(2),
    "green": lambda: greenpool.GreenThreadPoolExecutor(4),
    "dynamic": lambda: greenpool.DynamicThreadPoolExecutor(2),
    "synchronous": greenpool.SynchronousExecutor,
}


def make_pool(kind: str, processes: int = 2, **settings: Any) -> Any:
    """A pool of ``kind``: ``processes`` and ``settings`` go to the process pools' constructor."""
    if kind == "stdlib":
        return multiprocessing.get_context("forkserver").Pool(processes, **settings)
    if kind == "processes":
        return greenpool.Pool(processes, **settings)
    assert not settings, f"{kind} pools take no process settings"
    return greenpool.Pool(executor=EXECUTORS[kind]())


def stop(pool: Any, kind: str) -> None:
    """Terminate and join ``pool``; shut down an executor it drives but does not own."""
    pool.terminate()
    pool.join()
    if kind in IN_PROCESS_KINDS:
        pool.executor.shutdown(wait=True, cancel_futures=True)


def workers(pool: Any, kind: str) -> int:
    """How many calls ``pool`` runs at once."""
    return 2 if kind == "stdlib" else pool.executor.max_workers


def pause(kind: str, seconds: float) -> None:
    """Sleep in the test, letting the green kind's green threads (in this thread's hub) run."""
    if kind == "green":
        import eventlet

        eventlet.sleep(seconds)
    else:
        time.sleep(seconds)


def eventually(kind: str, condition: Callable[[], bool], within: float = PATIENCE) -> bool:
    """Whether ``condition()`` becomes true within ``within`` seconds (polled)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause(kind, 0.01)
    return True


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def pool(kind: str) -> Iterator[Any]:
    """A pool of ``kind`` shared by the tests that neither close nor terminate it."""
    shared = make_pool(kind)
    yield shared
    stop(shared, kind)


@pytest.fixture
def pools() -> Iterator[Callable[..., Any]]:
    """``pools(kind, ...)``: fresh pools (as :func:`make_pool`), stopped after the test."""
    made: list[tuple[Any, str]] = []

    def factory(kind: str, *args: Any, **kwargs: Any) -> Any:
        fresh = make_pool(kind, *args, **kwargs)
        made.append((fresh, kind))
        return fresh

    yield factory
    failures = []
    for fresh, kind in made:
        try:
            stop(fresh, kind)
        except Exception as exc:  # Stop the others all the same.
            failures.append(exc)
    if failures:
        raise failures[0]


@pytest.fixture(params=PROCESS_KINDS)
def process_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=GREENPOOL_KINDS)
def greenpool_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- outcomes, comparable across kinds ----------------------------------------


@dataclasses.dataclass(frozen=True)
class Raised:
    """An exception, as a test compares it: its type and message."""

    type: type[BaseException]
    message: str

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        return cls(type(exc), str(exc))


STOP = "<StopIteration>"


def attempt(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``'s result, or the :class:`Raised` it raised."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:
        return Raised.of(exc)


def outcomes(iterator: Iterator[Any], limit: int = 200) -> list[Any]:
    """Every step of ``iterator``: each result or :class:`Raised`, then :data:`STOP` (and
    one step more must stop again). Steps wait at most :data:`PATIENCE` where the iterator
    takes a timeout; a timeout fails the test (a hang is not an outcome)."""
    step = getattr(iterator, "next", None)  # The stdlib's imap(chunksize>1) has none.
    seen: list[Any] = []
    for _ in range(limit):
        try:
            seen.append(step(PATIENCE) if step is not None else next(iterator))
        except StopIteration:
            seen.append(STOP)
            with pytest.raises(StopIteration):
                next(iterator)
            return seen
        except multiprocessing.TimeoutError:
            raise AssertionError(f"no next item within {PATIENCE} s after {seen}") from None
        except Exception as exc:
            seen.append(Raised.of(exc))
    raise AssertionError(f"no end after {limit} steps: {seen[:20]}...")


def squares(items: Iterable[int]) -> list[int]:
    return [x * x for x in items]


def submitted(pool: Any) -> int | None:
    """The executor's count of accepted calls (greenpool); ``None`` for the stdlib."""
    statistics = getattr(pool, "statistics", None)
    return None if statistics is None else statistics.submitted


# -- apply, map and the rest: results ------------------------------------------


def test_apply_and_apply_async_return_the_result(pool: Any) -> None:
    assert pool.apply(pool_tasks.square, (7,)) == 49
    assert pool.apply(pool_tasks.square, [8]) == 64  # args: any iterable
    assert pool.apply(pool_tasks.no_arguments) == "nothing"
    assert pool.apply(pool_tasks.power, (3,), {"exponent": 3, "offset": 1}) == 28
    result = pool.apply_async(pool_tasks.power, (2,), {"offset": 5})
    assert result.get(timeout=PATIENCE) == 9
    assert result.ready() and result.successful()
    assert result.wait(PATIENCE) is None
    assert result.get(timeout=0) == 9  # Ready: no waiting, the same value again.


def test_get_reraises_the_calls_exception(pool: Any) -> None:
    result = pool.apply_async(pool_tasks.raise_task_error, ("boom",))
    with pytest.raises(TaskError, match=r"^boom$") as first:
        result.get(timeout=PATIENCE)
    assert result.ready() and not result.successful()
    with pytest.raises(TaskError) as again:
        result.get(timeout=0)
    assert again.value is first.value  # The same exception, raised each time.
    with pytest.raises(TaskError, match=r"^direct$"):
        pool.apply(pool_tasks.raise_task_error, ("direct",))


def inputs() -> list[tuple[str, Callable[[], Iterable[int]]]]:
    return [
        ("empty", list),
        ("list", lambda: list(range(23))),
        ("generator", lambda: (x for x in range(23))),
        ("range", lambda: range(5, 12)),
    ]


def run_method(pool: Any, method: str, items: Iterable[int], chunksize: int | None) -> list[Any]:
    """``method`` of ``pool`` over ``items``: its results as a list (sorted if unordered)."""
    if method in ("map", "map_async"):
        result = getattr(pool, method)(pool_tasks.square, items, chunksize)
    elif method in ("starmap", "starmap_async"):
        pairs = [(x, x) for x in items]
        result = getattr(pool, method)(pool_tasks.power, pairs, chunksize)
        # power(x, x) is x**x; compared with the builtin below.
    else:
        result = list(getattr(pool, method)(pool_tasks.square, items, chunksize))
    if method.endswith("_async"):
        result = result.get(timeout=PATIENCE)
    return sorted(result) if method == "imap_unordered" else result


@pytest.mark.parametrize(
    ("method", "chunksize"),
    [
        *((m, c) for m in ("map", "map_async", "starmap", "starmap_async") for c in (None, 1, 3)),
        *((m, c) for m in ("imap", "imap_unordered") for c in (1, 3)),
    ],
)
def test_map_family_matches_the_builtin(pool: Any, method: str, chunksize: int | None) -> None:
    for name, make in inputs():
        expected_items = list(make())
        if method.startswith("starmap"):
            expected = [x**x for x in expected_items]
        else:
            expected = squares(expected_items)
        if method == "imap_unordered":
            expected.sort()
        assert run_method(pool, method, make(), chunksize) == expected, name


@settings(max_examples=8, deadline=None)
@given(
    items=st.lists(st.integers(-1000, 1000), max_size=30),
    chunksize=st.one_of(st.none(), st.integers(1, 5)),
)
def test_map_and_imap_over_random_input_match_the_builtin(
    pool: Any, items: list[int], chunksize: int | None
) -> None:
    assert pool.map(pool_tasks.square, items, chunksize) == squares(items)
    assert list(pool.imap(pool_tasks.square, items, chunksize or 1)) == squares(items)


@pytest.mark.parametrize("chunksize", [None, 1, 3])
@pytest.mark.parametrize("method", ["map", "map_async", "starmap", "starmap_async"])
def test_map_raises_the_items_exception(pool: Any, method: str, chunksize: int | None) -> None:
    items: list[Any] = list(range(10))
    if method.startswith("starmap"):
        items = [(x, 3) for x in items]
    with pytest.raises(TaskError, match=r"^bad item 3$"):
        result = getattr(pool, method)(pool_tasks.fail_on, items, chunksize)
        if method.endswith("_async"):
            assert result.wait(PATIENCE) is None
            assert result.ready() and not result.successful()
            result.get(timeout=0)
    assert pool.map(pool_tasks.square, [2]) == [4]  # The pool goes on.


@pytest.mark.parametrize("method", ["imap", "imap_unordered"])
def test_imap_chunksize_1_raises_at_the_items_place_and_goes_on(pool: Any, method: str) -> None:
    steps = outcomes(getattr(pool, method)(pool_tasks.fail_on, range(6)))
    failure = Raised(TaskError, "bad item 3")
    if method == "imap":
        assert steps == [0, 1, 2, failure, 4, 5, STOP]
    else:
        assert steps[-1] == STOP and failure in steps
        assert sorted(s for s in steps[:-1] if s != failure) == [0, 1, 2, 4, 5]


def test_map_over_an_iterable_that_raises_raises_at_the_call(pool: Any) -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise TaskError("input broke")

    for method in ("map", "map_async", "starmap", "starmap_async"):
        # Both list the input at the call: the input's exception is raised there.
        with pytest.raises(TaskError, match=r"^input broke$"):
            getattr(pool, method)(pool_tasks.square, broken())


def test_pools_cannot_be_pickled(pool: Any) -> None:
    with pytest.raises(NotImplementedError, match="pool objects cannot be passed"):
        pickle.dumps(pool)


# -- callbacks -----------------------------------------------------------------


def test_callbacks_run_once_with_the_outcome_before_ready(pool: Any, kind: str) -> None:
    calls: list[tuple[str, Any]] = []

    def on(name: str) -> Callable[[Any], None]:
        return lambda value: calls.append((name, value))

    ok = pool.apply_async(pool_tasks.square, (5,), callback=on("ok"), error_callback=on("e"))
    ok.wait(PATIENCE)
    assert calls == [("ok", 25)]  # Before ready(): seen as soon as wait() returns.

    calls.clear()
    bad = pool.apply_async(
        pool_tasks.raise_task_error, ("x",), callback=on("cb"), error_callback=on("error")
    )
    bad.wait(PATIENCE)
    assert [(name, Raised.of(value)) for name, value in calls] == [
        ("error", Raised(TaskError, "x"))
    ]
    with pytest.raises(TaskError) as raised:
        bad.get(timeout=0)
    assert calls[0][1] is raised.value  # The error_callback gets the very exception.

    calls.clear()
    mapped = pool.map_async(pool_tasks.square, range(7), 2, on("map"), on("map-error"))
    mapped.wait(PATIENCE)
    assert calls == [("map", squares(range(7)))]

    calls.clear()
    failed = pool.starmap_async(pool_tasks.fail_on, [(1, 1), (2, 0)], 1, on("cb"), on("error"))
    failed.wait(PATIENCE)
    assert [(name, Raised.of(value)) for name, value in calls] == [
        ("error", Raised(TaskError, "bad item 1"))
    ]

    calls.clear()
    pool.apply(pool_tasks.square, (1,))
    pause(kind, 0.05)
    assert calls == []  # Each ran once: nothing more came later.


def test_difference_map_async_over_empty_input_calls_back(pool: Any, kind: str) -> None:
    calls: list[Any] = []
    result = pool.map_async(pool_tasks.square, [], callback=calls.append)
    assert result.get(timeout=PATIENCE) == []
    pause(kind, 0.05)
    if kind == "stdlib":
        assert calls == []  # An empty map is ready at once and never calls back.
    else:
        assert calls == [[]]  # greenpool calls back with the (empty) results.


def test_difference_the_thread_callbacks_run_in(pool: Any, kind: str) -> None:
    spans: list[tuple[float, float, int]] = []

    def slow_callback(value: object) -> None:
        start = time.monotonic()
        time.sleep(0.15)
        spans.append((start, time.monotonic(), threading.get_ident()))

    results = [pool.apply_async(pool_tasks.nap, (0.05,), callback=slow_callback) for _ in "ab"]
    if kind == "synchronous":
        assert len(spans) == 2  # Already called back, in apply_async itself.
    for result in results:
        result.wait(PATIENCE)
    assert len(spans) == 2
    (_, end1, thread1), (start2, _, thread2) = sorted(spans)
    overlapped = start2 < end1
    here = threading.get_ident()
    if kind in ("stdlib", "processes"):
        # The stdlib's one result-handler thread; greenpool's process pool's manager thread.
        assert thread1 == thread2 != here and not overlapped
    elif kind in ("green", "synchronous"):
        assert thread1 == thread2 == here and not overlapped  # This thread (its hub).
    elif kind == "threads":
        # Each in the worker thread that ran the call: at the same time, in two threads.
        assert thread1 != thread2 and here not in (thread1, thread2) and overlapped
    else:  # dynamic: worker threads too, one or two of them.
        assert here not in (thread1, thread2)


#: What kills a multiprocessing.Pool's result-handler thread, run in an interpreter of its own.
STDLIB_BROKEN_RESULT_HANDLER = """
import multiprocessing, sys
sys.path.insert(0, sys.argv[2])
import pool_tasks

def explode(value):
    raise RuntimeError("callback failed")

pool = multiprocessing.get_context("forkserver").Pool(1)
if sys.argv[1] == "an exception that does not unpickle":
    first = pool.apply_async(pool_tasks.raise_needs_two_arguments)
else:
    callback = explode if sys.argv[1] == "raises" else 3
    first = pool.apply_async(pool_tasks.square, (2,), callback=callback)
print("accepted")
first.wait(1)
later = pool.apply_async(pool_tasks.square, (3,))
later.wait(0.3)
print("first ready", first.ready())
print("later ready", later.ready())
print("result handler alive", pool._result_handler.is_alive())
try:
    pool.terminate()
except AssertionError as exc:
    print("terminate raised AssertionError:", exc)
pool.join()
print("joined")
"""


def assert_stdlib_result_handler_dies(scenario: str, error: str) -> None:
    """Run ``scenario`` of :data:`STDLIB_BROKEN_RESULT_HANDLER`: its result-handler thread
    dies of ``error`` (printed by threading.excepthook), so neither that result nor any
    later one is ever ready, and terminate() then fails an assertion."""
    tests = os.path.dirname(os.path.abspath(__file__))
    done = run_python(STDLIB_BROKEN_RESULT_HANDLER, 20, scenario, tests)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "accepted",
        "first ready False",
        "later ready False",
        "result handler alive False",
        "terminate raised AssertionError: Cannot have cache with result_hand"
        + ("ler" if sys.version_info >= (3, 12) else "er")
        + " not alive",
        "joined",
    ]
    assert "Exception in thread" in done.stderr and error in done.stderr


@pytest.mark.parametrize("callback", ["raises", "not callable"])
def test_difference_a_broken_callback(
    kind: str, pools: Callable[..., Any], callback: str, caplog: pytest.LogCaptureFixture
) -> None:
    if kind == "stdlib":
        # Accepted at the call; run apart, as it breaks the pool for good.
        error = "callback failed" if callback == "raises" else "'int' object is not callable"
        assert_stdlib_result_handler_dies(callback, error)
        return
    pool = pools(kind)
    if callback == "not callable":
        before = submitted(pool)
        with pytest.raises(TypeError, match="callback must be callable"):
            pool.apply_async(pool_tasks.square, (2,), callback=3)
        with pytest.raises(TypeError, match="error_callback must be callable"):
            pool.map_async(pool_tasks.square, [2], error_callback=3)
        assert submitted(pool) == before  # Refused at the call, nothing queued.
        assert pool.apply(pool_tasks.square, (3,)) == 9
        return

    def explode(value: object) -> None:
        raise RuntimeError("callback failed")

    with caplog.at_level(logging.ERROR, logger="greenpool"):
        first = pool.apply_async(pool_tasks.square, (2,), callback=explode)
        assert first.get(timeout=PATIENCE) == 4  # Ready all the same, with its value.
        failing = pool.apply_async(pool_tasks.raise_task_error, ("x",), error_callback=explode)
        with pytest.raises(TaskError):
            failing.get(timeout=PATIENCE)
        mapped = pool.map_async(pool_tasks.square, [3], callback=explode)
        assert mapped.get(timeout=PATIENCE) == [9]
    logged = [r for r in caplog.records if r.name == "greenpool"]
    assert len(logged) == 3, caplog.text
    assert all(isinstance(r.exc_info[1], RuntimeError) for r in logged if r.exc_info)
    assert "callback failed" in caplog.text
    assert pool.apply_async(pool_tasks.square, (3,)).get(timeout=PATIENCE) == 9  # It goes on.


# -- timeouts ------------------------------------------------------------------


def test_timeouts_raise_in_time_and_wait_returns(kind: str, pools: Callable[..., Any]) -> None:
    pool = pools(kind)
    pool.apply(pool_tasks.square, (1,))  # The workers are up.
    started = time.monotonic()
    slow = pool.apply_async(pool_tasks.nap, (0.3 if kind == "synchronous" else 0.8, "late"))
    if kind == "synchronous":
        # The call ran in apply_async itself: nothing is left to time out.
        assert time.monotonic() - started >= 0.25
        assert slow.ready() and slow.get(timeout=0.1) == "late"
        assert pool.imap(pool_tasks.nap, [0.2]).next(timeout=0.01) is None
        return
    assert not slow.ready()
    with pytest.raises(ValueError, match="not ready"):
        slow.successful()
    started = time.monotonic()
    assert slow.wait(0.2) is None
    assert 0.15 <= time.monotonic() - started < 0.8 and not slow.ready()
    errors = []
    for get in (
        lambda: slow.get(timeout=0.2),
        lambda: pool.imap(pool_tasks.nap, [0.6]).next(timeout=0.2),
        lambda: pool.imap_unordered(pool_tasks.nap, [0.6]).next(timeout=0.2),
        lambda: pool.map_async(pool_tasks.nap, [0.6]).get(timeout=0.2),
    ):
        started = time.monotonic()
        with pytest.raises(multiprocessing.TimeoutError) as raised:
            get()
        assert 0.15 <= time.monotonic() - started < 0.8
        errors.append(raised.value)
    for error in errors:
        # The stdlib's is multiprocessing.TimeoutError alone; greenpool's is also the
        # builtin TimeoutError (so also concurrent.futures.TimeoutError on 3.11+).
        assert isinstance(error, builtins.TimeoutError) == (kind != "stdlib")
    assert slow.get(timeout=PATIENCE) == "late" and slow.successful()


# -- lifecycle -----------------------------------------------------------------

CALLS_AFTER_STOP: dict[str, Callable[[Any], object]] = {
    "apply": lambda p: p.apply(pool_tasks.square, (1,)),
    "apply_async": lambda p: p.apply_async(pool_tasks.square, (1,)),
    "map": lambda p: p.map(pool_tasks.square, [1]),
    "map_async": lambda p: p.map_async(pool_tasks.square, [1]),
    "starmap": lambda p: p.starmap(pool_tasks.add, [(1, 2)]),
    "starmap_async": lambda p: p.starmap_async(pool_tasks.add, [(1, 2)]),
    "imap": lambda p: p.imap(pool_tasks.square, [1]),
    "imap_unordered": lambda p: p.imap_unordered(pool_tasks.square, [1]),
    "with": lambda p: p.__enter__(),
}


def assert_refused_after_stop(pool: Any) -> None:
    before = submitted(pool)
    for name, call in CALLS_AFTER_STOP.items():
        with pytest.raises(ValueError, match=r"^Pool not running$"):
            call(pool)
            pytest.fail(f"{name} was accepted")
    assert submitted(pool) == before


def test_close_refuses_new_work_and_lets_accepted_work_finish(
    kind: str, pools: Callable[..., Any]
) -> None:
    pool = pools(kind)
    late = pool.apply_async(pool_tasks.nap, (0.2, "late"))
    mapped = pool.map_async(pool_tasks.square, range(10), 2)
    pool.close()
    assert_refused_after_stop(pool)
    pool.close()  # Again: nothing changes.
    started = time.monotonic()
    pool.join()
    assert time.monotonic() - started < PATIENCE
    assert late.ready() and late.get(timeout=0) == "late"
    assert mapped.ready() and mapped.get(timeout=0) == squares(range(10))
    pool.join()  # Again: returns.


def test_join_before_close_or_terminate_raises_value_error(pool: Any) -> None:
    with pytest.raises(ValueError, match=r"^Pool is still running$"):
        pool.join()
    assert pool.apply(pool_tasks.square, (4,)) == 16  # Nothing changed.


def test_context_manager_exit_terminates(kind: str, pools: Callable[..., Any]) -> None:
    pool = pools(kind)
    with pool as entered:
        assert entered is pool
        assert pool.apply(pool_tasks.square, (3,)) == 9
    assert_refused_after_stop(pool)
    pool.join()
    pool.terminate()  # Again: nothing happens.


def test_difference_terminate_fails_what_it_stops(kind: str, pools: Callable[..., Any]) -> None:
    pool = pools(kind)
    pool.apply(pool_tasks.square, (1,))
    count = workers(pool, kind)
    running = [pool.apply_async(pool_tasks.nap, (0.6, n)) for n in range(count)]
    if kind == "stdlib":
        time.sleep(0.4)
    else:
        assert eventually(kind, lambda: pool.statistics.running == count or kind == "synchronous")
    pending = [pool.apply_async(pool_tasks.square, (n,)) for n in range(3)]
    pool.terminate()
    started = time.monotonic()
    pool.join()
    joined = time.monotonic() - started
    assert_refused_after_stop(pool)
    if kind == "stdlib":
        # The workers are killed; every result not yet ready stays unready for ever.
        assert joined < 0.5
        for result in running + pending:
            with pytest.raises(multiprocessing.TimeoutError):
                result.get(timeout=0.05)
            with pytest.raises(ValueError, match="not ready"):
                result.successful()
        return
    for result in running + pending:
        assert result.ready()  # greenpool: every result is settled, none hangs.
    got = [attempt(result.get, timeout=0) for result in running]
    pending_got = [attempt(result.get, timeout=0) for result in pending]
    terminated = Raised(PoolTerminated, "the pool was terminated before the call ran")
    if kind == "synchronous":
        # Nothing was left to stop: each call ran in apply_async.
        assert got == [0] and pending_got == [0, 1, 4]
    elif kind == "processes":
        # It owns its process pool: the running calls' workers are killed.
        assert joined < 0.5
        assert [type(g) is Raised and g.type for g in got] == [WorkerLostError] * count
        assert pending_got == [terminated] * 3
    else:
        # Threads cannot be killed: join() waits for the running calls, which finish.
        assert joined > 0.2
        assert got == list(range(count)) and pending_got == [terminated] * 3


# -- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"processes": 0}, ValueError, "^Number of processes must be at least 1$"),
        ({"processes": -1}, ValueError, "^Number of processes must be at least 1$"),
        ({"initializer": 5}, TypeError, "^initializer must be a callable$"),
        ({"maxtasksperchild": 0}, ValueError, r"^maxtasksperchild must be a positive int or None$"),
        ({"maxtasksperchild": -1}, ValueError, "^maxtasksperchild must be a positive int or None$"),
    ],
)
def test_bad_pool_settings_are_refused(
    process_kind: str, settings: dict[str, Any], error: type[Exception], message: str
) -> None:
    constructor = (
        multiprocessing.get_context("forkserver").Pool
        if process_kind == "stdlib"
        else greenpool.Pool
    )
    arguments = {"processes": 1, **settings}
    with pytest.raises(error, match=message):
        constructor(**arguments)


@pytest.mark.parametrize(
    ("settings", "error"),
    [({"processes": True}, TypeError), ({"processes": 1, "maxtasksperchild": True}, ValueError)],
)
def test_difference_a_bool_as_a_count_of_workers_or_tasks(
    process_kind: str, pools: Callable[..., Any], settings: dict[str, Any], error: type[Exception]
) -> None:
    if process_kind == "stdlib":
        # True is the int 1 to the stdlib: one worker process, one task per child.
        pool = pools("stdlib", **settings)
        assert pool.map(pool_tasks.square, [1, 2]) == [1, 4]
    else:
        with pytest.raises(error):
            pools(process_kind, **settings)


@pytest.mark.parametrize("method", ["map", "imap"])
def test_difference_a_bool_or_float_chunksize(pool: Any, kind: str, method: str) -> None:
    call = getattr(pool, method)
    if kind != "stdlib":
        for chunksize in (True, 1.5):
            before = submitted(pool)
            with pytest.raises(ValueError, match=r"^Chunksize must be 1\+, not"):
                call(pool_tasks.square, [1, 2], chunksize)
            assert submitted(pool) == before
        return
    # True is the int 1 to the stdlib.
    assert list(call(pool_tasks.square, [1, 2], True)) == [1, 4]
    if method == "imap":
        # 1.5 is accepted, and cutting the input into chunks fails: the iterator raises.
        steps = outcomes(call(pool_tasks.square, [1, 2], 1.5))
        assert [type(s) is Raised and s.type for s in steps[:-1]] == [ValueError]
        assert steps[-1] == STOP
    else:
        # ... and a map over it is never ready (map() itself would hang).
        stuck = pool.map_async(pool_tasks.square, [1, 2, 3], 1.5)
        with pytest.raises(multiprocessing.TimeoutError):
            stuck.get(timeout=0.3)


@pytest.mark.parametrize(
    "settings",
    [{"processes": 2}, {"initializer": print}, {"initargs": (1,)}, {"maxtasksperchild": 1}],
)
def test_executor_with_process_settings_is_refused(settings: dict[str, Any]) -> None:
    # greenpool only: the stdlib has no executor=.
    with greenpool.ThreadPoolExecutor(1) as executor:
        with pytest.raises(ValueError, match=r"^executor= cannot be combined"):
            greenpool.Pool(executor=executor, **settings)
        assert executor.statistics.submitted == 0


@pytest.mark.parametrize("chunksize", [0, -1])
@pytest.mark.parametrize("method", ["imap", "imap_unordered"])
def test_imap_chunksize_below_1_is_refused_at_the_call(
    pool: Any, method: str, chunksize: int
) -> None:
    before = submitted(pool)
    with pytest.raises(ValueError, match=rf"^Chunksize must be 1\+, not {chunksize}$"):
        getattr(pool, method)(pool_tasks.square, [1, 2], chunksize)
    assert submitted(pool) == before


@pytest.mark.parametrize("chunksize", [0, -1])
@pytest.mark.parametrize("method", ["map", "map_async", "starmap", "starmap_async"])
def test_difference_map_chunksize_below_1(
    pool: Any, kind: str, method: str, chunksize: int
) -> None:
    arguments = [(1,), (2,), (3,)] if method.startswith("starmap") else [1, 2, 3]
    call = getattr(pool, method)
    if kind == "stdlib":
        # Accepted, and wrong: no chunk is ever sent, and each result is None.
        result = call(pool_tasks.square, arguments, chunksize)
        if method.endswith("_async"):
            result = result.get(timeout=PATIENCE)
        assert result == [None, None, None]
    else:
        before = submitted(pool)
        with pytest.raises(ValueError, match=rf"^Chunksize must be 1\+, not {chunksize}$"):
            call(pool_tasks.square, arguments, chunksize)
        assert submitted(pool) == before


@pytest.mark.parametrize("method", ["imap", "imap_unordered"])
def test_difference_imap_chunksize_none(pool: Any, kind: str, method: str) -> None:
    before = submitted(pool)
    # The stdlib fails comparing None with 1; greenpool refuses it as a bad chunksize.
    expected = TypeError if kind == "stdlib" else ValueError
    with pytest.raises(expected):
        getattr(pool, method)(pool_tasks.square, [1, 2], None)
    assert submitted(pool) == before


NOT_CALLABLE = Raised(TypeError, "'int' object is not callable")


@pytest.mark.parametrize(
    ("call", "stdlib_outcome"),
    [
        (lambda p: p.apply_async(42), NOT_CALLABLE),
        (lambda p: p.apply_async(42, (1,)), NOT_CALLABLE),
        (lambda p: p.map_async(42, [1]), NOT_CALLABLE),
        (lambda p: p.starmap_async(42, [(1,)]), NOT_CALLABLE),
        (lambda p: p.map(42, [1]), NOT_CALLABLE),
        (lambda p: p.map(42, []), []),
        (lambda p: p.imap(42, [1]), [NOT_CALLABLE, STOP]),
        (lambda p: p.imap_unordered(42, []), [STOP]),
    ],
    ids=[
        "apply_async",
        "apply_async-args",
        "map_async",
        "starmap_async",
        "map",
        "map-empty",
        "imap",
        "imap_unordered-empty",
    ],
)
def test_difference_a_non_callable_func(
    pool: Any, kind: str, call: Callable[..., Any], stdlib_outcome: Any
) -> None:
    before = submitted(pool)
    if kind != "stdlib":
        # greenpool refuses it at the call, even over empty input, and queues nothing.
        with pytest.raises(TypeError, match="not callable"):
            call(pool)
        assert submitted(pool) == before
        return
    # The stdlib accepts it; calling it fails in the worker, and get() (or map, or
    # the iterator) raises that TypeError; over empty input nothing fails at all.
    outcome = attempt(call, pool)
    if isinstance(outcome, multiprocessing.pool.ApplyResult):
        outcome = attempt(outcome.get, timeout=PATIENCE)
    elif isinstance(outcome, multiprocessing.pool.IMapIterator):
        outcome = outcomes(outcome)
    assert outcome == stdlib_outcome


def test_difference_args_and_kwds_none(pool: Any, kind: str) -> None:
    args_none = attempt(pool.apply_async, pool_tasks.no_arguments, None)
    kwds_none = attempt(pool.apply_async, pool_tasks.no_arguments, (), None)
    if kind == "stdlib":
        # Both accepted, and both fail in the worker: get() raises the TypeError.
        args_error = attempt(args_none.get, timeout=PATIENCE)
        kwds_error = attempt(kwds_none.get, timeout=PATIENCE)
        assert args_error.type is TypeError and "after * must be an iterable" in args_error.message
        assert kwds_error.type is TypeError and "after ** must be a mapping" in kwds_error.message
    else:
        # args=None is refused at the call (unpacked there); kwds=None means no keywords.
        assert type(args_none) is Raised and args_none.type is TypeError
        assert "NoneType" in args_none.message
        assert kwds_none.get(timeout=PATIENCE) == "nothing"


def test_starmap_over_an_item_that_is_not_a_tuple_raises_type_error(pool: Any) -> None:
    # Both unpack each item where it runs: starmap raises, starmap_async's get() does.
    failed = attempt(pool.starmap, pool_tasks.add, [(1, 2), 1])
    assert type(failed) is Raised and failed.type is TypeError
    result = pool.starmap_async(pool_tasks.add, [(1, 2), 1])
    with pytest.raises(TypeError, match=r"not int|'int' object is not iterable"):
        result.get(timeout=PATIENCE)


# -- differences in map and imap -----------------------------------------------


@pytest.mark.parametrize("method", ["imap", "imap_unordered"])
def test_difference_imap_chunksize_above_1_after_a_failure(
    pool: Any, kind: str, method: str
) -> None:
    iterator = getattr(pool, method)(pool_tasks.fail_on, range(6), 2)
    failure = Raised(TaskError, "bad item 3")
    steps = outcomes(iterator)
    if kind == "stdlib":
        # A plain generator over chunks (no next(timeout)): the failed item's chunk
        # fails as a whole, the generator raises once and ends; 2, 4 and 5 are lost.
        assert not hasattr(iterator, "next")
        if method == "imap":
            assert steps == [0, 1, failure, STOP]
        else:
            assert steps[-2:] == [failure, STOP] and set(steps[:-2]) <= {0, 1, 4, 5}
    else:
        # Each item keeps its own outcome, as with chunksize=1.
        assert hasattr(iterator, "next")
        if method == "imap":
            assert steps == [0, 1, 2, failure, 4, 5, STOP]
        else:
            assert steps[-1] == STOP and failure in steps
            assert sorted(s for s in steps[:-1] if s != failure) == [0, 1, 2, 4, 5]


@pytest.mark.parametrize("method", ["starmap", "starmap_async"])
def test_difference_which_failure_map_raises(pool: Any, kind: str, method: str) -> None:
    # Two failing items: the first in input order fails last.
    items = [(0.25, "first in input"), (0.0, "first to fail")]
    errors: list[BaseException] = []
    if method == "starmap":
        with pytest.raises(TaskError) as raised:
            pool.starmap(pool_tasks.nap_then_fail, items, 1)
    else:
        result = pool.starmap_async(
            pool_tasks.nap_then_fail, items, 1, error_callback=errors.append
        )
        with pytest.raises(TaskError) as raised:
            result.get(timeout=PATIENCE)
        assert errors == [raised.value]  # Called once, with the exception get() raises.
    expected = "first to fail" if kind == "stdlib" else "first in input"
    # The stdlib raises the first failure to arrive; greenpool the first in input order
    # (the synchronous executor runs them one after the other: there the two are one).
    assert str(raised.value) == expected


def test_difference_map_after_a_failure(
    kind: str, pools: Callable[..., Any], tmp_path: Path
) -> None:
    pool = pools(kind)
    items = [(str(tmp_path), x) for x in range(40)]
    with pytest.raises(TaskError, match=r"^item 0 failed$"):
        pool.starmap(pool_tasks.touch_then_fail_first, items, 1)
    ran = len(list(tmp_path.iterdir()))
    if kind == "stdlib":
        assert ran == 40  # map raises only once every item has run.
    else:
        # map raises at the first failure (in input order) and cancels what has not
        # started: with item 0 failing late, the items after the window never run.
        assert ran < 40
        pause(kind, 0.1)
        assert len(list(tmp_path.iterdir())) == ran


def test_difference_imap_is_lazy(kind: str, pools: Callable[..., Any]) -> None:
    pool = pools(kind)
    pulled = [0]

    def counted(items: Iterable[int]) -> Iterator[int]:
        for item in items:
            pulled[0] += 1
            yield item

    if kind == "stdlib":
        # Its task handler thread takes the whole input at once, whoever takes results.
        iterator = pool.imap(pool_tasks.square, counted(range(200)))
        assert iterator.next(PATIENCE) == 0
        assert eventually(kind, lambda: pulled[0] == 200)
        return
    # greenpool pulls a bounded window of chunks, and only as results are taken:
    # here from an endless input.
    iterator = pool.imap(pool_tasks.square, counted(itertools.count()))
    assert [iterator.next(PATIENCE) for _ in range(5)] == squares(range(5))
    pause(kind, 0.1)
    pulled_then = pulled[0]
    pause(kind, 0.1)
    assert pulled[0] == pulled_then < 10_000  # Nobody takes results: nothing is pulled.
    assert iterator.next(PATIENCE) == 25


def test_difference_join_does_not_wait_for_an_imap_nobody_takes(
    kind: str, pools: Callable[..., Any]
) -> None:
    pool = pools(kind)
    pulled = [0]

    def counted() -> Iterator[int]:
        for item in range(200):
            pulled[0] += 1
            yield item

    iterator = pool.imap(pool_tasks.square, counted())
    pool.close()
    pool.join()
    if kind == "stdlib":
        assert pulled[0] == 200  # join() waited for every item to run.
    else:
        # greenpool's join() waits for the calls in flight: the window, not the input.
        assert pulled[0] < 200
    del iterator


def test_imap_over_an_endless_iterator(greenpool_kind: str, pools: Callable[..., Any]) -> None:
    # greenpool only: the stdlib's task handler would consume itertools.count() for ever.
    pool = pools(greenpool_kind)
    endless = pool.imap(pool_tasks.square, itertools.count())
    assert list(itertools.islice(endless, 50)) == squares(range(50))
    unordered = pool.imap_unordered(pool_tasks.square, itertools.count(), 3)
    some = list(itertools.islice(unordered, 50))
    assert len(set(some)) == 50 and all(math.isqrt(x) ** 2 == x for x in some)
    del endless, unordered  # Dropped: what they had in flight is cancelled.
    assert pool.apply(pool_tasks.square, (6,)) == 36


# -- bugs these tests found in greenpool, fixed (the stdlib's behaviour is the expectation)


@pytest.mark.parametrize("method", ["imap", "imap_unordered"])
def test_imap_over_an_iterable_that_raises_raises_at_its_place(
    pool: Any, kind: str, method: str
) -> None:

    def broken(items: int) -> Iterator[int]:
        yield from range(items)
        raise TaskError("input broke")

    failure = Raised(TaskError, "input broke")
    for items in (6, 0):
        steps = outcomes(getattr(pool, method)(pool_tasks.square, broken(items)))
        if method == "imap":
            assert steps == [*squares(range(items)), failure, STOP]
        else:  # The failure comes as the other items do, in any order.
            assert steps[-1] == STOP and steps.count(failure) == 1
            assert sorted(s for s in steps[:-1] if s != failure) == squares(range(items))


def test_imap_taken_after_close_and_join_has_every_result(
    kind: str, pools: Callable[..., Any]
) -> None:
    pool = pools(kind)
    iterator = pool.imap(pool_tasks.square, range(20))
    pool.close()
    pool.join()
    assert outcomes(iterator) == [*squares(range(20)), STOP]


def test_imap_after_terminate_still_returns_results_already_computed(
    kind: str, pools: Callable[..., Any]
) -> None:
    pool = pools(kind)
    iterator = pool.imap(pool_tasks.square, range(10))
    assert iterator.next(PATIENCE) == 0
    pause(kind, 0.2)  # Items 1 and 2 at least are done (the window is 2+ chunks).
    pool.terminate()
    assert [iterator.next(PATIENCE) for _ in range(2)] == [1, 4]


# -- process pools only ------------------------------------------------------


def test_initializer_runs_in_each_worker_with_initargs(
    process_kind: str, pools: Callable[..., Any]
) -> None:
    pool = pools(process_kind, 2, initializer=pool_tasks.remember, initargs=("x", 1))
    seen = pool.map(pool_tasks.initialized, range(8), 1)
    for worker_pid, initialized in seen:
        assert initialized == (worker_pid, "x", 1)  # Ran in that very worker, with initargs.
    assert os.getpid() not in {worker_pid for worker_pid, _ in seen}


def test_maxtasksperchild_replaces_each_worker_after_its_tasks(
    process_kind: str, pools: Callable[..., Any]
) -> None:
    pool = pools(process_kind, 1, maxtasksperchild=1)
    pids = [pool.apply(pool_tasks.pid) for _ in range(3)]
    assert len(set(pids)) == 3
    assert pool.apply_async(pool_tasks.square, (5,)).get(timeout=PATIENCE) == 25


def test_difference_a_worker_that_dies(process_kind: str, pools: Callable[..., Any]) -> None:
    pool = pools(process_kind, 2)
    pool.map(pool_tasks.square, range(4), 1)  # Both workers are up.
    other = pool.apply_async(pool_tasks.nap, (0.5, "other"))
    lost = pool.apply_async(pool_tasks.exit_now)
    if process_kind == "stdlib":
        with pytest.raises(multiprocessing.TimeoutError):
            lost.get(timeout=0.5)  # Its result waits for ever.
    else:
        with pytest.raises(WorkerLostError):
            lost.get(timeout=PATIENCE)
    # In both the other worker's call is unharmed, and the pool replaces the dead one.
    assert other.get(timeout=PATIENCE) == "other"
    assert pool.map(pool_tasks.square, range(6), 1) == squares(range(6))


def test_the_remote_traceback_is_the_cause(process_kind: str, pools: Callable[..., Any]) -> None:
    with pytest.raises(TaskError, match=r"^boom$") as raised:
        pools(process_kind).apply(pool_tasks.raise_task_error, ("boom",))
    cause = raised.value.__cause__
    # multiprocessing.pool.RemoteTraceback / concurrent.futures.process._RemoteTraceback.
    assert type(cause).__name__.lstrip("_") == "RemoteTraceback"
    assert "raise TaskError(message)" in str(cause)


def test_difference_what_cannot_be_pickled(pool: Any, kind: str) -> None:
    lock = threading.Lock()

    def local() -> str:
        return "local"

    lock_error, local_error = attempt(pickle.dumps, lock), attempt(pickle.dumps, local)
    assert type(lock_error) is Raised and type(local_error) is Raised
    func = attempt(lambda: pool.apply_async(local).get(timeout=PATIENCE))
    argument = attempt(lambda: pool.apply_async(pool_tasks.identity, (lock,)).get(PATIENCE))
    result = attempt(lambda: pool.apply_async(pool_tasks.make_lock).get(timeout=PATIENCE))
    raised = attempt(lambda: pool.apply_async(pool_tasks.raise_holds_a_lock).get(PATIENCE))
    if kind in IN_PROCESS_KINDS:
        # Nothing crosses a process: anything goes.
        assert func == "local" and argument is lock and type(result) is type(lock)
        assert raised == Raised(pool_tasks.HoldsALock, "holds a lock")
        return
    # The same pickling errors for what is sent...
    assert func == local_error and argument == lock_error
    if kind == "stdlib":
        # ... but an unpicklable result (or raised exception) is wrapped by the stdlib ...
        for wrapped in (result, raised):
            assert wrapped.type is multiprocessing.pool.MaybeEncodingError
            assert "Error sending result" in wrapped.message
            assert lock_error.message in wrapped.message
    else:
        # ... and raised as itself by greenpool.
        assert result == lock_error and raised == lock_error
    assert pool.apply(pool_tasks.square, (3,)) == 9  # Both go on.


def test_difference_an_exception_that_does_not_unpickle(
    process_kind: str, pools: Callable[..., Any]
) -> None:
    if process_kind == "stdlib":
        # Unpickling it fails in the result-handler thread, which dies of it.
        assert_stdlib_result_handler_dies(
            "an exception that does not unpickle", "missing 1 required positional argument"
        )
        return
    # greenpool raises the unpickling error, the worker's traceback as its cause.
    pool = pools(process_kind, 1)
    with pytest.raises(TypeError, match="missing 1 required positional argument") as raised:
        pool.apply_async(pool_tasks.raise_needs_two_arguments).get(timeout=PATIENCE)
    assert "NeedsTwoArguments" in str(raised.value.__cause__)
    assert pool.apply_async(pool_tasks.square, (3,)).get(timeout=PATIENCE) == 9


def test_a_pool_collected_without_close_stops_its_workers(process_kind: str) -> None:
    pool = make_pool(process_kind, 1)
    worker = pool.apply(pool_tasks.pid)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del pool
        gc.collect()
    assert ResourceWarning in [w.category for w in caught]
    del caught  # The stdlib's warning holds the pool (as its source).
    gc.collect()

    def stopped() -> bool:
        try:
            with open(f"/proc/{worker}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True

    assert eventually(process_kind, stopped)


# -- greenpool only: names, rejection, statistics --------------------------------


def test_difference_the_processing_pool_example(kind: str, pools: Callable[..., Any]) -> None:
    # processing.pool's example, the stdlib's ancestor, which had camelCase names.
    pool = pools(kind)
    camel = kind != "stdlib"
    assert all(hasattr(pool, name) == camel for name in ("applyAsync", "mapAsync", "imapUnordered"))
    if camel:
        for alias, name in (
            ("applyAsync", "apply_async"),
            ("mapAsync", "map_async"),
            ("imapUnordered", "imap_unordered"),
        ):
            assert getattr(type(pool), alias) is getattr(type(pool), name)
    apply_async = pool.applyAsync if camel else pool.apply_async
    result = apply_async(pool_tasks.square, [10])
    assert result.get(timeout=1) == 100
    assert pool.map(pool_tasks.square, range(10)) == squares(range(10))
    it = pool.imap(pool_tasks.square, range(10))
    assert next(it) == 0 and it.next() == 1 and it.next(timeout=1) == 4
    unordered = pool.imapUnordered if camel else pool.imap_unordered
    assert sorted(unordered(pool_tasks.square, range(4))) == [0, 1, 4, 9]
    map_async = pool.mapAsync if camel else pool.map_async
    assert map_async(pool_tasks.square, [2, 3]).get(timeout=1) == [4, 9]
    if kind != "synchronous":  # There the call would run (and sleep) in applyAsync.
        with pytest.raises(multiprocessing.TimeoutError):
            apply_async(pool_tasks.nap, [0.5]).get(timeout=0.2)


@pytest.mark.parametrize(
    "method", ["map", "starmap", "map_async", "starmap_async", "imap", "imap_unordered"]
)
def test_rejection_refuses_apply_async_while_map_waits_for_room(method: str) -> None:
    executor = greenpool.ThreadPoolExecutor(1, check_and_reject=reject_when_reached(1))
    pool = greenpool.Pool(executor=executor)
    try:
        gate = threading.Event()
        held = pool.apply_async(gate.wait, (PATIENCE,))
        assert eventually("threads", lambda: executor.statistics.running == 1)
        queued = pool.apply_async(pool_tasks.square, (3,))  # Backlog 0: accepted.
        with pytest.raises(greenpool.RejectedSubmission):
            pool.apply_async(pool_tasks.square, (4,))  # Backlog 1: refused.
        threading.Timer(0.1, gate.set).start()
        items: list[Any] = list(range(50))
        if method.startswith("starmap"):
            items = [(x, 2) for x in items]
            func: Callable[..., int] = pool_tasks.power
        else:
            func = pool_tasks.square
        if method.startswith("imap"):
            results = list(getattr(pool, method)(func, items))
        else:
            results = getattr(pool, method)(func, items)
            if method.endswith("_async"):
                results = results.get(timeout=PATIENCE)
        if method == "imap_unordered":
            results.sort()
        assert results == squares(range(50))
        assert held.get(timeout=PATIENCE) is True and queued.get(timeout=PATIENCE) == 9
        assert pool.statistics.rejected >= 1
    finally:
        stop(pool, "threads")


def test_statistics_are_the_executors(kind: str, pools: Callable[..., Any]) -> None:
    pool = pools(kind)
    if kind == "stdlib":
        assert not hasattr(pool, "statistics")  # greenpool only.
        return
    assert pool.statistics == pool.executor.statistics
    before = pool.statistics
    pool.apply(pool_tasks.square, (1,))
    pool.map(pool_tasks.square, range(10), 5)  # Each chunk is one call.
    assert list(pool.imap(pool_tasks.square, range(6), 3)) == squares(range(6))
    with pytest.raises(TaskError):
        pool.apply(pool_tasks.raise_task_error, ("x",))
    after = pool.statistics
    assert after.submitted - before.submitted == 1 + 2 + 2 + 1
    assert after.executed - before.executed == 6
    assert after.failures - before.failures == 1
    assert after.rejected == before.rejected
