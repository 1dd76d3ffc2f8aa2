"""Interpreter exit with work pending, for the kinds tests/test_exit.py does not cover.

Each program under ``tests/programs`` submits calls, waits until some have
started (they say so, or the executor counts them running), and returns
from the main program with the others queued and a delayed call an hour
away. Each test checks, in a fresh interpreter, that the program exits
with 0 within its bound, that every started call finished, that the queued
calls ran (what the README's "At interpreter exit" promises), that the
delayed call was cancelled, and that nothing printed a traceback. A
synchronous executor has no queue: what it can have running at exit is a
delayed call that fell due, in its alarm thread. The dask tests are marked
``dask`` and skipped where ``distributed`` is not installed (found, not
imported: the dask extra is absent on the Pythons that run ``-m core``).

Covered elsewhere, not repeated here: the green executor
(test_exit.py::test_a_green_pool_finishes_started_and_queued_calls_at_exit),
the thread pool (test_thread.py::test_exit_without_shutdown_finishes_queued_calls),
the process pool
(test_process.py::test_interpreter_exit_without_shutdown_finishes_accepted_calls),
and delayed calls not yet due on the thread, green and synchronous executors
(test_delayed.py::test_interpreter_exit_cancels_delayed_calls_not_yet_due).
"""

from __future__ import annotations

import importlib.util
import subprocess

import pytest
from conftest import run_program

requires_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="the extra greenpool[dask]"
)


def run(name: str, timeout: float) -> tuple[list[str], list[str]]:
    """Run the program; its lines before ``main done`` and from it on (checked: exit 0, no
    traceback)."""
    done: subprocess.CompletedProcess[str] = run_program(name, timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    ends = [i for i, line in enumerate(lines) if line.startswith("main done")]
    assert len(ends) == 1, done.stdout
    return lines[: ends[0]], lines[ends[0] :]


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_dynamic_pool_finishes_started_and_queued_calls_at_exit() -> None:
    before, after = run("dynamic_exit.py", 20)
    assert after[0] == "main done: running 2, pending 2, scheduled 1", after
    assert sorted(before) == ["started 0", "started 1"], before
    # The queued calls start only once main has returned, and every call finishes.
    assert sorted(after[1:]) == sorted(
        ["cancelled delayed", "started 2", "started 3"] + [f"finished {i}" for i in range(4)]
    ), after


@pytest.mark.core
@pytest.mark.timeout(30)
def test_a_synchronous_executor_finishes_a_delayed_call_running_at_exit() -> None:
    # Call 1 runs in the executor's alarm thread: before that thread was joined
    # at exit, the interpreter froze it mid-call and "finished 1" never came.
    before, after = run("synchronous_exit.py", 20)
    assert before == ["started 0", "finished 0", "started 1"], before
    assert after[0] == "main done: running 1, pending 0, scheduled 1", after
    assert sorted(after[1:]) == ["cancelled delayed", "finished 1"], after


def check_dask_exit(name: str, shared: list[str]) -> None:
    before, after = run(name, 75)
    assert before[0].startswith("started ") and before[1].startswith("queued "), before
    started, queued = before[0].split()[1:], before[1].split()[1:]
    assert started and all(call.isdigit() for call in started), before
    assert sorted(queued) == sorted([str(len(started)), str(len(started) + 1), *shared]), before
    assert after[0] == "main done", after
    # Started calls finish with their results, and queued ones run (none is
    # cancelled by distributed's own exit hooks, as before); the delayed call
    # an hour away is cancelled.
    assert sorted(after[1:]) == sorted(
        ["cancelled delayed"] + [f"finished {call}" for call in started + queued]
    ), after


@pytest.mark.dask
@requires_dask
@pytest.mark.timeout(90)
def test_dask_on_its_own_local_cluster_finishes_started_and_queued_calls_at_exit() -> None:
    # Before, distributed's exit hooks ran first and closed the cluster: every
    # call failed with "the dask cluster ended this call: cancelled". The
    # executor sharing the client has one call on the scheduler, one held back.
    check_dask_exit("dask_exit.py", ["shared-0", "shared-1"])


@pytest.mark.dask
@requires_dask
@pytest.mark.timeout(90)
def test_dask_under_monkey_patching_finishes_started_and_queued_calls_at_exit() -> None:
    # Before, the main process exited at once and no call's result came back;
    # its helper printed BrokenPipeError tracebacks and lingered for 60 s.
    check_dask_exit("dask_exit_patched.py", [])
