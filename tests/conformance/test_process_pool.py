# Vendored from CPython v3.13.0, Lib/test/test_concurrent_futures/test_process_pool.py,
# and adapted to run greenpool's executors in place of the stdlib's.
# Mechanical changes: formatted with ruff; ._support instead of test.support
# (whose requires_resource() and sanitizer checks are dropped: every resource
# is used, as when CPython's tests run outside regrtest); no setUpModule (see
# util.py). Every other change is marked "greenpool:"; README.md lists them.
# Copyright (c) 2001-2024 Python Software Foundation; All Rights Reserved.
# Licensed under the PSF License Agreement: LICENSE-PSF.txt in this directory.
# ruff: noqa: RUF059
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
from concurrent import futures
from concurrent.futures.process import BrokenProcessPool

import greenpool

from . import _support as support
from ._support import requires_hashdigest
from .executor import ExecutorTest, mul
from .util import PROCESS_POOL_MIXINS, create_executor_tests, live_workers, wait_for_num_workers


class EventfulGCObj:
    def __init__(self, mgr):
        self.event = mgr.Event()

    def __del__(self):
        self.event.set()


def _sleep_after_writing_pid(path, t):
    # greenpool: tells the test which worker process runs the call.
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(t)


class ProcessPoolExecutorTest(ExecutorTest):
    # greenpool: test_max_workers_too_large is left out: it checks a limit
    # of the stdlib's pool on Windows, where greenpool's process pool (POSIX
    # only) does not run.

    def test_killed_child(self):
        # When a child process is abruptly terminated, the whole pool gets
        # "broken".
        # greenpool: documented difference: only the call the killed worker
        # was running fails, with WorkerLostError (a BrokenProcessPool); the
        # worker is replaced and the pool keeps taking calls. The stdlib test
        # terminates any process of executor._processes (private); this one
        # terminates the worker running the call, which tells its pid.
        tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmpdir)
        pid_file = os.path.join(tmpdir, "pid")
        futures = [self.executor.submit(_sleep_after_writing_pid, pid_file, 3)]
        for _ in support.sleeping_retry(support.SHORT_TIMEOUT, "call not started"):
            if os.path.exists(pid_file):
                break
        with open(pid_file) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGTERM)
        for fut in futures:
            self.assertRaises(BrokenProcessPool, fut.result)
            exc = fut.exception()
            self.assertIsInstance(exc, greenpool.WorkerLostError)
            self.assertEqual(exc.pid, pid)
            self.assertEqual(exc.exitcode, -signal.SIGTERM)
        # Submitting other jobs works: the pool replaced the worker.
        self.assertEqual(self.executor.submit(pow, 2, 8).result(), 256)

    def test_map_chunksize(self):
        def bad_map():
            list(self.executor.map(pow, range(40), range(40), chunksize=-1))

        ref = list(map(pow, range(40), range(40)))
        self.assertEqual(list(self.executor.map(pow, range(40), range(40), chunksize=6)), ref)
        self.assertEqual(list(self.executor.map(pow, range(40), range(40), chunksize=50)), ref)
        self.assertEqual(list(self.executor.map(pow, range(40), range(40), chunksize=40)), ref)
        self.assertRaises(ValueError, bad_map)

    @classmethod
    def _test_traceback(cls):
        raise RuntimeError(123)  # some comment

    def test_traceback(self):
        # We want ensure that the traceback from the child process is
        # contained in the traceback raised in the main process.
        future = self.executor.submit(self._test_traceback)
        with self.assertRaises(Exception) as cm:
            future.result()

        exc = cm.exception
        self.assertIs(type(exc), RuntimeError)
        self.assertEqual(exc.args, (123,))
        cause = exc.__cause__
        self.assertIs(type(cause), futures.process._RemoteTraceback)
        # greenpool: two spaces before "#", as ruff formats _test_traceback.
        self.assertIn("raise RuntimeError(123)  # some comment", cause.tb)

        with support.captured_stderr() as f1:
            try:
                raise exc
            except RuntimeError:
                sys.excepthook(*sys.exc_info())
        self.assertIn("raise RuntimeError(123)  # some comment", f1.getvalue())

    @requires_hashdigest("md5")
    def test_ressources_gced_in_workers(self):
        # Ensure that argument for a job are correctly gc-ed after the job
        # is finished
        mgr = self.get_context().Manager()
        obj = EventfulGCObj(mgr)
        future = self.executor.submit(id, obj)
        future.result()

        self.assertTrue(obj.event.wait(timeout=1))

        # explicitly destroy the object to ensure that EventfulGCObj.__del__()
        # is called while manager is still running.
        support.gc_collect()
        obj = None
        support.gc_collect()

        mgr.shutdown()
        mgr.join()

    def test_saturation(self):
        executor = self.executor
        mp_context = self.get_context()
        # greenpool: the stdlib test's calls, sem.acquire of a
        # multiprocessing semaphore, all fail to pickle (a semaphore can
        # only be inherited by a process); it passes because the stdlib
        # starts a process in each submit(). greenpool starts workers as its
        # manager thread hands out calls, and calls that fail at once never
        # need a second worker, so here the semaphore is a manager's, which
        # pickles, and the calls really block, saturating the pool.
        # max_workers and num_workers are greenpool's public names for
        # _max_workers and len(_processes); the workers start shortly after
        # submit() returns, so their count is waited for.
        with mp_context.Manager() as manager:
            sem = manager.Semaphore(0)
            job_count = 15 * executor.max_workers
            fs = [executor.submit(sem.acquire) for _ in range(job_count)]
            wait_for_num_workers(executor, executor.max_workers)
            self.assertEqual(len(live_workers(executor.name)), executor.max_workers)
            for _ in range(job_count):
                sem.release()
            for f in fs:
                self.assertTrue(f.result())

    @support.requires_gil_enabled("gh-117344: test is flaky without the GIL")
    def test_idle_process_reuse_one(self):
        executor = self.executor
        assert executor.max_workers >= 4
        # greenpool: the stdlib skips this test with fork, where it starts
        # every worker up front; greenpool starts workers on demand with
        # every start method, so it runs for all of them.
        executor.submit(mul, 21, 2).result()
        executor.submit(mul, 6, 7).result()
        executor.submit(mul, 3, 14).result()
        self.assertEqual(executor.num_workers, 1)

    def test_idle_process_reuse_multiple(self):
        executor = self.executor
        assert executor.max_workers <= 5
        # greenpool: runs with fork too, as test_idle_process_reuse_one.
        executor.submit(mul, 12, 7).result()
        executor.submit(mul, 33, 25)
        executor.submit(mul, 25, 26).result()
        executor.submit(mul, 18, 29)
        executor.submit(mul, 1, 2).result()
        executor.submit(mul, 0, 9)
        self.assertLessEqual(executor.num_workers, 3)
        executor.shutdown()

    def test_max_tasks_per_child(self):
        context = self.get_context()
        if context.get_start_method(allow_none=False) == "fork":
            with self.assertRaises(ValueError):
                self.executor_type(1, mp_context=context, max_tasks_per_child=3)
            return
        # not using self.executor as we need to control construction.
        # arguably this could go in another class w/o that mixin.
        executor = self.executor_type(1, mp_context=context, max_tasks_per_child=3)
        f1 = executor.submit(os.getpid)
        original_pid = f1.result()
        # The worker pid remains the same as the worker could be reused
        f2 = executor.submit(os.getpid)
        self.assertEqual(f2.result(), original_pid)
        self.assertEqual(executor.num_workers, 1)
        f3 = executor.submit(os.getpid)
        self.assertEqual(f3.result(), original_pid)

        # A new worker is spawned, with a statistically different pid,
        # while the previous was reaped.
        f4 = executor.submit(os.getpid)
        new_pid = f4.result()
        self.assertNotEqual(original_pid, new_pid)
        # greenpool: the manager thread forgets the old worker when it sees
        # it exit, which may come just after f4's result: waited for.
        wait_for_num_workers(executor, 1)

        executor.shutdown()

    def test_max_tasks_per_child_defaults_to_spawn_context(self):
        # not using self.executor as we need to control construction.
        # arguably this could go in another class w/o that mixin.
        executor = self.executor_type(1, max_tasks_per_child=3)
        # greenpool: documented difference: greenpool's default start method
        # is forkserver (spawn where there is none) for every pool, whereas
        # the stdlib defaults to spawn when max_tasks_per_child is given. What
        # both promise is a start method that max_tasks_per_child works with.
        expected = (
            "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        )
        self.assertEqual(executor.mp_context.get_start_method(), expected)
        executor.shutdown()

    def test_max_tasks_early_shutdown(self):
        context = self.get_context()
        if context.get_start_method(allow_none=False) == "fork":
            # greenpool: the stdlib skips the test here; greenpool, like the
            # stdlib, refuses max_tasks_per_child with fork, which is checked
            # instead.
            with self.assertRaises(ValueError):
                self.executor_type(3, mp_context=context, max_tasks_per_child=1)
            return
        # not using self.executor as we need to control construction.
        # arguably this could go in another class w/o that mixin.
        executor = self.executor_type(3, mp_context=context, max_tasks_per_child=1)
        futures = []
        for i in range(6):
            futures.append(executor.submit(mul, i, i))
        executor.shutdown()
        for i, future in enumerate(futures):
            self.assertEqual(future.result(), mul(i, i))

    def test_python_finalization_error(self):
        # gh-109047: Catch RuntimeError on thread creation
        # during Python finalization.
        # greenpool: the stdlib test lets the first thread of the pool start
        # (its manager) and makes the second (its queue feeder) fail.
        # greenpool starts one thread per pool, its manager, so here that
        # one fails; what is checked is the same: map() raises
        # BrokenProcessPool and shutdown() returns. It runs in a subprocess
        # (threading._start_joinable_thread on 3.13, _start_new_thread
        # before) because a pool that mishandles this never shuts down; an
        # alarm reports a hung shutdown instead of hanging the test.
        rc, out, err = support.assert_python_ok(
            "-c",
            f"""if True:
            import multiprocessing, os, signal, sys, threading
            from concurrent.futures.process import BrokenProcessPool
            from greenpool import ProcessPoolExecutor
            from conformance.executor import mul

            def hung(signum, frame):
                print("hung", flush=True)
                os._exit(0)  # Past a hung shutdown; skips the atexit hooks.

            if __name__ == "__main__":
                context = multiprocessing.get_context({self.ctx!r})
                name = ("_start_joinable_thread"
                        if hasattr(threading, "_start_joinable_thread")
                        else "_start_new_thread")
                orig_start_new_thread = getattr(threading, name)
                def mock_start_new_thread(func, *args, **kwargs):
                    raise RuntimeError("can't create new thread at "
                                       "interpreter shutdown")
                setattr(threading, name, mock_start_new_thread)
                signal.signal(signal.SIGALRM, hung)
                signal.alarm(2)
                try:
                    executor = ProcessPoolExecutor(max_workers=2, mp_context=context)
                    with executor:
                        try:
                            list(executor.map(mul, [(2, 3)] * 10))
                        except BrokenProcessPool:
                            print("BrokenProcessPool", flush=True)
                        except BaseException as exc:
                            print(type(exc).__name__, flush=True)
                        else:
                            print("no-error", flush=True)
                    executor.shutdown()
                finally:
                    setattr(threading, name, orig_start_new_thread)
                signal.alarm(0)
                print("shutdown-returned", flush=True)
            """,
        )
        self.assertEqual(out.decode().split(), ["BrokenProcessPool", "shutdown-returned"])


# greenpool: the start methods that run: see util.py.
create_executor_tests(globals(), ProcessPoolExecutorTest, executor_mixins=PROCESS_POOL_MIXINS)


if __name__ == "__main__":
    unittest.main()
