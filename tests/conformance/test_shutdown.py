# Vendored from CPython v3.13.0, Lib/test/test_concurrent_futures/test_shutdown.py,
# and adapted to run greenpool's executors in place of the stdlib's.
# Mechanical changes: formatted with ruff; ._support instead of test.support
# (whose requires_resource() and sanitizer checks are dropped: every resource
# is used, as when CPython's tests run outside regrtest); no setUpModule (see
# util.py). Every other change is marked "greenpool:"; README.md lists them.
# Copyright (c) 2001-2024 Python Software Foundation; All Rights Reserved.
# Licensed under the PSF License Agreement: LICENSE-PSF.txt in this directory.
# ruff: noqa: B007, RUF059
import signal
import sys
import threading
import time
import unittest

import greenpool

from . import _support as support
from ._support import assert_python_ok
from .util import (
    PROCESS_POOL_MIXINS,
    BaseTestCase,
    ThreadPoolMixin,
    create_executor_tests,
    live_workers,
    manager_thread,
    pool_threads,
)


def sleep_and_print(t, msg):
    time.sleep(t)
    print(msg)
    sys.stdout.flush()


def _signal_then_acquire(started, lock):
    # greenpool: a call that says it has started, then blocks.
    started.release()
    return lock.acquire()


class _GatedContext:
    """A multiprocessing context whose processes start once ``may_start`` is set.

    ``starting`` is set when the pool first asks for a process to start.
    Everything else is the wrapped context's.
    """

    def __init__(self, context):
        self._context = context
        self.starting = threading.Event()
        self.may_start = threading.Event()

    def __getattr__(self, name):
        return getattr(self._context, name)

    def Process(self, *args, **kwargs):
        return _GatedProcess(self, self._context.Process(*args, **kwargs))


class _GatedProcess:
    def __init__(self, gate, process):
        self._gate = gate
        self._process = process

    def __getattr__(self, name):
        return getattr(self._process, name)

    def start(self):
        self._gate.starting.set()
        self._gate.may_start.wait(support.SHORT_TIMEOUT)
        self._process.start()


class ExecutorShutdownTest:
    def test_run_after_shutdown(self):
        self.executor.shutdown()
        self.assertRaises(RuntimeError, self.executor.submit, pow, 2, 5)

    def test_interpreter_shutdown(self):
        # Test the atexit hook for shutdown of worker threads and processes
        # greenpool: the script imports greenpool's executor, and the helper
        # from this package instead of test.test_concurrent_futures.
        rc, out, err = assert_python_ok(
            "-c",
            """if 1:
            from greenpool import {executor_type}
            from time import sleep
            from conformance.test_shutdown import sleep_and_print
            if __name__ == "__main__":
                context = '{context}'
                if context == "":
                    t = {executor_type}(5)
                else:
                    from multiprocessing import get_context
                    context = get_context(context)
                    t = {executor_type}(5, mp_context=context)
                t.submit(sleep_and_print, 1.0, "apple")
            """.format(executor_type=self.executor_type.__name__, context=getattr(self, "ctx", "")),
        )
        # Errors in atexit hooks don't change the process exit code, check
        # stderr manually.
        self.assertFalse(err)
        self.assertEqual(out.strip(), b"apple")

    def test_submit_after_interpreter_shutdown(self):
        # Test the atexit hook for shutdown of worker threads and processes
        rc, out, err = assert_python_ok(
            "-c",
            """if 1:
            import atexit
            @atexit.register
            def run_last():
                try:
                    t.submit(id, None)
                except RuntimeError:
                    print("runtime-error")
                    raise
            from greenpool import {executor_type}
            if __name__ == "__main__":
                context = '{context}'
                if not context:
                    t = {executor_type}(5)
                else:
                    from multiprocessing import get_context
                    context = get_context(context)
                    t = {executor_type}(5, mp_context=context)
                    t.submit(id, 42).result()
            """.format(executor_type=self.executor_type.__name__, context=getattr(self, "ctx", "")),
        )
        # Errors in atexit hooks don't change the process exit code, check
        # stderr manually.
        self.assertIn("RuntimeError: cannot schedule new futures", err.decode())
        self.assertEqual(out.strip(), b"runtime-error")

    def test_hang_issue12364(self):
        fs = [self.executor.submit(time.sleep, 0.1) for _ in range(50)]
        self.executor.shutdown()
        for f in fs:
            f.result()

    def test_cancel_futures(self):
        assert self.worker_count <= 5, "test needs few workers"
        fs = [self.executor.submit(time.sleep, 0.1) for _ in range(50)]
        if self.executor_type is greenpool.ProcessPoolExecutor:
            # greenpool: its process pool starts a worker process when it
            # has a call for it, and a call starts running (documented) when
            # it is handed to a worker; right after these submissions the
            # first worker is usually still starting, so every call is still
            # pending and is rightly cancelled, and "at least one finished"
            # below would fail. (The stdlib's manager thread marks calls
            # running as it moves them to its call queue, before any worker
            # takes them.) So shutdown waits for the first call to run.
            for _ in support.sleeping_retry(support.SHORT_TIMEOUT, "no call started"):
                if fs[0].running() or fs[0].done():
                    break
        self.executor.shutdown(cancel_futures=True)
        # We can't guarantee the exact number of cancellations, but we can
        # guarantee that *some* were cancelled. With few workers, many of
        # the submitted futures should have been cancelled.
        cancelled = [fut for fut in fs if fut.cancelled()]
        self.assertGreater(len(cancelled), 20)

        # Ensure the other futures were able to finish.
        # Use "not fut.cancelled()" instead of "fut.done()" to include futures
        # that may have been left in a pending state.
        others = [fut for fut in fs if not fut.cancelled()]
        for fut in others:
            self.assertTrue(fut.done(), msg=f"{fut._state=}")
            self.assertIsNone(fut.exception())

        # Similar to the number of cancelled futures, we can't guarantee the
        # exact number that completed. But, we can guarantee that at least
        # one finished.
        self.assertGreater(len(others), 0)

    def test_hang_gh83386(self):
        """shutdown(wait=False) doesn't hang at exit with running futures.

        See https://github.com/python/cpython/issues/83386.
        """
        # greenpool: CPython skips this test for its ProcessPoolExecutor,
        # which hangs (gh-83386); greenpool's process pool documents that a
        # pool still running at exit finishes its calls, so it runs here for
        # both. The start method is passed as mp_context: greenpool's default
        # is forkserver whatever multiprocessing.set_start_method() says
        # (documented), and the stdlib script's set_start_method() call
        # lacked its `import multiprocessing` since it never ran.
        rc, out, err = assert_python_ok(
            "-c",
            """if True:
            import multiprocessing
            from greenpool import {executor_type}
            from conformance.test_shutdown import sleep_and_print
            if __name__ == "__main__":
                kwargs = {{}}
                if {context!r}: kwargs["mp_context"] = multiprocessing.get_context({context!r})
                t = {executor_type}(max_workers=3, **kwargs)
                t.submit(sleep_and_print, 1.0, "apple")
                t.shutdown(wait=False)
            """.format(
                executor_type=self.executor_type.__name__, context=getattr(self, "ctx", None)
            ),
        )
        self.assertFalse(err)
        self.assertEqual(out.strip(), b"apple")

    def test_hang_gh94440(self):
        """shutdown(wait=True) doesn't hang when a future was submitted and
        quickly canceled right before shutdown.

        See https://github.com/python/cpython/issues/94440.
        """
        if not hasattr(signal, "alarm"):
            raise unittest.SkipTest("Tested platform does not support the alarm signal")

        def timeout(_signum, _frame):
            raise RuntimeError("timed out waiting for shutdown")

        kwargs = {}
        if getattr(self, "ctx", None):
            kwargs["mp_context"] = self.get_context()
        executor = self.executor_type(max_workers=1, **kwargs)
        executor.submit(int).result()
        old_handler = signal.signal(signal.SIGALRM, timeout)
        try:
            signal.alarm(5)
            executor.submit(int).cancel()
            executor.shutdown(wait=True)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old_handler)


class ThreadPoolShutdownTest(ThreadPoolMixin, ExecutorShutdownTest, BaseTestCase):
    # greenpool: the stdlib tests join the threads in executor._threads (a
    # private attribute); pool_threads() finds the same threads by their
    # documented names, and support.wait_threads_exit() joins them with a
    # deadline instead of possibly hanging.

    def test_threads_terminate(self):
        def acquire_lock(lock):
            lock.acquire()

        sem = threading.Semaphore(0)
        for i in range(3):
            self.executor.submit(acquire_lock, sem)
        self.assertEqual(self.executor.num_workers, 3)
        threads = pool_threads(self.executor)
        self.assertEqual(len(threads), 3)
        for i in range(3):
            sem.release()
        self.executor.shutdown()
        support.wait_threads_exit(threads)

    def test_context_manager_shutdown(self):
        with self.executor_type(max_workers=5) as e:
            executor = e
            self.assertEqual(list(e.map(abs, range(-5, 5))), [5, 4, 3, 2, 1, 0, 1, 2, 3, 4])
            threads = pool_threads(e)
            self.assertTrue(threads)

        support.wait_threads_exit(threads)
        self.assertEqual(executor.num_workers, 0)

    def test_del_shutdown(self):
        executor = self.executor_type(max_workers=5)
        res = executor.map(abs, range(-5, 5))
        threads = pool_threads(executor)
        self.assertTrue(threads)
        del executor

        # greenpool: the stdlib joins the threads here, before reading the
        # results: its map iterator holds only futures. greenpool's map is
        # lazy and bounded (documented), so its iterator may still have to
        # submit calls and holds the executor until it is exhausted or
        # closed: the executor is only unreachable, and its threads stop,
        # once the results have been read and the iterator dropped.
        results = list(res)
        del res
        support.gc_collect()  # For PyPy or other GCs.
        support.wait_threads_exit(threads)

        # Make sure the results were all computed before the
        # executor got shutdown.
        assert all([r == abs(v) for r, v in zip(results, range(-5, 5), strict=True)])

    def test_shutdown_no_wait(self):
        # Ensure that the executor cleans up the threads when calling
        # shutdown with wait=False
        executor = self.executor_type(max_workers=5)
        res = executor.map(abs, range(-5, 5))
        threads = pool_threads(executor)
        self.assertTrue(threads)
        executor.shutdown(wait=False)
        support.wait_threads_exit(threads)

        # Make sure the results were all computed before the
        # executor got shutdown.
        assert all([r == abs(v) for r, v in zip(res, range(-5, 5), strict=True)])

    def test_thread_names_assigned(self):
        executor = self.executor_type(max_workers=5, thread_name_prefix="SpecialPool")
        executor.map(abs, range(-5, 5))
        threads = pool_threads(executor, "SpecialPool")
        self.assertTrue(threads)
        del executor
        support.gc_collect()  # For PyPy or other GCs.

        for t in threads:
            self.assertRegex(t.name, r"^SpecialPool_[0-4]$")
        support.wait_threads_exit(threads)

    def test_thread_names_default(self):
        executor = self.executor_type(max_workers=5)
        executor.map(abs, range(-5, 5))
        threads = pool_threads(executor)
        self.assertTrue(threads)
        del executor
        support.gc_collect()  # For PyPy or other GCs.

        for t in threads:
            # Ensure that our default name is reasonably sane and unique when
            # no thread_name_prefix was supplied.
            self.assertRegex(t.name, r"ThreadPoolExecutor-\d+_[0-4]$")
        support.wait_threads_exit(threads)

    def test_cancel_futures_wait_false(self):
        # Can only be reliably tested for TPE, since PPE often hangs with
        # `wait=False` (even without *cancel_futures*).
        rc, out, err = assert_python_ok(
            "-c",
            """if True:
            from greenpool import ThreadPoolExecutor
            from conformance.test_shutdown import sleep_and_print
            if __name__ == "__main__":
                t = ThreadPoolExecutor()
                t.submit(sleep_and_print, .1, "apple")
                t.shutdown(wait=False, cancel_futures=True)
            """,
        )
        # Errors in atexit hooks don't change the process exit code, check
        # stderr manually.
        self.assertFalse(err)
        # gh-116682: stdout may be empty if shutdown happens before task
        # starts executing.
        self.assertIn(out.strip(), [b"apple", b""])


class ProcessPoolShutdownTest(ExecutorShutdownTest):
    # greenpool: the stdlib tests read executor._processes,
    # executor._call_queue and executor._executor_manager_thread (private).
    # Here: num_workers (public), the worker processes and the manager thread
    # found by their documented names, and deadlines instead of possibly
    # endless joins. greenpool has no call queue; its manager thread
    # exits only once every worker has exited.

    def test_processes_terminate(self):
        # greenpool: the stdlib test submits three calls of a local function
        # with a multiprocessing semaphore, which fail to pickle, and checks
        # that three processes were started inside submit(). greenpool
        # starts workers on demand whatever the start method (the stdlib
        # pre-spawns every worker with fork), from its manager thread, as it
        # hands out calls; calls that fail at once need only one worker. So
        # here the calls really block, on a manager's semaphore, each is
        # submitted once the previous one has started, and each must have a
        # worker of its own. (test_processes_terminate_burst submits them at
        # once, as the stdlib does.)
        mp_context = self.get_context()
        expected_num_processes = 3

        with mp_context.Manager() as manager:
            started = manager.Semaphore(0)
            sem = manager.Semaphore(0)
            fs = []
            for _ in range(3):
                fs.append(self.executor.submit(_signal_then_acquire, started, sem))
                self.assertTrue(started.acquire(timeout=support.SHORT_TIMEOUT))
            self.assertEqual(self.executor.num_workers, expected_num_processes)
            self.assertEqual(len(live_workers(self.executor.name)), expected_num_processes)
            for _ in range(3):
                sem.release()
            self.executor.shutdown()
            for f in fs:
                self.assertTrue(f.result())

        # greenpool: shutdown(wait=True) has joined the workers.
        self.assertEqual(self.executor.num_workers, 0)
        self.assertEqual(live_workers(self.executor.name), [])

    def test_processes_terminate_burst(self):
        # greenpool: test_processes_terminate with its three calls submitted
        # at once, as the stdlib test does: with up to five workers, each
        # call must start at once on a worker of its own (the stdlib's
        # workers share one call queue, so a call never waits behind another
        # while a worker could take it). The pool's context starts worker
        # processes only once the test has submitted all three calls, so
        # that the last two always arrive while the pool is starting its
        # first worker, as they often do by chance.
        mp_context = _GatedContext(self.get_context())
        executor = self.executor_type(max_workers=self.worker_count, mp_context=mp_context)
        with mp_context.Manager() as manager:
            started = manager.Semaphore(0)
            sem = manager.Semaphore(0)
            try:
                fs = [executor.submit(_signal_then_acquire, started, sem)]
                self.assertTrue(mp_context.starting.wait(support.SHORT_TIMEOUT))
                fs += [executor.submit(_signal_then_acquire, started, sem) for _ in range(2)]
                mp_context.may_start.set()
                for i in range(3):
                    self.assertTrue(started.acquire(timeout=2), f"only {i} of the 3 calls started")
                self.assertEqual(executor.num_workers, 3)
            finally:
                mp_context.may_start.set()
                for _ in range(3):
                    sem.release()
                executor.shutdown()
            for f in fs:
                self.assertTrue(f.result())
        self.assertEqual(live_workers(executor.name), [])

    def test_context_manager_shutdown(self):
        with self.executor_type(max_workers=5, mp_context=self.get_context()) as e:
            self.assertEqual(list(e.map(abs, range(-5, 5))), [5, 4, 3, 2, 1, 0, 1, 2, 3, 4])
            self.assertTrue(live_workers(e.name))

        self.assertEqual(e.num_workers, 0)
        self.assertEqual(live_workers(e.name), [])

    def test_del_shutdown(self):
        executor = self.executor_type(max_workers=5, mp_context=self.get_context())
        res = executor.map(abs, range(-5, 5))
        executor_manager_thread = manager_thread(executor)
        name = executor.name
        del executor
        support.gc_collect()  # For PyPy or other GCs.

        # greenpool: as in ThreadPoolShutdownTest.test_del_shutdown, the lazy
        # map iterator holds the executor until it is exhausted, so the
        # results are read before the manager thread is joined.
        results = list(res)
        del res
        support.gc_collect()  # For PyPy or other GCs.

        # Make sure that all the executor resources were properly cleaned by
        # the shutdown process
        support.wait_threads_exit([executor_manager_thread])
        self.assertEqual(live_workers(name), [])

        # Make sure the results were all computed before the
        # executor got shutdown.
        assert all([r == abs(v) for r, v in zip(results, range(-5, 5), strict=True)])

    def test_shutdown_no_wait(self):
        # Ensure that the executor cleans up the processes when calling
        # shutdown with wait=False
        executor = self.executor_type(max_workers=5, mp_context=self.get_context())
        res = executor.map(abs, range(-5, 5))
        executor_manager_thread = manager_thread(executor)
        executor.shutdown(wait=False)

        # Make sure that all the executor resources were properly cleaned by
        # the shutdown process
        support.wait_threads_exit([executor_manager_thread])
        self.assertEqual(executor.num_workers, 0)
        self.assertEqual(live_workers(executor.name), [])

        # Make sure the results were all computed before the executor got
        # shutdown.
        assert all([r == abs(v) for r, v in zip(res, range(-5, 5), strict=True)])


# greenpool: the start methods that run: see util.py.
create_executor_tests(globals(), ProcessPoolShutdownTest, executor_mixins=PROCESS_POOL_MIXINS)


if __name__ == "__main__":
    unittest.main()
