# Vendored from CPython v3.13.0, Lib/test/test_concurrent_futures/util.py,
# and adapted to run greenpool's executors in place of the stdlib's.
# Mechanical changes: formatted with ruff; ._support instead of test.support
# (whose requires_resource() and sanitizer checks are dropped: every resource
# is used, as when CPython's tests run outside regrtest); no setUpModule (see
# util.py). Every other change is marked "greenpool:"; README.md lists them.
# Copyright (c) 2001-2024 Python Software Foundation; All Rights Reserved.
# Licensed under the PSF License Agreement: LICENSE-PSF.txt in this directory.
# ruff: noqa: RUF012, UP031
import multiprocessing
import os
import sys
import threading
import time
import unittest
from concurrent.futures._base import (
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from concurrent.futures.process import _check_system_limits

import greenpool
from greenpool import Future  # greenpool: the future its executors return.

from . import _support as support


def create_future(state=PENDING, exception=None, result=None):
    f = Future()
    f._state = state
    f._exception = exception
    f._result = result
    return f


PENDING_FUTURE = create_future(state=PENDING)
RUNNING_FUTURE = create_future(state=RUNNING)
CANCELLED_FUTURE = create_future(state=CANCELLED)
CANCELLED_AND_NOTIFIED_FUTURE = create_future(state=CANCELLED_AND_NOTIFIED)
EXCEPTION_FUTURE = create_future(state=FINISHED, exception=OSError())
SUCCESSFUL_FUTURE = create_future(state=FINISHED, result=42)


class BaseTestCase(unittest.TestCase):
    def setUp(self):
        self._thread_key = support.threading_setup()
        self._process_key = support.processes_setup()

    def tearDown(self):
        # greenpool: both fail the test if it left a thread or a child process
        # running (CPython's only warn); see _support.
        support.threading_cleanup(self._thread_key)
        support.processes_cleanup(self._process_key)


class ExecutorMixin:
    worker_count = 5
    executor_kwargs = {}

    def setUp(self):
        super().setUp()

        self.t1 = time.monotonic()
        if hasattr(self, "ctx"):
            self.executor = self.executor_type(
                max_workers=self.worker_count, mp_context=self.get_context(), **self.executor_kwargs
            )
        else:
            self.executor = self.executor_type(
                max_workers=self.worker_count, **self.executor_kwargs
            )
        # greenpool: guard the substitution itself.
        self.assertIsInstance(self.executor, greenpool.Executor)

    def tearDown(self):
        self.executor.shutdown(wait=True)
        self.executor = None

        dt = time.monotonic() - self.t1
        if support.verbose:
            print("%.2fs" % dt, end=" ")
        self.assertLess(dt, 300, "synchronization issue: test lasted too long")

        super().tearDown()

    def get_context(self):
        return multiprocessing.get_context(self.ctx)


class ThreadPoolMixin(ExecutorMixin):
    executor_type = greenpool.ThreadPoolExecutor


class ProcessPoolForkMixin(ExecutorMixin):
    executor_type = greenpool.ProcessPoolExecutor
    ctx = "fork"

    def get_context(self):
        try:
            _check_system_limits()
        except NotImplementedError:
            self.skipTest("ProcessPoolExecutor unavailable on this system")
        if sys.platform == "win32":
            self.skipTest("require unix system")
        return super().get_context()


class ProcessPoolSpawnMixin(ExecutorMixin):
    executor_type = greenpool.ProcessPoolExecutor
    ctx = "spawn"

    def get_context(self):
        try:
            _check_system_limits()
        except NotImplementedError:
            self.skipTest("ProcessPoolExecutor unavailable on this system")
        return super().get_context()


class ProcessPoolForkserverMixin(ExecutorMixin):
    executor_type = greenpool.ProcessPoolExecutor
    ctx = "forkserver"

    def get_context(self):
        try:
            _check_system_limits()
        except NotImplementedError:
            self.skipTest("ProcessPoolExecutor unavailable on this system")
        if sys.platform == "win32":
            self.skipTest("require unix system")
        return super().get_context()


# greenpool: which start methods the process pool tests run with. CPython runs
# all three; to keep the suite short, the default here is greenpool's own
# default (forkserver) and fork (the stdlib's default on Linux up to 3.13,
# and the one whose workers inherit the parent's threads), and only
# forkserver for test_wait and test_as_completed, whose tests are about
# waiting on futures, not about how workers start, and take the longest.
# GREENPOOL_CONFORMANCE_CONTEXTS=fork,forkserver,spawn runs every module
# with all three.
_PROCESS_MIXINS = {
    "fork": ProcessPoolForkMixin,
    "forkserver": ProcessPoolForkserverMixin,
    "spawn": ProcessPoolSpawnMixin,
}
_CONTEXTS = os.environ.get("GREENPOOL_CONFORMANCE_CONTEXTS")


def _process_pool_mixins(names):
    return tuple(_PROCESS_MIXINS[name.strip()] for name in names.split(",") if name.strip())


PROCESS_POOL_MIXINS = _process_pool_mixins(_CONTEXTS or "forkserver,fork")
WAIT_PROCESS_POOL_MIXINS = _process_pool_mixins(_CONTEXTS or "forkserver")


def create_executor_tests(
    remote_globals,
    mixin,
    bases=(BaseTestCase,),
    executor_mixins=(ThreadPoolMixin, *PROCESS_POOL_MIXINS),
):
    def strip_mixin(name):
        if name.endswith(("Mixin", "Tests")):
            return name[:-5]
        elif name.endswith("Test"):
            return name[:-4]
        else:
            return name

    module = remote_globals["__name__"]
    for exe in executor_mixins:
        name = "%s%sTest" % (strip_mixin(exe.__name__), strip_mixin(mixin.__name__))
        cls = type(name, (mixin, exe, *bases), {"__module__": module})
        remote_globals[name] = cls


# greenpool: CPython's setup_module() registers process-wide clean-ups for
# its own test runner (multiprocessing.util._cleanup_tests stops the shared
# forkserver and resource tracker); the per-test checks in BaseTestCase
# cover what matters here, so there is no module set-up.


# -- greenpool: public stand-ins for the stdlib's private attributes ----------
#
# The stdlib tests read executor._threads, executor._processes and
# executor._executor_manager_thread. greenpool documents the names of what it
# starts instead: thread pool threads are "<thread_name_prefix or name>_<n>",
# process pool workers "<name>-worker-<n>" and its manager thread
# "<name>-manager"; and `num_workers` counts the workers that exist now.


def pool_threads(executor, prefix=None):
    """The live threads of a greenpool ThreadPoolExecutor (stdlib: ``executor._threads``)."""
    prefix = (prefix or executor.name) + "_"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def manager_thread(executor):
    """A process pool's manager thread (stdlib: ``executor._executor_manager_thread``)."""
    name = f"{executor.name}-manager"
    threads = [t for t in threading.enumerate() if t.name == name]
    assert len(threads) == 1, threads
    return threads[0]


def live_workers(executor_name):
    """A process pool's live worker processes (stdlib: ``executor._processes``)."""
    prefix = f"{executor_name}-worker-"
    return [p for p in multiprocessing.active_children() if p.name.startswith(prefix)]


def wait_for_num_workers(executor, expected):
    """Wait until ``executor.num_workers == expected``.

    The stdlib starts worker processes inside submit(); greenpool's manager
    thread starts them as it dispatches, so the count is reached shortly
    after submit() returns rather than when it returns.
    """
    for _ in support.sleeping_retry(support.SHORT_TIMEOUT, error=False):
        if executor.num_workers == expected:
            return
    raise AssertionError(f"num_workers is {executor.num_workers}, expected {expected}")
