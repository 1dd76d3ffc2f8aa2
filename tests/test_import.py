"""Importing greenpool: no eventlet until a green executor exists, and futurist's public names."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

import greenpool


def assert_runs_strict(code: str) -> None:
    """Run ``code`` as ``python -W error -c code`` and check it printed ``ok`` and exited 0.

    Under ``-W error`` eventlet's import warning would be fatal.
    """
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.core
@pytest.mark.timeout(40)
def test_import_greenpool_warns_nothing_and_imports_no_eventlet() -> None:
    assert_runs_strict(
        """
        import sys
        import greenpool

        greenpool.ThreadPoolExecutor
        assert "eventlet" not in sys.modules, sorted(m for m in sys.modules if "eventlet" in m)
        print("ok")
        """
    )


@pytest.mark.core
@pytest.mark.timeout(40)
def test_import_and_synchronous_use_never_import_eventlet() -> None:
    assert_runs_strict(
        """
        import sys
        import greenpool

        executor = greenpool.SynchronousExecutor()
        future = executor.submit(pow, 2, 10)
        assert isinstance(future, greenpool.Future), type(future)
        assert future.result(timeout=5) == 1024
        executor.shutdown()
        assert "eventlet" not in sys.modules, sorted(m for m in sys.modules if "eventlet" in m)
        print("ok")
        """
    )


@pytest.mark.core
@pytest.mark.timeout(40)
def test_rejection_and_waiters_never_import_eventlet() -> None:
    assert_runs_strict(
        """
        import sys
        import greenpool
        from greenpool import rejection, waiters

        executor = greenpool.SynchronousExecutor(
            check_and_reject=rejection.reject_when_reached(1)
        )
        futures = [executor.submit(int, "7"), executor.submit(int, "8")]
        done, not_done = waiters.wait_for_all(futures, timeout=5)
        assert done == set(futures) and not not_done
        done, not_done = waiters.wait_for_any(futures, timeout=5)
        assert done == set(futures) and not not_done
        assert executor.statistics.executed == 2
        assert "eventlet" not in sys.modules, sorted(m for m in sys.modules if "eventlet" in m)
        print("ok")
        """
    )


@pytest.mark.core
@pytest.mark.timeout(40)
def test_creating_a_green_executor_is_what_imports_eventlet(
    python: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    proc = python(
        """
        import sys
        import warnings
        import greenpool

        assert "eventlet" not in sys.modules
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            executor = greenpool.GreenThreadPoolExecutor(2)
        assert "eventlet" in sys.modules
        assert executor.submit(pow, 3, 3).result(timeout=5) == 27
        executor.shutdown()
        print("ok")
        """,
        30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.core
@pytest.mark.parametrize(
    "name",
    [
        "GreenThreadPoolExecutor",
        "SynchronousExecutor",
        "ThreadPoolExecutor",
        "ProcessPoolExecutor",
        "Future",
        "GreenFuture",
        "ExecutorStatistics",
        "RejectedSubmission",
        "CancelledError",
        "TimeoutError",
    ],
)
def test_futurist_top_level_names_exist(name: str) -> None:
    assert name in greenpool.__all__
    assert getattr(greenpool, name) is not None


@pytest.mark.core
def test_futurist_names_mean_the_same_things() -> None:
    assert greenpool.CancelledError is concurrent.futures.CancelledError
    assert greenpool.TimeoutError is concurrent.futures.TimeoutError
    assert greenpool.GreenFuture is greenpool.Future
    assert issubclass(greenpool.Future, concurrent.futures.Future)
    assert issubclass(greenpool.RejectedSubmission, Exception)
    for executor_class in (
        greenpool.GreenThreadPoolExecutor,
        greenpool.SynchronousExecutor,
        greenpool.ThreadPoolExecutor,
        greenpool.ProcessPoolExecutor,
    ):
        assert issubclass(executor_class, concurrent.futures.Executor)


@pytest.mark.core
def test_futurist_submodule_functions_exist() -> None:
    functions: list[Callable[..., Any]] = [
        greenpool.rejection.reject_when_reached,
        greenpool.waiters.wait_for_any,
        greenpool.waiters.wait_for_all,
    ]
    assert all(callable(function) for function in functions)
    from greenpool.rejection import reject_when_reached
    from greenpool.waiters import wait_for_all, wait_for_any

    assert functions == [reject_when_reached, wait_for_any, wait_for_all]


@pytest.mark.core
@pytest.mark.timeout(40)
def test_the_process_pool_and_multiprocessing_are_imported_on_first_use() -> None:
    assert_runs_strict(
        """
        import sys
        import greenpool

        assert "multiprocessing" not in sys.modules
        assert "ProcessPoolExecutor" in dir(greenpool)
        from greenpool import ProcessPoolExecutor, WorkerLostError

        assert greenpool.ProcessPoolExecutor is ProcessPoolExecutor
        assert issubclass(WorkerLostError, greenpool.process.BrokenProcessPool)
        assert "multiprocessing" in sys.modules
        try:
            greenpool.NoSuchName
        except AttributeError as exc:
            assert "NoSuchName" in str(exc)
        else:
            raise AssertionError("no AttributeError")
        print("ok")
        """
    )
