"""The few ``test.support`` helpers the vendored tests use, re-implemented here.

CPython's ``test.support`` differs between 3.10 and 3.13 (``sleeping_retry``,
``Py_GIL_DISABLED`` and ``requires_gil_enabled`` do not exist before 3.12 or
3.13) and is missing altogether from Pythons packaged without their test
suite (Debian's ``python3``, the official Docker images), so the vendored
tests import this module instead. Each helper does what its namesake in
CPython v3.13.0 does, with two deliberate changes, both stricter:

* :func:`threading_cleanup` and :func:`processes_cleanup` fail the test when
  a thread or a ``multiprocessing`` child started during it outlives it
  (after a grace period). CPython's ``threading_cleanup`` and
  ``reap_children`` only mark the environment as altered, which its CI
  (``--fail-env-changed``) turns into a failure.
* the timeouts are shorter than CPython's (30 s and 300 s): they must fit
  in the pytest-timeout (60 s) of each test.

Copyright (c) 2001-2024 Python Software Foundation; All Rights Reserved.
Adapted from CPython v3.13.0, Lib/test/support/__init__.py,
Lib/test/support/threading_helper.py and Lib/test/support/script_helper.py,
under the PSF License Agreement (LICENSE-PSF.txt in this directory).
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import multiprocessing
import os
import platform
import subprocess
import sys
import sysconfig
import threading
import time
import unittest
from collections.abc import Iterator
from typing import Any

#: Upper bound for waits that only end early on success (CPython: 30 s).
SHORT_TIMEOUT = 20.0
#: Upper bound for waits on a possibly deadlocked pool (CPython: 300 s).
LONG_TIMEOUT = 30.0
#: How long a thread or child process may outlive the test that started it.
CLEANUP_GRACE = 5.0
#: Larger than any pipe buffer (as CPython's: 4 MiB + 1).
PIPE_MAX_SIZE = 4 * 1024 * 1024 + 1

verbose = False
Py_GIL_DISABLED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

#: The directory holding this package, so that subprocesses can import it.
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The repository root (for ``greenpool`` when it is not installed).
ROOT_DIR = os.path.dirname(TESTS_DIR)

cpython_only = unittest.skipUnless(
    platform.python_implementation() == "CPython", "CPython implementation detail"
)


def requires_gil_enabled(msg: str = "needs the GIL enabled") -> Any:
    return unittest.skipIf(Py_GIL_DISABLED, msg)


def requires_fork() -> Any:
    return unittest.skipUnless(hasattr(os, "fork"), "requires working os.fork()")


def requires_hashdigest(name: str) -> Any:
    import hashlib

    try:
        hashlib.new(name)
    except ValueError:
        return unittest.skip(f"hash digest {name!r} is not available")
    return lambda func: func


def gc_collect() -> None:
    gc.collect()
    gc.collect()
    gc.collect()


def setswitchinterval(interval: float) -> None:
    sys.setswitchinterval(interval)


def busy_retry(
    timeout: float, err_msg: str | None = None, /, *, error: bool = True
) -> Iterator[None]:
    if timeout <= 0:
        raise ValueError("timeout must be greater than zero")
    start_time = time.monotonic()
    deadline = start_time + timeout
    while True:
        yield
        if time.monotonic() >= deadline:
            break
    if error:
        dt = time.monotonic() - start_time
        msg = f"timeout ({dt:.1f} seconds)"
        if err_msg:
            msg = f"{msg}: {err_msg}"
        raise AssertionError(msg)


def sleeping_retry(
    timeout: float,
    err_msg: str | None = None,
    /,
    *,
    init_delay: float = 0.010,
    max_delay: float = 1.0,
    error: bool = True,
) -> Iterator[None]:
    delay = init_delay
    for _ in busy_retry(timeout, err_msg, error=error):
        yield
        time.sleep(delay)
        delay = min(delay * 2, max_delay)


@contextlib.contextmanager
def captured_stderr() -> Iterator[io.StringIO]:
    original = sys.stderr
    sys.stderr = io.StringIO()
    try:
        yield sys.stderr
    finally:
        sys.stderr = original


@contextlib.contextmanager
def logging_as_unconfigured() -> Iterator[None]:
    """Logging as in an interpreter that nothing configured (not CPython's).

    There, records nobody handles reach ``logging.lastResort``, which writes
    them to ``sys.stderr``; the vendored tests capture that stream. pytest's
    logging plugin puts handlers on the root logger, which would take the
    records instead, so they are taken off for the duration.
    """
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        yield
    finally:
        root.handlers[:] = saved


# -- threads and child processes a test leaves behind ------------------------


def threading_setup() -> frozenset[threading.Thread]:
    return frozenset(threading.enumerate())


def threading_cleanup(before: frozenset[threading.Thread]) -> None:
    """Fail if threads started during the test are still alive after a grace period."""
    for _ in sleeping_retry(CLEANUP_GRACE, error=False):
        dangling = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not dangling:
            return
    raise AssertionError(f"threads started by the test are still running: {dangling}")


def processes_setup() -> frozenset[int]:
    return frozenset(p.pid for p in multiprocessing.active_children())


def processes_cleanup(before: frozenset[int]) -> None:
    """Fail if ``multiprocessing`` children started during the test outlive it.

    ``active_children()`` also joins the children that have exited, which is
    what CPython's ``reap_children`` does for every child.
    """
    for _ in sleeping_retry(CLEANUP_GRACE, error=False):
        dangling = [p for p in multiprocessing.active_children() if p.pid not in before]
        if not dangling:
            return
    raise AssertionError(f"child processes started by the test are still running: {dangling}")


def wait_threads_exit(threads: list[threading.Thread], timeout: float = SHORT_TIMEOUT) -> None:
    """``t.join()`` for each thread, with a deadline instead of a possible hang."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t for t in threads if t.is_alive()]
    if alive:
        raise AssertionError(f"threads still running after {timeout} s: {alive}")


# -- subprocesses -------------------------------------------------------------


def assert_python_ok(*args: str, timeout: float = LONG_TIMEOUT) -> tuple[int, bytes, bytes]:
    """Run ``python *args``; fail unless it exits with 0; return (rc, out, err).

    Unlike CPython's helper the interpreter is not isolated (``-I``): the
    script must import this package and greenpool, so ``PYTHONPATH`` gets
    the tests directory and the repository root. A script still running
    after ``timeout`` seconds is killed and fails the test (before the
    pytest-timeout would end the whole run).
    """
    env = dict(os.environ)
    path = [TESTS_DIR, ROOT_DIR]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    cmd = [sys.executable, "-X", "faulthandler", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, cwd=ROOT_DIR)
    if proc.returncode:
        raise AssertionError(
            f"process failed with exit code {proc.returncode}\n"
            f"command: {cmd!r}\nstdout:\n{proc.stdout.decode(errors='replace')}\n"
            f"stderr:\n{proc.stderr.decode(errors='replace')}"
        )
    return proc.returncode, proc.stdout, proc.stderr
