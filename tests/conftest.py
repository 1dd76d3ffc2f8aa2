"""Shared test set-up: importing this imports no eventlet (see test_import.py).

Fixtures shared by several test modules live here; plain helpers that tests
import (and that do import eventlet) live in helpers.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from greenpool import Executor, GreenThreadPoolExecutor

# Before any test module imports it: failed asserts in helpers.py explain themselves.
pytest.register_assert_rewrite("helpers", "policy_rigs")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, timeout: float = 60.0, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (for monkey patching, import checks, crashes)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


PROGRAMS = os.path.join(ROOT, "tests", "programs")


def run_program(name: str, timeout: float = 60.0, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``tests/programs/<name>`` in a fresh interpreter, from the project's root."""
    return subprocess.run(
        [sys.executable, os.path.join(PROGRAMS, name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture
def python() -> object:
    """The :func:`run_python` helper, as a fixture."""
    return run_python


@pytest.fixture
def make() -> Iterator[Callable[..., GreenThreadPoolExecutor]]:
    """Build green executors that are shut down (queued work cancelled) after the test.

    The shutdown is bounded: pytest-timeout stops timing a test once it has
    failed, so a teardown that blocked on a stuck worker would hang the run.
    (test_futurist_compat.py has a ``make`` of its own, for any backend.)
    """
    import eventlet

    from greenpool import GreenThreadPoolExecutor

    made: list[GreenThreadPoolExecutor] = []

    def factory(*args: Any, **kwargs: Any) -> GreenThreadPoolExecutor:
        executor = GreenThreadPoolExecutor(*args, **kwargs)
        made.append(executor)
        return executor

    yield factory
    with eventlet.Timeout(5):
        for executor in made:
            executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(params=["green", "thread", "dynamic", "synchronous", "process"])
def any_executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """One executor of each kind, in turn (small: 2 workers, 1 process); shut down after."""
    import greenpool
    from greenpool.process import ProcessPoolExecutor

    kinds: dict[str, Callable[[], Executor]] = {
        "green": lambda: greenpool.GreenThreadPoolExecutor(2),
        "thread": lambda: greenpool.ThreadPoolExecutor(2),
        "dynamic": lambda: greenpool.DynamicThreadPoolExecutor(2),
        "synchronous": greenpool.SynchronousExecutor,
        "process": lambda: ProcessPoolExecutor(1),
    }
    executor = kinds[request.param]()
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)
