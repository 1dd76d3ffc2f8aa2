# Vendored from CPython v3.13.0, Lib/test/test_concurrent_futures/test_init.py,
# and adapted to run greenpool's executors in place of the stdlib's.
# Mechanical changes: formatted with ruff; ._support instead of test.support
# (whose requires_resource() and sanitizer checks are dropped: every resource
# is used, as when CPython's tests run outside regrtest); no setUpModule (see
# util.py). Every other change is marked "greenpool:"; README.md lists them.
# Copyright (c) 2001-2024 Python Software Foundation; All Rights Reserved.
# Licensed under the PSF License Agreement: LICENSE-PSF.txt in this directory.
# ruff: noqa: RUF059
import contextlib
import logging
import queue
import sys
import time
import unittest
from concurrent.futures._base import BrokenExecutor
from concurrent.futures.process import _check_system_limits
from logging.handlers import QueueHandler

from . import _support as support
from .util import ExecutorMixin, create_executor_tests

INITIALIZER_STATUS = "uninitialized"


def init(x):
    global INITIALIZER_STATUS
    INITIALIZER_STATUS = x


def get_init_status():
    return INITIALIZER_STATUS


def init_fail(log_queue=None):
    if log_queue is not None:
        logger = logging.getLogger("concurrent.futures")
        logger.addHandler(QueueHandler(log_queue))
        logger.setLevel("CRITICAL")
        logger.propagate = False
    time.sleep(0.1)  # let some futures be scheduled
    raise ValueError("error in initializer")


class InitializerMixin(ExecutorMixin):
    worker_count = 2

    def setUp(self):
        global INITIALIZER_STATUS
        INITIALIZER_STATUS = "uninitialized"
        self.executor_kwargs = dict(initializer=init, initargs=("initialized",))
        super().setUp()

    def test_initializer(self):
        futures = [self.executor.submit(get_init_status) for _ in range(self.worker_count)]

        for f in futures:
            self.assertEqual(f.result(), "initialized")


class FailingInitializerMixin(ExecutorMixin):
    worker_count = 2

    def setUp(self):
        if hasattr(self, "ctx"):
            # Pass a queue to redirect the child's logging output
            self.mp_context = self.get_context()
            self.log_queue = self.mp_context.Queue()
            self.executor_kwargs = dict(initializer=init_fail, initargs=(self.log_queue,))
        else:
            # In a thread pool, the child shares our logging setup
            # (see _assert_logged())
            self.mp_context = None
            self.log_queue = None
            self.executor_kwargs = dict(initializer=init_fail)
        super().setUp()

    def test_initializer(self):
        with self._assert_logged("ValueError: error in initializer"):
            self._break_the_pool()

    def test_initializer_breaks_pool(self):
        # greenpool: test_initializer without its check of the log, so that
        # what breaking the pool does is checked on its own. greenpool documents
        # that the error a broken pool raises has the initializer's
        # exception as its __cause__.
        error = self._break_the_pool()
        self.assertIsInstance(error.__cause__, ValueError)
        self.assertEqual(error.__cause__.args, ("error in initializer",))

    def _break_the_pool(self):
        try:
            future = self.executor.submit(get_init_status)
        except BrokenExecutor:
            # Perhaps the executor is already broken
            pass
        else:
            with self.assertRaises(BrokenExecutor):
                future.result()

        # At some point, the executor should break
        # greenpool: the stdlib test polls executor._broken (private) for
        # it; this polls with submissions until one is refused. Calls
        # accepted meanwhile must fail with BrokenExecutor too.
        for _ in support.sleeping_retry(support.SHORT_TIMEOUT, "executor not broken"):
            try:
                future = self.executor.submit(get_init_status)
            except BrokenExecutor:
                break
            with self.assertRaises(BrokenExecutor):
                future.result()

        # ... and from this point submit() is guaranteed to fail
        with self.assertRaises(BrokenExecutor) as cm:
            self.executor.submit(get_init_status)
        return cm.exception

    @contextlib.contextmanager
    def _assert_logged(self, msg):
        if self.log_queue is not None:
            yield
            output = []
            try:
                while True:
                    output.append(self.log_queue.get_nowait().getMessage())
            except queue.Empty:
                pass
        else:
            with self.assertLogs("concurrent.futures", "CRITICAL") as cm:
                yield
            output = cm.output
        self.assertTrue(any(msg in line for line in output), output)


create_executor_tests(globals(), InitializerMixin)
create_executor_tests(globals(), FailingInitializerMixin)


@unittest.skipIf(sys.platform == "win32", "Resource Tracker doesn't run on Windows")
class FailingInitializerResourcesTest(unittest.TestCase):
    """
    Source: https://github.com/python/cpython/issues/104090
    """

    # greenpool: the stdlib test runs the failing-initializer test in this
    # process, stops multiprocessing's resource tracker through its private
    # _stop() and reads its private _exitcode (3.13+), which is non-zero if
    # resources (semaphores, shared memory) were leaked. Here the test runs
    # in a fresh interpreter, whose resource tracker reports leaked
    # resources on stderr when that interpreter exits.

    def _test(self, test_class):
        try:
            _check_system_limits()
        except NotImplementedError:
            self.skipTest("ProcessPoolExecutor unavailable on this system")

        rc, out, err = support.assert_python_ok(
            "-c",
            f"""if True:
            import io, os, unittest
            # Every start method, so that the spawn test class exists.
            os.environ["GREENPOOL_CONFORMANCE_CONTEXTS"] = "fork,forkserver,spawn"
            from conformance.test_init import {test_class}
            if __name__ == "__main__":
                runner = unittest.TextTestRunner(stream=io.StringIO())
                result = runner.run({test_class}('test_initializer_breaks_pool'))
                assert result.wasSuccessful(), result.failures + result.errors
            """,
        )
        self.assertNotIn(b"leaked", err)
        self.assertNotIn(b"resource_tracker", err)

    def test_spawn(self):
        self._test("ProcessPoolSpawnFailingInitializerTest")

    def test_forkserver(self):
        self._test("ProcessPoolForkserverFailingInitializerTest")


if __name__ == "__main__":
    unittest.main()
