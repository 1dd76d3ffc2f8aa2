"""ProcessPoolExecutor: results, remote errors, real worker deaths, timeouts, map, shutdown.

Every crash test really kills a worker process (SIGKILL from the test,
``os._exit`` or a segfault inside the call) and then checks that the pool
keeps working. Functions sent to workers live at module level so that they
pickle by reference.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import errno
import gc
import itertools
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool, _RemoteTraceback
from pathlib import Path
from typing import Any

import pytest
from conftest import run_python

from greenpool import CallTimeoutError, Future, RejectedSubmission
from greenpool.process import ProcessPoolExecutor, WorkerLostError
from greenpool.rejection import reject_when_reached

# -- what the workers run ------------------------------------------------------


def identity(value: Any) -> Any:
    return value


def add(a: int, b: int = 0) -> int:
    return a + b


def pid_after(seconds: float = 0.0) -> int:
    time.sleep(seconds)
    return os.getpid()


def report_pid_then_sleep(path: str, seconds: float) -> str:
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "slept"


def exit_after(seconds: float, code: int) -> None:
    time.sleep(seconds)
    os._exit(code)


def segfault() -> None:
    ctypes.string_at(0)  # Reads address 0: SIGSEGV.


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def return_lock() -> Any:
    return threading.Lock()


class NeedsTwoArguments(Exception):
    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def raise_needs_two_arguments() -> None:
    raise NeedsTwoArguments("one", "two")


def fail_on(value: int, bad: int) -> int:
    if value == bad:
        raise ValueError(f"bad item {value}")
    return value


_initialized: list[Any] = []


def remember(*args: Any) -> None:
    _initialized.append(args)


def initialized() -> list[Any]:
    return _initialized


def failing_initializer() -> None:
    raise ValueError("no configuration")


def dying_initializer() -> None:
    os._exit(4)


def write_after(path: str, seconds: float) -> None:
    time.sleep(seconds)
    Path(path).write_text("done")


def wait_for_path(path: str, seconds: float) -> bool:
    """Wait until another call has created ``path``: True, or False after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def create(path: str) -> int:
    Path(path).touch()
    return os.getpid()


# -- helpers -------------------------------------------------------------------


class StartedBy:
    """A multiprocessing context whose worker processes start through ``start(process)``.

    Everything else is the wrapped context's.
    """

    def __init__(self, context: Any, start: Callable[[Any], None]) -> None:
        self._context = context
        self._start = start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def Process(self, *args: Any, **kwargs: Any) -> Any:
        return _StartedBy(self._start, self._context.Process(*args, **kwargs))


class _StartedBy:
    def __init__(self, start: Callable[[Any], None], process: Any) -> None:
        self._start = start
        self._process = process

    def __getattr__(self, name: str) -> Any:
        return getattr(self._process, name)

    def start(self) -> None:
        self._start(self._process)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """A pool shared by the tests that neither count nor break anything."""
    with ProcessPoolExecutor(2, name="shared") as executor:
        yield executor


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


def worker_pids(executor: ProcessPoolExecutor, calls: int = 8) -> set[int]:
    """Pids of the workers that run a burst of short calls."""
    return {f.result(30) for f in [executor.submit(pid_after, 0.05) for _ in range(calls)]}


def assert_counts_add_up(executor: ProcessPoolExecutor) -> None:
    s = executor.statistics
    assert s.submitted == s.executed + s.cancelled + s.pending + s.running, s
    assert s.started == s.executed + s.running, s


def assert_pool_works(executor: ProcessPoolExecutor) -> None:
    assert [f.result(30) for f in [executor.submit(add, i, 1) for i in range(20)]] == list(
        range(1, 21)
    )


# -- basics --------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(30)
def test_submit_returns_a_greenpool_future_with_the_result(pool: ProcessPoolExecutor) -> None:
    future = pool.submit(add, 2, b=3)
    assert isinstance(future, Future)
    assert future.result(30) == 5
    assert pool.submit(pid_after).result(30) != os.getpid()


@pytest.mark.core
@pytest.mark.timeout(30)
def test_many_calls_return_their_own_results(pool: ProcessPoolExecutor) -> None:
    futures = [pool.submit(add, i, i) for i in range(3000)]
    assert [f.result(30) for f in futures] == [2 * i for i in range(3000)]


@pytest.mark.core
@pytest.mark.timeout(30)
def test_large_arguments_and_results_travel_both_ways_at_once(pool: ProcessPoolExecutor) -> None:
    # Larger than any pipe buffer in both directions: a parent blocked on
    # writing calls while workers block on writing results would hang here.
    blobs = [bytes([i]) * (3 * 1024 * 1024 + i) for i in range(8)]
    futures = [pool.submit(identity, blob) for blob in blobs]
    assert [f.result(30) for f in futures] == blobs


@pytest.mark.core
@pytest.mark.timeout(30)
def test_constructor_checks_its_arguments_as_the_stdlib_does() -> None:
    with pytest.raises(ValueError):
        ProcessPoolExecutor(0)
    with pytest.raises(TypeError):
        ProcessPoolExecutor(1, initializer=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ProcessPoolExecutor(1, max_tasks_per_child="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ProcessPoolExecutor(1, max_tasks_per_child=0)
    with pytest.raises(ValueError, match="fork"):
        ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("fork"), max_tasks_per_child=1
        )
    executor = ProcessPoolExecutor()
    assert executor.max_workers == (getattr(os, "process_cpu_count", os.cpu_count)() or 1)
    assert executor.mp_context.get_start_method() == "forkserver"
    assert executor.num_workers == 0  # Workers start on demand.
    executor.shutdown()


@pytest.mark.timeout(30)
def test_an_explicit_mp_context_is_honoured() -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, context) as executor:
        assert executor.mp_context is context
        assert executor.submit(add, 1, 1).result(30) == 2


@pytest.mark.core
@pytest.mark.timeout(30)
def test_submit_after_shutdown_raises_and_shutdown_is_idempotent() -> None:
    executor = ProcessPoolExecutor(1)
    assert executor.submit(add, 1).result(30) == 1
    executor.shutdown()
    executor.shutdown()
    assert executor.num_workers == 0
    with pytest.raises(RuntimeError, match="shutdown"):
        executor.submit(add, 1)


# -- errors that are the call's own ---------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_remote_exception_keeps_its_remote_traceback(pool: ProcessPoolExecutor) -> None:
    future = pool.submit(raise_value_error, "from the worker")
    with pytest.raises(ValueError, match="from the worker") as caught:
        future.result(30)
    cause = caught.value.__cause__
    assert isinstance(cause, _RemoteTraceback)
    assert "raise_value_error" in str(cause)
    assert "raise ValueError(message)" in str(cause)


@pytest.mark.timeout(30)
def test_an_exception_the_parent_cannot_rebuild_still_carries_the_remote_traceback(
    pool: ProcessPoolExecutor,
) -> None:
    with pytest.raises(TypeError) as caught:
        pool.submit(raise_needs_two_arguments).result(30)
    assert "NeedsTwoArguments: one and two" in str(caught.value.__cause__)
    assert_pool_works(pool)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_an_unpicklable_argument_fails_only_that_call() -> None:
    with ProcessPoolExecutor(2) as executor:
        before = executor.submit(add, 1, 1)
        bad = executor.submit(identity, threading.Lock())
        after = executor.submit(add, 2, 2)
        with pytest.raises(TypeError, match="pickle"):
            bad.result(30)
        assert (before.result(30), after.result(30)) == (2, 4)
        assert_pool_works(executor)
        assert executor.statistics.failures == 1
        assert_counts_add_up(executor)


@pytest.mark.timeout(30)
def test_an_unpicklable_function_fails_only_that_call(pool: ProcessPoolExecutor) -> None:
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pool.submit(lambda: 1).result(30)
    assert_pool_works(pool)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_an_unpicklable_result_fails_only_that_call(pool: ProcessPoolExecutor) -> None:
    with pytest.raises(TypeError, match="pickle") as caught:
        pool.submit(return_lock).result(30)
    assert isinstance(caught.value.__cause__, _RemoteTraceback)
    assert_pool_works(pool)


# -- worker deaths ---------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(40)
def test_a_worker_killed_by_sigkill_fails_only_its_call(tmp_path: Path) -> None:
    with ProcessPoolExecutor(2) as executor:
        pid_file = tmp_path / "pid"
        doomed = executor.submit(report_pid_then_sleep, str(pid_file), 60)
        others = [executor.submit(pid_after, 0.05) for _ in range(20)]
        pid = int(wait_for_file(pid_file))
        os.kill(pid, signal.SIGKILL)

        with pytest.raises(WorkerLostError) as caught:
            doomed.result(30)
        error = caught.value
        assert isinstance(error, BrokenProcessPool)
        assert (error.pid, error.exitcode) == (pid, -signal.SIGKILL)
        assert f"worker process {pid} died (killed by SIGKILL) while running this call" in str(
            error
        )
        assert pid not in {f.result(30) for f in others}  # None of them was lost.
        later = worker_pids(executor)
        assert pid not in later
        assert executor.num_workers == 2
        assert_pool_works(executor)
        s = executor.statistics
        assert (s.failures, s.executed) == (1, 21 + 8 + 20)
        assert_counts_add_up(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_os_exit_in_a_call_fails_that_call_with_its_exit_code() -> None:
    with ProcessPoolExecutor(2) as executor:
        dying = executor.submit(exit_after, 0.1, 7)
        with pytest.raises(WorkerLostError, match=r"exit code 7") as caught:
            dying.result(30)
        assert caught.value.exitcode == 7
        assert_pool_works(executor)


@pytest.mark.timeout(30)
def test_a_segfault_in_a_call_fails_that_call() -> None:
    with ProcessPoolExecutor(1) as executor:
        pid = executor.submit(pid_after).result(30)
        with pytest.raises(WorkerLostError, match="SIGSEGV") as caught:
            executor.submit(segfault).result(30)
        assert (caught.value.pid, caught.value.exitcode) == (pid, -signal.SIGSEGV)
        assert executor.submit(pid_after).result(30) != pid
        assert_pool_works(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_calls_handed_to_a_worker_that_dies_before_starting_them_run_elsewhere() -> None:
    with ProcessPoolExecutor(1) as executor:
        # Short calls first, so that the worker is handed many calls at once.
        assert_pool_works(executor)
        dying = executor.submit(exit_after, 0.5, 3)
        followers = [executor.submit(add, i, 100) for i in range(50)]
        time.sleep(0.2)
        assert dying.running()
        # They sit in the dying worker's pipe, not started: pending.
        assert not any(f.running() for f in followers)
        assert (executor.statistics.running, executor.statistics.pending) == (1, 50)
        with pytest.raises(WorkerLostError):
            dying.result(30)
        assert [f.result(30) for f in followers] == [i + 100 for i in range(50)]
        s = executor.statistics
        assert (s.failures, s.executed) == (1, 20 + 1 + 50)
        assert_counts_add_up(executor)


@pytest.mark.timeout(60)
def test_the_stdlib_pool_breaks_entirely_where_this_one_loses_one_call() -> None:
    context = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as stdlib:
        stdlib.submit(add, 1).result(30)
        dying = stdlib.submit(exit_after, 0.2, 3)
        bystanders = [stdlib.submit(pid_after, 0.5) for _ in range(4)]
        for future in [dying, *bystanders]:
            with pytest.raises(BrokenProcessPool):
                future.result(30)
        with pytest.raises(BrokenProcessPool):
            stdlib.submit(add, 1)

    with ProcessPoolExecutor(2, mp_context=context) as executor:
        executor.submit(add, 1).result(30)
        dying = executor.submit(exit_after, 0.2, 3)
        bystanders = [executor.submit(pid_after, 0.5) for _ in range(4)]
        with pytest.raises(WorkerLostError):
            dying.result(30)
        assert all(isinstance(f.result(30), int) for f in bystanders)
        assert executor.submit(add, 1).result(30) == 1


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_worker_dying_during_shutdown_does_not_hang_it() -> None:
    executor = ProcessPoolExecutor(2)
    dying = executor.submit(exit_after, 0.3, 9)
    others = [executor.submit(pid_after, 0.1) for _ in range(6)]
    executor.shutdown(wait=True)
    with pytest.raises(WorkerLostError):
        dying.result(0)
    assert all(f.done() and isinstance(f.result(0), int) for f in others)
    assert executor.num_workers == 0
    assert_counts_add_up(executor)


@pytest.mark.timeout(30)
def test_workers_killed_while_idle_are_replaced_when_work_comes() -> None:
    with ProcessPoolExecutor(2) as executor:
        pids = worker_pids(executor)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while executor.num_workers and time.monotonic() < deadline:
            time.sleep(0.01)
        assert executor.num_workers == 0
        assert not pids & worker_pids(executor)
        assert executor.statistics.failures == 0  # Nothing was running.


# -- initializer and max_tasks_per_child ------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(30)
def test_the_initializer_runs_once_in_each_worker() -> None:
    with ProcessPoolExecutor(2, None, remember, ("configured", 1)) as executor:
        results = [f.result(30) for f in [executor.submit(initialized) for _ in range(10)]]
        assert all(result == [("configured", 1)] for result in results)
    assert _initialized == []  # It ran in the workers, not here.


@pytest.mark.core
@pytest.mark.timeout(30)
def test_an_initializer_that_raises_breaks_the_pool_with_a_clear_error() -> None:
    executor = ProcessPoolExecutor(2, initializer=failing_initializer)
    futures = [executor.submit(add, i) for i in range(5)]
    for future in futures:
        with pytest.raises(BrokenProcessPool, match="initializer") as caught:
            future.result(30)
        cause = caught.value.__cause__
        assert isinstance(cause, ValueError)
        assert "no configuration" in str(cause)
        assert "failing_initializer" in str(cause.__cause__)
    with pytest.raises(BrokenProcessPool, match="initializer"):
        executor.submit(add, 1)
    executor.shutdown(wait=True)
    assert executor.num_workers == 0
    s = executor.statistics
    assert (s.submitted, s.failures) == (5, 5)
    assert_counts_add_up(executor)


@pytest.mark.timeout(30)
def test_an_initializer_that_raises_is_logged_in_the_worker_as_the_stdlib_does() -> None:
    done = run_python(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from concurrent.futures.process import BrokenProcessPool
        from greenpool.process import ProcessPoolExecutor
        from test_process import add, failing_initializer

        if __name__ == "__main__":
            with ProcessPoolExecutor(1, initializer=failing_initializer) as executor:
                try:
                    executor.submit(add, 1).result(20)
                except BrokenProcessPool:
                    print("broken")
        """,
        25.0,
    )
    assert done.stdout == "broken\n", done.stderr
    # Logging is not configured there: logging.lastResort writes the record.
    assert "Exception in initializer:\nTraceback" in done.stderr
    assert "ValueError: no configuration" in done.stderr


@pytest.mark.timeout(30)
def test_a_worker_process_that_cannot_start_breaks_the_pool_and_fails_its_calls() -> None:
    def refuse(process: Any) -> None:
        raise OSError(errno.EAGAIN, "no more processes")

    context = StartedBy(multiprocessing.get_context("forkserver"), refuse)
    executor = ProcessPoolExecutor(2, mp_context=context)
    future = executor.submit(add, 1)
    with pytest.raises(BrokenProcessPool, match="could not start a worker process") as caught:
        future.result(20)
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(BrokenProcessPool):
        executor.submit(add, 1)
    executor.shutdown(wait=True)
    s = executor.statistics
    assert (s.submitted, s.failures) == (1, 1)
    assert_counts_add_up(executor)


@pytest.mark.timeout(30)
def test_an_initializer_that_kills_its_worker_breaks_the_pool_rather_than_loop() -> None:
    executor = ProcessPoolExecutor(1, initializer=dying_initializer)
    with pytest.raises(BrokenProcessPool, match="died while starting") as caught:
        executor.submit(add, 1).result(30)
    assert "exit code 4" in str(caught.value)
    executor.shutdown(wait=True)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_max_tasks_per_child_replaces_each_worker_after_that_many_calls() -> None:
    with ProcessPoolExecutor(1, max_tasks_per_child=2) as executor:
        pids = [executor.submit(pid_after).result(30) for _ in range(4)]
        assert pids[0::2] == pids[1::2]
        assert len(set(pids)) == 2
        burst = [f.result(30) for f in [executor.submit(pid_after) for _ in range(6)]]
        assert sorted(burst.count(pid) for pid in set(burst)) == [2] * 3
        assert not set(burst) & set(pids)
        assert executor.statistics.failures == 0


# -- dispatch --------------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_call_submitted_while_a_worker_starts_gets_a_worker_of_its_own(tmp_path: Path) -> None:
    # The first call waits until the second has started: with two workers
    # allowed they must run at once. The second is submitted while the pool
    # is still starting the first one's worker (held until then), and must
    # not be queued behind the first call on that worker.
    starting, release = threading.Event(), threading.Event()

    def held_start(process: Any) -> None:
        starting.set()
        release.wait(20)
        process.start()

    context = StartedBy(multiprocessing.get_context("forkserver"), held_start)
    second_started = str(tmp_path / "second-started")
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        try:
            first = executor.submit(wait_for_path, second_started, 15.0)
            assert starting.wait(20)
            second = executor.submit(create, second_started)
        finally:
            release.set()
        assert first.result(30) is True, "the second call waited behind the first"
        assert isinstance(second.result(30), int)
        assert executor.num_workers == 2


@pytest.mark.core
@pytest.mark.timeout(30)
def test_before_any_run_time_is_known_a_busy_worker_is_handed_no_other_call(
    tmp_path: Path,
) -> None:
    release = tmp_path / "release"
    with ProcessPoolExecutor(1) as executor:
        busy = executor.submit(wait_for_path, str(release), 20.0)
        queued = executor.submit(add, 1)
        deadline = time.monotonic() + 20
        while not busy.running():  # Handed to the worker, once it has started.
            assert time.monotonic() < deadline
            time.sleep(0.01)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert not queued.running()
            time.sleep(0.01)
        assert (executor.statistics.running, executor.statistics.pending) == (1, 1)
        assert queued.cancel()  # Still pending: never handed to the busy worker.
        release.touch()
        assert busy.result(30) is True


# -- timeouts ------------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_call_past_its_timeout_is_killed_and_its_worker_replaced() -> None:
    with ProcessPoolExecutor(1) as executor:
        pid = executor.submit(pid_after).result(30)
        started = time.monotonic()
        future = executor.submit_with_timeout(0.3, pid_after, 30)
        with pytest.raises(CallTimeoutError, match=r"0\.3 s") as caught:
            future.result(30)
        assert time.monotonic() - started < 10
        assert isinstance(caught.value, concurrent.futures.TimeoutError)
        assert executor.submit(pid_after).result(30) != pid
        s = executor.statistics
        assert (s.failures, s.executed) == (1, 3)
        assert s.max_runtime >= 0.3
        assert_counts_add_up(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_timeout_counts_from_when_the_call_starts() -> None:
    with ProcessPoolExecutor(1) as executor:
        executor.submit(pid_after).result(30)
        busy = executor.submit(pid_after, 0.6)
        timed = executor.submit_with_timeout(0.5, add, 1, 2)
        slow_but_in_time = executor.submit_with_timeout(1.0, pid_after, 0.3)
        assert timed.result(30) == 3  # Waited 0.6 s for the worker; ran at once.
        assert busy.result(30) == slow_but_in_time.result(30)  # Same worker: nothing killed.
        assert executor.statistics.failures == 0


@pytest.mark.timeout(30)
def test_a_call_with_a_timeout_runs_alone_on_its_worker() -> None:
    with ProcessPoolExecutor(1) as executor:
        assert_pool_works(executor)  # Short calls: a worker is handed calls ahead.
        timed = executor.submit_with_timeout(0.5, pid_after, 30)
        followers = [executor.submit(add, i) for i in range(5)]
        time.sleep(0.2)
        assert timed.running()
        assert not any(f.running() for f in followers)  # None sits behind it.
        with pytest.raises(CallTimeoutError):
            timed.result(30)
        assert [f.result(30) for f in followers] == list(range(5))
        assert executor.statistics.failures == 1


@pytest.mark.timeout(30)
def test_submit_with_timeout_checks_its_arguments(pool: ProcessPoolExecutor) -> None:
    for timeout in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            pool.submit_with_timeout(timeout, add, 1)
    for timeout in (True, "1", None):
        with pytest.raises(TypeError, match="timeout"):
            pool.submit_with_timeout(timeout, add, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pool.submit_with_timeout(1, 42)  # type: ignore[arg-type]


# -- map -------------------------------------------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(30)
def test_map_returns_results_in_order_and_sends_items_in_chunks() -> None:
    with ProcessPoolExecutor(2) as executor:
        assert list(executor.map(add, range(5000), range(5000))) == [2 * i for i in range(5000)]
        chunks = executor.statistics.executed
        assert 8 <= chunks < 500
        assert list(executor.map(add, range(100), chunksize=7)) == list(range(100))
        assert executor.statistics.executed == chunks + 15  # ceil(100 / 7)
        assert list(executor.map(add, [])) == []
        assert_counts_add_up(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_map_is_lazy_and_takes_endless_input(pool: ProcessPoolExecutor) -> None:
    results = pool.map(identity, itertools.count())
    assert list(itertools.islice(results, 20000)) == list(range(20000))
    results.close()  # type: ignore[attr-defined]


@pytest.mark.timeout(30)
def test_map_raises_the_first_error_when_its_item_is_reached(pool: ProcessPoolExecutor) -> None:
    results = pool.map(fail_on, range(100), itertools.repeat(60), chunksize=10)
    assert [next(results) for _ in range(60)] == list(range(60))
    with pytest.raises(ValueError, match="bad item 60"):
        next(results)


@pytest.mark.timeout(30)
def test_map_checks_its_arguments(pool: ProcessPoolExecutor) -> None:
    for chunksize in (0, -1, True, 1.5):
        with pytest.raises(ValueError):
            pool.map(add, [1], chunksize=chunksize)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pool.map(42, [1])  # type: ignore[arg-type]


# -- statistics, rejection, cancellation, shutdown -------------------------------------------


@pytest.mark.core
@pytest.mark.timeout(30)
def test_statistics_time_runs_in_the_worker_and_waits_until_handed_over() -> None:
    with ProcessPoolExecutor(1) as executor:
        # Calls measured as long: a worker is handed one at a time.
        executor.submit(pid_after, 0.2).result(30)
        slow = executor.submit(pid_after, 0.4)
        queued = executor.submit(add, 1)
        time.sleep(0.1)
        s = executor.statistics
        assert (s.running, s.pending) == (1, 1)
        assert slow.running() and not queued.running()
        failed = executor.submit(raise_value_error, "x")
        slow.result(30)
        queued.result(30)
        with pytest.raises(ValueError):
            failed.result(30)
        s = executor.statistics
        assert (s.submitted, s.executed, s.failures, s.running, s.pending) == (4, 4, 1, 0, 0)
        assert 0.4 <= s.max_runtime < 5.0
        assert s.max_wait_time >= 0.25  # queued waited for the slow call.
        assert_counts_add_up(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_running_counts_exactly_the_futures_that_say_they_are_running() -> None:
    with ProcessPoolExecutor(2) as executor:
        futures = [executor.submit(pid_after, 0.3) for _ in range(10)]
        # Both workers busy: waited for rather than slept for, since worker
        # processes start slowly on a loaded machine.
        deadline = time.monotonic() + 20
        while sum(f.running() for f in futures) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert executor.statistics.running == sum(f.running() for f in futures) >= 2
        for future in futures:
            future.result(30)
        assert executor.statistics.running == 0


@pytest.mark.core
@pytest.mark.timeout(30)
def test_check_and_reject_sees_the_backlog() -> None:
    with ProcessPoolExecutor(1, check_and_reject=reject_when_reached(2)) as executor:
        executor.submit(pid_after).result(30)
        futures = [executor.submit(pid_after, 0.3)]
        assert executor.backlog == 0
        futures += [executor.submit(add, 1), executor.submit(add, 2)]
        assert executor.backlog == 2
        with pytest.raises(RejectedSubmission):
            executor.submit(add, 3)
        for future in futures:
            future.result(30)
        assert executor.statistics.rejected == 1
        assert_counts_add_up(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_pending_call_can_be_cancelled_and_never_runs(tmp_path: Path) -> None:
    with ProcessPoolExecutor(1) as executor:
        executor.submit(pid_after, 0.2).result(30)  # Long calls: no calls handed ahead.
        busy = executor.submit(pid_after, 0.4)
        marker = tmp_path / "ran"
        queued = [executor.submit(write_after, str(marker), 0) for _ in range(3)]
        assert all(f.cancel() for f in queued)
        busy.result(30)
        assert executor.submit(add, 1).result(30) == 1
        assert not marker.exists()
        assert executor.statistics.cancelled == 3
        assert_counts_add_up(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_shutdown_with_cancel_futures_cancels_what_no_worker_was_handed() -> None:
    executor = ProcessPoolExecutor(1)
    executor.submit(pid_after, 0.2).result(30)  # Long calls: no calls handed ahead.
    busy = executor.submit(pid_after, 0.3)
    queued = [executor.submit(add, i) for i in range(20)]
    time.sleep(0.1)
    executor.shutdown(wait=True, cancel_futures=True)
    assert isinstance(busy.result(0), int)
    assert all(f.cancelled() for f in queued)
    assert executor.statistics.cancelled == 20
    assert_counts_add_up(executor)


@pytest.mark.core
@pytest.mark.timeout(30)
def test_shutdown_from_a_done_callback_does_not_hang() -> None:
    executor = ProcessPoolExecutor(2)
    called: list[bool] = []

    def stop(_: Any) -> None:
        executor.shutdown(wait=True)
        called.append(True)

    future = executor.submit(add, 1)
    others = [executor.submit(pid_after, 0.2) for _ in range(4)]
    future.add_done_callback(stop)
    assert future.result(30) == 1
    executor.shutdown(wait=True)
    assert called == [True]
    assert all(isinstance(f.result(0), int) for f in others)
    assert executor.num_workers == 0


@pytest.mark.timeout(30)
def test_a_pool_collected_without_shutdown_stops_its_workers() -> None:
    executor = ProcessPoolExecutor(1)
    pid = executor.submit(pid_after).result(30)
    del executor
    gc.collect()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError("the worker of a collected pool is still running")


@pytest.mark.timeout(40)
def test_interpreter_exit_without_shutdown_finishes_accepted_calls(tmp_path: Path) -> None:
    marker = tmp_path / "done"
    done = run_python(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from greenpool.process import ProcessPoolExecutor
        from test_process import write_after
        executor = ProcessPoolExecutor(1)
        executor.submit(write_after, {str(marker)!r}, 0.3)
        print("exiting")
        """,
        30.0,
    )
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "done"


@pytest.mark.timeout(40)
def test_a_pool_whose_manager_thread_cannot_start_is_broken_and_shuts_down() -> None:
    # Python 3.12 refuses new threads once the interpreter is finalizing, as
    # in an exit hook (gh-109047); other versions start them.
    done = run_python(
        """
        import atexit
        from concurrent.futures.process import BrokenProcessPool
        from greenpool.process import ProcessPoolExecutor

        def submit_at_exit():
            executor = ProcessPoolExecutor(1)
            try:
                future = executor.submit(pow, 2, 3)
            except BrokenProcessPool as error:
                print("broken", type(error.__cause__).__name__)
                try:
                    executor.submit(pow, 2, 3)
                except BrokenProcessPool:
                    print("still broken")
            else:
                print("ran", future.result(20))
            executor.shutdown(wait=True)
            print("shut down", executor.num_workers)

        atexit.register(submit_at_exit)  # Runs before greenpool's own exit hook.
        """,
        30.0,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # Nor does greenpool's exit hook fail on the thread.
    if sys.version_info[:2] == (3, 12):
        assert done.stdout.split("\n") == [
            "broken RuntimeError",
            "still broken",
            "shut down 0",
            "",
        ]
    else:
        assert done.stdout.split("\n") == ["ran 8", "shut down 0", ""]


# -- green callers -----------------------------------------------------------------------

GREEN_WAITER = """
import os, sys, time
{patch}
import eventlet
from greenpool.process import ProcessPoolExecutor, WorkerLostError

ticks = 0

def ticker():
    global ticks
    while True:
        eventlet.sleep(0.01)
        ticks += 1

eventlet.spawn(ticker)
executor = ProcessPoolExecutor(1)
first = executor.submit(os.getpid).result(60)  # The worker is up: start-up does not count.

def wait_in_green_thread():
    return executor.submit(time.sleep, 0.5).result(30)

before = ticks
eventlet.spawn(wait_in_green_thread).wait()
green_ticks = ticks - before

before = ticks
failure = executor.submit(os._exit, 3)  # A dead worker is reported to a green waiter too.
try:
    failure.result(30)
except WorkerLostError as error:
    assert error.pid == first, (error.pid, first)
before = ticks
executor.submit(time.sleep, 0.5).result(30)  # From the main green thread.
main_ticks = ticks - before

names = []
future = executor.submit(time.sleep, 0.5)  # Still running when the callback is added.
future.add_done_callback(lambda f: names.append(REAL.current_thread().name))
future.result(30)
executor.shutdown(wait=True)
print(green_ticks, main_ticks, names[0], "OK")
"""


@pytest.mark.core
@pytest.mark.timeout(60)
@pytest.mark.parametrize("monkey_patched", [False, True], ids=["plain", "monkey_patched"])
def test_a_green_thread_waiting_on_a_call_does_not_block_the_hub(monkey_patched: bool) -> None:
    if monkey_patched:
        patch = (
            "import eventlet; eventlet.monkey_patch()\n"
            "REAL = eventlet.patcher.original('threading')"
        )
    else:
        patch = "import threading as REAL"
    done = run_python(GREEN_WAITER.format(patch=patch), 55.0)
    assert done.returncode == 0, done.stderr
    green_ticks, main_ticks, manager, ok = done.stdout.split()[-4:]
    assert ok == "OK"
    assert int(green_ticks) >= 10, done.stdout
    assert int(main_ticks) >= 10, done.stdout
    assert manager.endswith("-manager")  # Callbacks run in the real manager thread.


@pytest.mark.core
@pytest.mark.timeout(30)
def test_submit_wakes_the_manager_only_after_releasing_the_submit_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The wake-up is a write to the manager's pipe, a system call that gives
    # up the GIL; made under the submit lock, it kept every other submitter
    # waiting until this thread got the GIL back.
    from greenpool import _wakeup

    lock_held_at_wake: list[bool] = []
    write = _wakeup._os_write
    with ProcessPoolExecutor(1) as executor:
        assert executor.submit(add, -1).result(timeout=20) == -1  # Its manager has a pipe now.
        manager_pipe = executor._manager._wakeup
        assert manager_pipe is not None

        def recording_write(fd: int, data: bytes) -> int:
            if fd == manager_pipe._write_fd:  # Not a green waiter's hub pipe.
                lock_held_at_wake.append(executor._submit_lock.locked())
            return write(fd, data)

        monkeypatch.setattr(_wakeup, "_os_write", recording_write)
        for i in range(5):
            assert executor.submit(add, i).result(timeout=20) == i
        monkeypatch.undo()  # Before shutdown, whose stop is made under the lock on purpose.
    assert len(lock_held_at_wake) >= 5  # Each submit found the manager asleep, and woke it.
    assert not any(lock_held_at_wake)
