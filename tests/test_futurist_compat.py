"""The futurist drop-in claim, checked: ``import greenpool as futurist`` keeps working.

Two parts; the first runs against real futurist as well as greenpool, so a
scenario that fails on both is a test bug, not a greenpool one:

1. **Shared scenarios.** One test body per behaviour (submit/result,
   exceptions, map, statistics, rejection, context manager, shutdown, alive,
   waiters), parametrized over the module (``futurist``, ``greenpool``) and the
   executor kind (green, sync, thread, process). Only futurist's public API is
   used, with futurist's positional parameters. greenpool's thread and
   process executors are taken from ``greenpool.thread`` and
   ``greenpool.process``; those scenarios fail until the modules land.
2. **Public names.** Every name in futurist 3.5's ``__all__``, and its
   ``periodics``, ``rejection`` and ``waiters`` modules, exists in greenpool.

futurist's own test modules run through the alias in
``tests/conformance/test_futurist.py``.

Where greenpool deliberately differs from futurist (``backlog`` counts only
work no idle worker can take, ``shutdown(cancel_futures=True)`` cancels,
waiters accept green and native futures together, ``average_runtime`` is 0.0
rather than ``ZeroDivisionError`` before any call finished), no scenario
pins futurist's behaviour; the differences are documented in greenpool.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib
import importlib.util
import inspect
import multiprocessing
import operator
import os
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import greenpool

pytestmark = [
    pytest.mark.core,
    # futurist (not greenpool) warns whenever its green classes are used.
    pytest.mark.filterwarnings("ignore:.*Eventlet support is deprecated:DeprecationWarning"),
]

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

#: How long any single wait in a scenario may take before the test fails.
WAIT = 10.0

MODULES = ("futurist", "greenpool")
ALL_KINDS = ("green", "sync", "thread", "process")
#: Kinds whose calls can be held running while the test looks at the executor.
POOL_KINDS = ("green", "thread")


# -- part 1: shared scenarios ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Backend:
    """One executor kind of one module, built with futurist's positional parameters."""

    module_name: str
    kind: str

    def __str__(self) -> str:
        return f"{self.module_name}-{self.kind}"

    @property
    def module(self) -> types.ModuleType:
        return load(self.module_name)

    def executor_class(self) -> type[Any]:
        if self.module_name == "greenpool" and self.kind == "thread":
            return importlib.import_module("greenpool.thread").ThreadPoolExecutor  # type: ignore[no-any-return]
        if self.module_name == "greenpool" and self.kind == "process":
            return importlib.import_module("greenpool.process").ProcessPoolExecutor  # type: ignore[no-any-return]
        name = {
            "green": "GreenThreadPoolExecutor",
            "sync": "SynchronousExecutor",
            "thread": "ThreadPoolExecutor",
            "process": "ProcessPoolExecutor",
        }[self.kind]
        return getattr(self.module, name)  # type: ignore[no-any-return]

    def new(self, max_workers: int = 2, check_and_reject: Any = None) -> Any:
        cls = self.executor_class()
        if self.kind == "sync":
            return cls()
        if self.kind == "process":
            # futurist 3.5: ProcessPoolExecutor(max_workers, mp_context). spawn, as
            # futurist's own tests use: forking a process that has threads can
            # deadlock the child. futurist 3.3, the newest on Python 3.10, takes
            # max_workers only (and so forks).
            if "mp_context" in inspect.signature(cls).parameters:
                return cls(max_workers, multiprocessing.get_context("spawn"))
            return cls(max_workers)
        if check_and_reject is None:
            return cls(max_workers)
        return cls(max_workers, check_and_reject)

    def event(self) -> Any:
        """An event a call running on this kind of worker can block on."""
        if self.kind == "green":
            from eventlet.green import threading as green_threading

            return green_threading.Event()
        return threading.Event()


def load(module_name: str) -> types.ModuleType:
    """``futurist`` or ``greenpool``, with its ``rejection`` and ``waiters`` submodules.

    ``import futurist`` alone does not import them, so futurist's users write
    ``from futurist import waiters``; this does the same for either module.
    """
    importlib.import_module(f"{module_name}.rejection")
    importlib.import_module(f"{module_name}.waiters")
    return importlib.import_module(module_name)


def backends(kinds: tuple[str, ...], skip: tuple[str, ...] = ()) -> list[Any]:
    """One parameter per module and kind, less the ``module-kind`` ids in ``skip``."""
    params = [Backend(module_name, kind) for module_name in MODULES for kind in kinds]
    return [
        pytest.param(backend, id=str(backend)) for backend in params if str(backend) not in skip
    ]


@pytest.fixture
def make(backend: Backend) -> Iterator[Callable[..., Any]]:
    """Build executors of ``backend``; any still alive at the end is shut down."""
    made: list[Any] = []

    def new(*args: Any) -> Any:
        executor = backend.new(*args)
        made.append(executor)
        return executor

    yield new
    for executor in made:
        if executor.alive:
            executor.shutdown(wait=True)


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_submit_and_result(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make()
    future = executor.submit(pow, 2, 10)
    assert future.result(WAIT) == 1024
    assert future.done()
    assert not future.cancelled()
    assert future.exception(WAIT) is None
    assert isinstance(future, backend.module.Future)
    assert isinstance(future, concurrent.futures.Future)
    if backend.kind == "green":
        assert isinstance(future, backend.module.GreenFuture)
    # Keyword arguments reach the call.
    assert executor.submit(int, "ff", base=16).result(WAIT) == 255


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_exception_reaches_future(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make()
    future = executor.submit(int, "not a number")
    with pytest.raises(ValueError, match="not a number"):
        future.result(WAIT)
    assert isinstance(future.exception(WAIT), ValueError)
    seen: list[Any] = []
    future.add_done_callback(seen.append)  # Already done: called at once.
    assert seen == [future]
    # A failed call does not break the executor.
    assert executor.submit(pow, 3, 2).result(WAIT) == 9


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_map(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make()
    assert list(executor.map(pow, [1, 2, 3, 4], [2, 2, 2, 2])) == [1, 4, 9, 16]
    assert list(executor.map(operator.neg, range(5), timeout=WAIT)) == [0, -1, -2, -3, -4]
    assert list(executor.map(pow, [])) == []
    results = executor.map(int, ["1", "x", "3"])
    assert next(results) == 1
    with pytest.raises(ValueError):
        next(results)


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_statistics_after_run(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make()
    stats = executor.statistics
    assert isinstance(stats, backend.module.ExecutorStatistics)
    assert (stats.failures, stats.executed, stats.runtime, stats.cancelled) == (0, 0, 0.0, 0)
    executor.submit(time.sleep, 0.05)
    executor.submit(int, "x")
    executor.submit(pow, 2, 2)
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert isinstance(stats, backend.module.ExecutorStatistics)
    assert (stats.executed, stats.failures, stats.cancelled) == (3, 1, 0)
    # At least the sleep; a hair under 0.05 s allowed for float rounding, as
    # futurist's own test_gather_stats does.
    assert stats.runtime >= 0.049
    assert stats.average_runtime == pytest.approx(stats.runtime / 3)


@pytest.mark.parametrize("backend", backends(POOL_KINDS))
def test_statistics_count_cancelled(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make(1)
    started, release = backend.event(), backend.event()

    def hold() -> str:
        started.set()
        release.wait(WAIT)
        return "held"

    try:
        running = executor.submit(hold)
        assert started.wait(WAIT)
        queued = executor.submit(pow, 2, 2)
        assert queued.cancel()
        assert queued.cancelled()
        with pytest.raises(backend.module.CancelledError):
            queued.result(WAIT)
    finally:
        release.set()
    assert running.result(WAIT) == "held"
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.executed, stats.failures, stats.cancelled) == (1, 0, 1)


@pytest.mark.parametrize("module_name", MODULES)
def test_executor_statistics_positional(module_name: str) -> None:
    module = load(module_name)
    stats = module.ExecutorStatistics(1, 4, 2.0, 3)  # failures, executed, runtime, cancelled
    assert (stats.failures, stats.executed, stats.runtime, stats.cancelled) == (1, 4, 2.0, 3)
    assert stats.average_runtime == 0.5
    empty = module.ExecutorStatistics()
    assert (empty.failures, empty.executed, empty.runtime, empty.cancelled) == (0, 0, 0.0, 0)


@pytest.mark.parametrize("backend", backends(POOL_KINDS))
def test_rejection_under_load(backend: Backend, make: Callable[..., Any]) -> None:
    # The scenario of futurist's TestRejection: one worker, room for one more.
    executor = make(1, backend.module.rejection.reject_when_reached(1))
    started, release = backend.event(), backend.event()

    def hold() -> str:
        started.set()
        release.wait(WAIT)
        return "held"

    try:
        running = executor.submit(hold)
        assert started.wait(WAIT)
        queued = executor.submit(pow, 2, 3)
        for _ in range(3):
            with pytest.raises(backend.module.RejectedSubmission):
                executor.submit(pow, 2, 4)
    finally:
        release.set()
    assert running.result(WAIT) == "held"
    assert queued.result(WAIT) == 8
    # Once the backlog has drained, submissions are accepted again.
    assert executor.submit(pow, 2, 5).result(WAIT) == 32
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.executed, stats.failures, stats.cancelled) == (3, 0, 0)


@pytest.mark.parametrize("backend", backends(POOL_KINDS))
def test_check_and_reject_arguments(backend: Backend, make: Callable[..., Any]) -> None:
    calls: list[tuple[Any, int]] = []

    def check_and_reject(executor: Any, backlog: int) -> None:
        calls.append((executor, backlog))

    executor = make(2, check_and_reject)
    assert executor.submit(pow, 2, 2).result(WAIT) == 4
    assert len(calls) == 1
    assert calls[0][0] is executor
    assert calls[0][1] == 0


@pytest.mark.parametrize("module_name", MODULES)
def test_reject_when_reached(module_name: str) -> None:
    module = load(module_name)
    rejector = module.rejection.reject_when_reached(2)
    rejector(None, 0)
    rejector(None, 1)
    with pytest.raises(module.RejectedSubmission):
        rejector(None, 2)
    assert issubclass(module.RejectedSubmission, Exception)


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_context_manager(backend: Backend, make: Callable[..., Any]) -> None:
    with make() as executor:
        assert executor.alive
        slow = executor.submit(time.sleep, 0.05)
        fast = executor.submit(pow, 2, 3)
    # Leaving the block shut the executor down and waited for its calls.
    assert slow.done()
    assert fast.result(0) == 8
    assert not executor.alive
    with pytest.raises(RuntimeError):
        executor.submit(pow, 2, 3)


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_shutdown_waits_for_queued_calls(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make(1)
    futures = [
        executor.submit(time.sleep, 0.02),
        executor.submit(pow, 2, 1),
        executor.submit(time.sleep, 0.02),
        executor.submit(pow, 2, 2),
    ]
    executor.shutdown(wait=True)
    assert all(future.done() for future in futures)
    assert [future.result(0) for future in futures] == [None, 2, None, 4]
    assert not executor.alive
    with pytest.raises(RuntimeError):
        executor.submit(pow, 2, 3)
    executor.shutdown()  # A second shutdown is harmless.
    assert executor.statistics.executed == 4


# Not futurist's thread pool: its shutdown(wait=False) stops the workers at
# once, so calls still queued never run and their futures never resolve.
@pytest.mark.parametrize(
    "backend", backends(("green", "thread", "process"), skip=("futurist-thread",))
)
def test_shutdown_without_wait_still_runs_accepted_calls(
    backend: Backend, make: Callable[..., Any]
) -> None:
    executor = make(1)
    futures = [executor.submit(pow, 2, n) for n in range(4)]
    executor.shutdown(wait=False)
    assert not executor.alive
    with pytest.raises(RuntimeError):
        executor.submit(pow, 2, 3)
    assert backend.module.waiters.wait_for_all(futures, WAIT) == (set(futures), set())
    assert [future.result(0) for future in futures] == [1, 2, 4, 8]


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_alive(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make()
    assert executor.alive
    executor.submit(pow, 2, 2).result(WAIT)
    assert executor.alive
    executor.shutdown()
    assert not executor.alive


@pytest.mark.parametrize("module_name", MODULES)
def test_synchronous_executor_positional_parameters(module_name: str) -> None:
    module = load(module_name)
    items: list[Any] = []

    def run_work(item: Any) -> None:
        items.append(item)
        item.run()

    executor = module.SynchronousExecutor(False, run_work)  # green, run_work_func
    future = executor.submit(pow, 2, 3)
    assert future.result(0) == 8
    assert len(items) == 1
    assert items[0].future is future
    assert items[0].fn is pow
    assert items[0].args == (2, 3)
    assert items[0].kwargs == {}
    # The call runs in the caller.
    assert executor.submit(threading.get_ident).result(0) == threading.get_ident()
    green = module.SynchronousExecutor(True)
    assert green.submit(pow, 2, 4).result(0) == 16
    with pytest.raises(ValueError):
        module.SynchronousExecutor(False, "not callable")


@pytest.mark.parametrize("module_name", MODULES)
def test_synchronous_executor_restart(module_name: str) -> None:
    module = load(module_name)
    executor = module.SynchronousExecutor()
    assert executor.submit(pow, 2, 2).result(0) == 4
    executor.shutdown()
    assert not executor.alive
    assert executor.statistics.executed == 1
    with pytest.raises(RuntimeError):
        executor.submit(pow, 2, 2)
    executor.restart()
    assert executor.alive
    assert executor.statistics.executed == 0
    assert executor.submit(pow, 2, 3).result(0) == 8
    assert executor.statistics.executed == 1


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_wait_for_all(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make()
    futures = [executor.submit(pow, 2, n) for n in range(6)]
    result = backend.module.waiters.wait_for_all(futures, WAIT)
    done, not_done = result
    assert (result.done, result.not_done) == (done, not_done)
    assert done == set(futures)
    assert not_done == set()
    assert sorted(future.result(0) for future in done) == [1, 2, 4, 8, 16, 32]


@pytest.mark.parametrize("backend", backends(ALL_KINDS))
def test_wait_for_any(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make()
    futures = [executor.submit(time.sleep, 0.01 * n) for n in range(5)]
    finished: list[Any] = []
    remaining = list(futures)
    while remaining:
        done, not_done = backend.module.waiters.wait_for_any(remaining, WAIT)
        assert done, "wait_for_any returned before any future was done"
        assert done.isdisjoint(not_done)
        assert done | not_done == set(remaining)
        finished.extend(done)
        remaining = list(not_done)
    assert set(finished) == set(futures)


@pytest.mark.parametrize("backend", backends(POOL_KINDS))
def test_waiters_time_out_and_timeout_error(backend: Backend, make: Callable[..., Any]) -> None:
    executor = make(2)
    started, release = backend.event(), backend.event()

    def hold() -> str:
        started.set()
        release.wait(WAIT)
        return "held"

    waiters = backend.module.waiters
    try:
        held = executor.submit(hold)
        assert started.wait(WAIT)
        finished = executor.submit(pow, 2, 2)
        assert finished.result(WAIT) == 4
        assert waiters.wait_for_any([held, finished], WAIT) == ({finished}, {held})
        assert waiters.wait_for_all([held, finished], 0.05) == ({finished}, {held})
        assert waiters.wait_for_any([held], 0.05) == (set(), {held})
        with pytest.raises(backend.module.TimeoutError):
            held.result(0.01)
        with pytest.raises(concurrent.futures.TimeoutError):
            held.exception(0.01)
    finally:
        release.set()
    assert waiters.wait_for_all([held, finished], WAIT) == ({held, finished}, set())
    assert held.result(0) == "held"


@pytest.mark.parametrize("module_name", MODULES)
def test_waiters_on_no_futures(module_name: str) -> None:
    waiters = load(module_name).waiters
    assert waiters.wait_for_all([]) == (set(), set())
    assert waiters.wait_for_any([], 0) == (set(), set())


@pytest.mark.parametrize("module_name", MODULES)
def test_waiters_on_futures_resolved_by_a_native_thread(module_name: str) -> None:
    module = load(module_name)
    first, second = module.Future(), module.Future()
    timer = threading.Timer(0.02, lambda: (first.set_result(1), second.set_result(2)))
    timer.start()
    try:
        assert module.waiters.wait_for_all([first, second], WAIT) == ({first, second}, set())
    finally:
        timer.join()
    assert (first.result(0), second.result(0)) == (1, 2)


@pytest.mark.parametrize("module_name", MODULES)
def test_green_future_resolved_by_a_green_thread(module_name: str) -> None:
    import eventlet

    module = load(module_name)
    first, second = module.GreenFuture(), module.GreenFuture()
    eventlet.spawn_after(0.01, first.set_result, 1)
    eventlet.spawn_after(0.02, second.set_result, 2)
    done, not_done = module.waiters.wait_for_any([first, second], WAIT)
    assert first in done
    assert done | not_done == {first, second}
    assert second.result(WAIT) == 2
    assert module.waiters.wait_for_all([first, second], WAIT) == ({first, second}, set())


@pytest.mark.parametrize("module_name", MODULES)
def test_errors_are_the_stdlib_ones(module_name: str) -> None:
    module = load(module_name)
    assert module.CancelledError is concurrent.futures.CancelledError
    assert module.TimeoutError is concurrent.futures.TimeoutError
    future = module.Future()
    assert future.cancel()
    with pytest.raises(module.CancelledError):
        future.result(0)
    pending = module.Future()
    with pytest.raises(module.TimeoutError):
        pending.result(0.01)


# -- part 2: public names ---------------------------------------------------------

#: Every name in futurist 3.5's __all__; the installed futurist's (3.3 on Python
#: 3.10) must be among them.
FUTURIST_NAMES = (
    "CancelledError",
    "DelayedExecutorMixin",
    "DelayedExecutorMixinBase",
    "DynamicThreadPoolExecutor",
    "ExecutorStatistics",
    "Future",
    "GreenDelayedExecutorMixin",
    "GreenFuture",
    "GreenThreadPoolExecutor",
    "ProcessPoolExecutor",
    "RejectedSubmission",
    "SynchronousExecutor",
    "ThreadPoolExecutor",
    "TimeoutError",
)


def test_futurist_names_list_is_current() -> None:
    import futurist

    assert set(futurist.__all__) <= set(FUTURIST_NAMES)


@pytest.mark.parametrize("name", [*FUTURIST_NAMES, "periodics", "rejection", "waiters"])
def test_futurist_public_name(name: str) -> None:
    assert hasattr(greenpool, name), f"greenpool has no {name!r}, which futurist exports"


def test_every_public_name_of_futurist_periodics_is_in_greenpool_periodics() -> None:
    import futurist.periodics

    import greenpool.periodics

    defined = [
        name
        for name, value in vars(futurist.periodics).items()
        if not name.startswith("_")
        # A module, or an optional one that is not installed (futurist 3.3's prettytable).
        and not isinstance(value, types.ModuleType)
        and value is not None
        # Typing helpers futurist imports for its annotations are not its API.
        and getattr(value, "__module__", "futurist.periodics") not in ("typing", "collections.abc")
        and name not in ("annotations", "TYPE_CHECKING")
    ]
    assert {"PeriodicWorker", "periodic", "ExistingExecutor", "Watcher"} <= set(defined)
    missing = [name for name in defined if not hasattr(greenpool.periodics, name)]
    assert missing == []
