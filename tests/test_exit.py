"""Interpreter exit: every kind of executor finishes what it accepted, in a fixed order.

Each case is a program under ``tests/programs`` run in a fresh interpreter:
what happens at exit cannot be seen from inside a test process that goes
on running. The thread and process pools' own exit behaviour is tested in
test_thread.py and test_process.py.
"""

from __future__ import annotations

import pytest
from conftest import run_program

pytestmark = pytest.mark.timeout(60)


@pytest.mark.core
def test_a_green_pool_finishes_started_and_queued_calls_at_exit() -> None:
    # Its calls used to be dropped silently: nothing ran the hub after main returned.
    done = run_program("green_exit.py", 30)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "main done", done.stdout
    assert sorted(lines[1:]) == [f"finished {i}" for i in range(4)], done.stdout


@pytest.mark.core
def test_green_executors_finish_before_thread_pools_are_joined() -> None:
    done = run_program("exit_order.py", 25)  # Under the call's own 30 s timeout.
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "main done",
        "the thread pool's call saw the green call finish",
    ], done.stderr
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.core
def test_exit_warns_of_green_calls_whose_hub_thread_has_ended_and_does_not_hang() -> None:
    done = run_program("green_exit_ended_thread.py", 30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["main done"]
    assert "'orphan'" in done.stderr, done.stderr
    assert "1 call(s) will never finish" in done.stderr, done.stderr
