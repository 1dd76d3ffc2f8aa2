"""Process pool: calls a worker holds ahead of the one it runs stay pending and cancellable.

Under a backlog each worker is handed calls ahead of the one it runs. Until
the worker starts one, that call counts as pending, ``cancel()`` and
``shutdown(cancel_futures=True)`` stop it, and an idle worker takes it over.
Each test first runs short calls, so that the pool has measured short run
times and prefetches; ``held_calls`` (white-box, read only) shows that the
scenario really has calls sitting in a worker's pipe.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from pathlib import Path

import pytest

from greenpool.process import ProcessPoolExecutor, WorkerLostError

pytestmark = pytest.mark.timeout(60)


# -- what the workers run ------------------------------------------------------


def pid() -> int:
    return os.getpid()


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def create(path: str) -> int:
    Path(path).touch()
    return os.getpid()


def wait_for_path(path: str, seconds: float) -> int:
    """Wait until ``path`` exists (at most ``seconds``); return this worker's pid."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.005)
    return os.getpid()


def report_pid_then_wait_for_path(path: str, release: str, seconds: float) -> int:
    """Leave this worker's pid in ``path``, then wait for ``release`` (at most ``seconds``)."""
    Path(path).write_text(str(os.getpid()))
    return wait_for_path(release, seconds)


# -- helpers -------------------------------------------------------------------


def held_calls(executor: ProcessPoolExecutor) -> int:
    """White-box: calls handed to worker processes and not answered yet."""
    workers = list(executor._manager._workers.values())
    return sum(len(worker.held) for worker in workers)


def assert_counts_add_up(executor: ProcessPoolExecutor) -> None:
    s = executor.statistics
    assert s.submitted == s.executed + s.cancelled + s.pending + s.running, s


def warm_up(executor: ProcessPoolExecutor, workers: int) -> set[int]:
    """Calls on every worker, the last ones tiny: run times are measured short, so that
    calls get prefetched (``time.sleep(0)`` is not tiny: it lasts the timer slack)."""
    pids: set[int] = set()
    deadline = time.monotonic() + 20
    while len(pids) < workers:
        assert time.monotonic() < deadline, pids
        pids |= {f.result(30) for f in [executor.submit(pid_after, 0.01) for _ in range(20)]}
    for future in [executor.submit(pid) for _ in range(200)]:
        future.result(30)
    return pids


def wait_until(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.005)


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    wait_until(lambda: path.exists() and path.read_text(), timeout)
    return path.read_text()


# -- the cancellation case of issue 9 ------------------------------------------


@pytest.mark.core
def test_shutdown_cancel_futures_cancels_the_20_calls_queued_behind_a_long_call() -> None:
    executor = ProcessPoolExecutor(1)
    warm_up(executor, 1)
    long_call = executor.submit(pid_after, 0.5)
    quick = [executor.submit(pid) for _ in range(20)]
    wait_until(long_call.running)
    # They sit in the worker's pipe, behind the long call.
    wait_until(lambda: held_calls(executor) == 21)
    s = executor.statistics
    assert (s.running, s.pending) == (1, 20)
    assert not any(f.running() for f in quick)
    assert_counts_add_up(executor)

    executor.shutdown(wait=True, cancel_futures=True)

    assert isinstance(long_call.result(0), int)
    assert all(f.cancelled() for f in quick)
    s = executor.statistics
    assert (s.cancelled, s.pending, s.running) == (20, 0, 0)
    assert s.executed == 220 + 1
    assert_counts_add_up(executor)


@pytest.mark.core
def test_the_counts_add_up_throughout_while_prefetched_calls_are_cancelled() -> None:
    executor = ProcessPoolExecutor(1)
    warm_up(executor, 1)
    long_call = executor.submit(pid_after, 0.5)
    quick = [executor.submit(pid) for _ in range(20)]
    wait_until(long_call.running)
    for future in quick[::2]:
        assert future.cancel()
        assert_counts_add_up(executor)
    assert executor.statistics.pending == 10
    deadline = time.monotonic() + 20
    while not all(f.done() for f in quick):
        assert time.monotonic() < deadline
        assert_counts_add_up(executor)
        time.sleep(0.001)
    assert [f.cancelled() for f in quick] == [True, False] * 10
    assert all(isinstance(f.result(0), int) for f in quick[1::2])
    executor.shutdown(wait=True)
    s = executor.statistics
    assert (s.cancelled, s.pending, s.running) == (10, 0, 0)
    assert_counts_add_up(executor)


@pytest.mark.core
def test_cancel_of_a_prefetched_call_returns_true_and_the_call_never_runs(tmp_path: Path) -> None:
    release = tmp_path / "release"
    with ProcessPoolExecutor(1) as executor:
        warm_up(executor, 1)
        busy = executor.submit(wait_for_path, str(release), 20.0)
        marks = [tmp_path / f"ran-{i}" for i in range(10)]
        queued = [executor.submit(create, str(mark)) for mark in marks]
        wait_until(busy.running)
        wait_until(lambda: held_calls(executor) == 11)
        assert all(f.cancel() for f in queued)
        assert all(f.cancelled() and f.done() for f in queued)
        release.touch()
        busy.result(30)
        assert executor.submit(pid).result(30) > 0  # The worker has gone past them.
        assert not any(mark.exists() for mark in marks)
        s = executor.statistics
        assert (s.cancelled, s.pending, s.running) == (10, 0, 0)
        assert_counts_add_up(executor)


@pytest.mark.core
def test_cancel_fails_for_a_call_its_worker_has_started(tmp_path: Path) -> None:
    release = tmp_path / "release"
    with ProcessPoolExecutor(1) as executor:
        warm_up(executor, 1)
        busy = executor.submit(wait_for_path, str(release), 20.0)
        wait_until(busy.running)
        assert not busy.cancel()
        release.touch()
        assert busy.result(30) > 0
        assert executor.statistics.cancelled == 0


# -- an idle worker does not stay idle ------------------------------------------


@pytest.mark.core
def test_an_idle_worker_takes_over_calls_prefetched_behind_a_long_call(tmp_path: Path) -> None:
    release = tmp_path / "release"
    with ProcessPoolExecutor(2) as executor:
        try:
            warm_up(executor, 2)
            # One worker stuck until released, with short calls handed to both.
            stuck = executor.submit(wait_for_path, str(release), 30.0)
            quick = [executor.submit(pid_after, 0.001) for _ in range(60)]
            _, not_done = concurrent.futures.wait(quick, timeout=20)
            assert not not_done, f"{len(not_done)} calls stayed behind the stuck one"
            assert not stuck.done()
            ran_on = {f.result() for f in quick}
            release.touch()
            stuck_pid = stuck.result(30)
            assert stuck_pid not in ran_on, "a call waited for the stuck worker"
            assert_counts_add_up(executor)
        finally:
            release.touch()  # A failed assertion fails at once, not after the stuck call.


# -- a worker killed while holding calls ahead -----------------------------------


@pytest.mark.core
def test_a_killed_worker_fails_its_started_call_and_its_unstarted_calls_run_elsewhere(
    tmp_path: Path,
) -> None:
    release = tmp_path / "release"
    pid_file = tmp_path / "doomed-pid"
    with ProcessPoolExecutor(2) as executor:
        # Released on the way out too: a failed assertion then fails the test at once,
        # instead of leaving shutdown to wait for both long calls to time out.
        try:
            warm_up(executor, 2)
            doomed = executor.submit(report_pid_then_wait_for_path, str(pid_file), str(release), 60)
            blocked = executor.submit(wait_for_path, str(release), 30.0)
            quick = [executor.submit(pid) for _ in range(40)]
            doomed_pid = int(wait_for_file(pid_file))
            wait_until(lambda: doomed.running() and blocked.running())
            # Both workers hold calls behind their long one.
            wait_until(lambda: held_calls(executor) == 42)
            s = executor.statistics
            assert (s.running, s.pending) == (2, 40)

            os.kill(doomed_pid, signal.SIGKILL)

            with pytest.raises(WorkerLostError) as caught:
                doomed.result(30)
            assert (caught.value.pid, caught.value.exitcode) == (doomed_pid, -signal.SIGKILL)
            assert "while running this call" in str(caught.value)
            # All of them, those behind the blocked worker too: its replacement,
            # idle once it has run the dead worker's calls, takes them over.
            _, not_done = concurrent.futures.wait(quick, timeout=20)
            assert not not_done
            assert doomed_pid not in {f.result() for f in quick}
            assert not blocked.done()
            release.touch()
            assert blocked.result(30) > 0
            s = executor.statistics
            assert (s.failures, s.cancelled, s.pending, s.running) == (1, 0, 0, 0)
            assert_counts_add_up(executor)
        finally:
            release.touch()
