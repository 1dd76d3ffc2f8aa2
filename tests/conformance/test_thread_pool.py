# Vendored from CPython v3.13.0, Lib/test/test_concurrent_futures/test_thread_pool.py,
# and adapted to run greenpool's executors in place of the stdlib's.
# Mechanical changes: formatted with ruff; ._support instead of test.support
# (whose requires_resource() and sanitizer checks are dropped: every resource
# is used, as when CPython's tests run outside regrtest); no setUpModule (see
# util.py). Every other change is marked "greenpool:"; README.md lists them.
# Copyright (c) 2001-2024 Python Software Foundation; All Rights Reserved.
# Licensed under the PSF License Agreement: LICENSE-PSF.txt in this directory.
# ruff: noqa: B007, SIM117
import contextlib
import multiprocessing as mp
import multiprocessing.process
import multiprocessing.util
import os
import threading
import unittest
from concurrent import futures

import greenpool

from . import _support as support
from .executor import ExecutorTest, mul
from .util import BaseTestCase, ThreadPoolMixin


class ThreadPoolExecutorTest(ThreadPoolMixin, ExecutorTest, BaseTestCase):
    def test_map_submits_without_iteration(self):
        """Tests verifying issue 11777."""
        finished = []

        def record_finished(n):
            finished.append(n)

        self.executor.map(record_finished, range(10))
        self.executor.shutdown(wait=True)
        self.assertCountEqual(finished, range(10))

    def test_map_submits_window_without_iteration(self):
        # greenpool: test_map_submits_without_iteration passes above because
        # its 10 items fit in greenpool's map window. greenpool's map is lazy
        # and bounded (documented): it submits at most 2 * max_workers calls
        # before its results are iterated, never the whole input as the
        # stdlib does.
        finished = []

        def record_finished(n):
            finished.append(n)

        window = 2 * self.executor.max_workers
        self.executor.map(record_finished, range(window + 15))
        self.executor.shutdown(wait=True)
        self.assertCountEqual(finished, range(window))

    def test_default_workers(self):
        executor = self.executor_type()
        # greenpool: os.process_cpu_count() exists from 3.13 on; before, the
        # stdlib counts os.cpu_count(). `max_workers` is greenpool's public
        # name for the stdlib's _max_workers.
        cpu_count = getattr(os, "process_cpu_count", os.cpu_count)
        expected = min(32, (cpu_count() or 1) + 4)
        self.assertEqual(executor.max_workers, expected)

    @unittest.skipUnless(hasattr(os, "sched_setaffinity"), "needs os.sched_setaffinity")
    @unittest.skipIf((os.cpu_count() or 1) < 2, "needs two CPUs to restrict to one")
    def test_default_workers_restricted_affinity(self):
        # greenpool: test_default_workers in a process allowed to run on one
        # CPU only, where os.process_cpu_count() (3.13+) and os.cpu_count()
        # differ; the default must be the stdlib's on this Python.
        code = (
            "import os, concurrent.futures, greenpool\n"
            "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
            "print(concurrent.futures.ThreadPoolExecutor()._max_workers,"
            " greenpool.ThreadPoolExecutor().max_workers)\n"
        )
        _, out, _ = support.assert_python_ok("-c", code)
        stdlib_default, greenpool_default = out.split()
        self.assertEqual(greenpool_default, stdlib_default)

    def test_saturation(self):
        executor = self.executor_type(4)

        def acquire_lock(lock):
            lock.acquire()

        sem = threading.Semaphore(0)
        # greenpool: `max_workers` and `num_workers` are greenpool's public
        # names for the stdlib's _max_workers and len(_threads).
        for i in range(15 * executor.max_workers):
            executor.submit(acquire_lock, sem)
        self.assertEqual(executor.num_workers, executor.max_workers)
        for i in range(15 * executor.max_workers):
            sem.release()
        executor.shutdown(wait=True)

    @support.requires_gil_enabled("gh-117344: test is flaky without the GIL")
    def test_idle_thread_reuse(self):
        executor = self.executor_type()
        executor.submit(mul, 21, 2).result()
        executor.submit(mul, 6, 7).result()
        executor.submit(mul, 3, 14).result()
        # greenpool: num_workers for len(executor._threads).
        self.assertEqual(executor.num_workers, 1)
        executor.shutdown(wait=True)

    @support.requires_fork()
    @unittest.skipUnless(hasattr(os, "register_at_fork"), "need os.register_at_fork")
    def test_hang_global_shutdown_lock(self):
        # bpo-45021: _global_shutdown_lock should be reinitialized in the child
        # process, otherwise it will never exit
        def submit(pool):
            pool.submit(submit, pool)

        with greenpool.ThreadPoolExecutor(1) as pool:
            pool.submit(submit, pool)

            for _ in range(50):
                with greenpool.ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as workers:
                    workers.submit(tuple)

    def test_executor_map_current_future_cancel(self):
        stop_event = threading.Event()
        log = []

        def log_n_wait(ident):
            log.append(f"{ident=} started")
            try:
                stop_event.wait()
            finally:
                log.append(f"{ident=} stopped")

        with self.executor_type(max_workers=1) as pool:
            # submit work to saturate the pool
            fut = pool.submit(log_n_wait, ident="first")
            try:
                with contextlib.closing(
                    pool.map(log_n_wait, ["second", "third"], timeout=0)
                ) as gen:
                    # greenpool: futures.TimeoutError is the builtin
                    # TimeoutError from 3.11 on, a class of its own on 3.10.
                    with self.assertRaises(futures.TimeoutError):
                        next(gen)
            finally:
                stop_event.set()
            fut.result()
        # ident='second' is cancelled as a result of raising a TimeoutError
        # ident='third' is cancelled because it remained in the collection of futures
        self.assertListEqual(log, ["ident='first' started", "ident='first' stopped"])


if __name__ == "__main__":
    unittest.main()
