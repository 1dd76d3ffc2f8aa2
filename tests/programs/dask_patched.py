"""DaskExecutor in a process eventlet has monkey patched: the client in a helper process.

Run by tests/test_dask.py as ``dask_patched.py SCENARIO [ADDRESS]``; prints
one line per check and ``OK`` at the end. ``ADDRESS`` is a scheduler the test
started in its own (unpatched) process; without it the helper starts a
``LocalCluster`` of its own.
"""

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dask_tasks  # noqa: E402

import greenpool  # noqa: E402
from greenpool import waiters  # noqa: E402


def calls(address: str | None) -> None:
    executor = greenpool.DaskExecutor(address)
    assert executor.client is None
    assert "distributed" not in sys.modules, "the patched process imported distributed"
    print("max_workers", executor.max_workers, flush=True)
    assert executor.submit(dask_tasks.inc, 1).result(timeout=30) == 2
    error = executor.submit(dask_tasks.fail, "patched").exception(timeout=30)
    assert isinstance(error, dask_tasks.TaskError), error
    assert "in fail" in str(error.__cause__)
    print("result and remote traceback", flush=True)

    # Green threads wait on their futures while another keeps ticking: the hub runs.
    ticks = []

    def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    ticking = eventlet.spawn(ticker)
    waiting = [
        eventlet.spawn(lambda i=i: executor.submit(dask_tasks.nap, 0.2, i).result(30))
        for i in range(8)
    ]
    assert sorted(green.wait() for green in waiting) == list(range(8))
    ticking.kill()
    assert len(ticks) >= 20, len(ticks)
    print("green threads waited, ticks", len(ticks), flush=True)

    busy = [executor.submit(dask_tasks.nap, 0.5) for _ in range(executor.max_workers)]
    deadline = time.monotonic() + 20
    while executor.statistics.running < executor.max_workers:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    queued = executor.submit(dask_tasks.inc, 5)
    assert queued.cancel()
    assert not busy[0].cancel()
    waiters.wait_for_all(busy, timeout=30)
    print("cancel", flush=True)

    assert list(executor.map(dask_tasks.inc, range(500))) == list(range(1, 501))
    pool = greenpool.Pool(executor=executor)
    assert pool.map(dask_tasks.inc, range(100)) == list(range(1, 101))
    pool.close()
    pool.join()
    print("map and Pool", flush=True)

    # A lambda pickles (cloudpickle, as dask): it reaches the worker, where inc fails on it.
    error = executor.submit(dask_tasks.inc, lambda: None).exception(timeout=30)
    assert isinstance(error, TypeError) and "unsupported operand" in str(error), error
    print("a lambda argument reached the worker", flush=True)

    stats = executor.statistics
    assert stats.pending == stats.running == 0, stats
    assert stats.submitted == stats.executed + stats.cancelled, stats
    assert stats.cancelled == 1 and stats.failures == 2, stats  # fail(); inc(lambda).
    process = executor._link._process
    executor.shutdown()
    assert process.poll() is not None, "the helper outlived shutdown"
    print("statistics add up; helper exited", process.returncode, flush=True)


def helper_killed(address: str | None) -> None:
    executor = greenpool.DaskExecutor(address)
    running = executor.submit(dask_tasks.nap, 5.0)
    deadline = time.monotonic() + 20
    while executor.statistics.running < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(executor._link._process.pid, signal.SIGKILL)
    error = running.exception(timeout=30)
    assert isinstance(error, greenpool.WorkerLostError), error
    assert "helper process" in str(error) and "SIGKILL" in str(error), error
    try:
        executor.submit(dask_tasks.inc, 1)
    except greenpool.WorkerLostError as refused:
        print("refused after:", refused, flush=True)
    else:
        raise AssertionError("a submit after the helper died was accepted")
    stats = executor.statistics
    assert stats.failures == 1 and stats.pending == stats.running == 0, stats
    executor.shutdown()
    print("helper killed", flush=True)


def client_refused(address: str | None) -> None:
    try:
        greenpool.DaskExecutor(object())
    except TypeError as exc:
        print("refused:", exc, flush=True)
    else:
        raise AssertionError("an object was accepted as a client")


if __name__ == "__main__":
    scenario = sys.argv[1]
    given = sys.argv[2] if len(sys.argv) > 2 else None
    {"calls": calls, "helper-killed": helper_killed, "client-refused": client_refused}[scenario](
        given
    )
    print("OK", flush=True)
