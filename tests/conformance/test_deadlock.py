# Vendored from CPython v3.13.0, Lib/test/test_concurrent_futures/test_deadlock.py,
# and adapted to run greenpool's executors in place of the stdlib's.
# Mechanical changes: formatted with ruff; ._support instead of test.support
# (whose requires_resource() and sanitizer checks are dropped: every resource
# is used, as when CPython's tests run outside regrtest); no setUpModule (see
# util.py). Every other change is marked "greenpool:"; README.md lists them.
# Copyright (c) 2001-2024 Python Software Foundation; All Rights Reserved.
# Licensed under the PSF License Agreement: LICENSE-PSF.txt in this directory.
# ruff: noqa: SIM117
import contextlib
import signal
import sys
import time
import unittest
import unittest.mock
from concurrent import futures
from pickle import PicklingError, UnpicklingError

import greenpool
import greenpool.process
from greenpool import WorkerLostError

from . import _support as support
from .util import PROCESS_POOL_MIXINS, create_executor_tests, live_workers, manager_thread


def _crash(delay=None):
    """Induces a segfault."""
    if delay:
        time.sleep(delay)
    import faulthandler

    faulthandler.disable()
    faulthandler._sigsegv()


def _crash_with_data(data):
    """Induces a segfault with dummy data in input."""
    _crash()


def _exit():
    """Induces a sys exit with exitcode 1."""
    sys.exit(1)


def _raise_error(Err):
    """Function that raises an Exception in process."""
    raise Err()


def _raise_error_ignore_stderr(Err):
    """Function that raises an Exception in process and ignores stderr."""
    import io

    sys.stderr = io.StringIO()
    raise Err()


def _return_instance(cls):
    """Function that returns a instance of cls."""
    return cls()


class CrashAtPickle:
    """Bad object that triggers a segfault at pickling time."""

    def __reduce__(self):
        _crash()


class CrashAtUnpickle:
    """Bad object that triggers a segfault at unpickling time."""

    def __reduce__(self):
        return _crash, ()


class ExitAtPickle:
    """Bad object that triggers a process exit at pickling time."""

    def __reduce__(self):
        _exit()


class ExitAtUnpickle:
    """Bad object that triggers a process exit at unpickling time."""

    def __reduce__(self):
        return _exit, ()


class ErrorAtPickle:
    """Bad object that triggers an error at pickling time."""

    def __reduce__(self):
        from pickle import PicklingError

        raise PicklingError("Error in pickle")


class ErrorAtUnpickle:
    """Bad object that triggers an error at unpickling time."""

    def __reduce__(self):
        from pickle import UnpicklingError

        return _raise_error_ignore_stderr, (UnpicklingError,)


class ExecutorDeadlockTest:
    # greenpool: support.LONG_TIMEOUT is 30 s here (CPython: 300 s), within
    # the pytest-timeout of these tests.
    TIMEOUT = support.LONG_TIMEOUT

    # greenpool: the stdlib's pool is broken (every pending and later call
    # raises BrokenProcessPool) by a worker that dies, and by a call whose
    # arguments or result cannot be unpickled. greenpool's fails only that
    # call: with WorkerLostError (a BrokenProcessPool) if its worker died,
    # which it documents, and otherwise with the exception raised while
    # unpickling, as it documents for calls that cannot be pickled (the
    # unpickling cases are deliberate in its code; see the README). It
    # replaces a dead worker and keeps running calls. So the expected errors
    # below name WorkerLostError, UnpicklingError and SystemExit where the
    # stdlib test names BrokenProcessPool, and _check_crash checks that the
    # pool still runs a call afterwards.

    def _fail_on_deadlock(self, executor):
        # If we did not recover before TIMEOUT seconds, consider that the
        # executor is in a deadlock state and forcefully clean all its
        # composants.
        import faulthandler
        from tempfile import TemporaryFile

        with TemporaryFile(mode="w+") as f:
            faulthandler.dump_traceback(file=f)
            f.seek(0)
            tb = f.read()
        # greenpool: the pool's workers found by their documented names
        # (stdlib: executor._processes, private).
        for p in live_workers(executor.name):
            p.terminate()
        # greenpool: without waiting: a deadlock in greenpool's manager
        # thread would not be broken by killing the workers.
        executor.shutdown(wait=False)
        print(f"\nTraceback:\n {tb}", file=sys.__stderr__)
        self.fail(f"Executor deadlock:\n\n{tb}")

    def _check_crash(self, error, func, *args, ignore_stderr=False):
        # test for deadlock caused by crashes in a pool
        self.executor.shutdown(wait=True)

        executor = self.executor_type(max_workers=2, mp_context=self.get_context())
        res = executor.submit(func, *args)

        if ignore_stderr:
            cm = support.captured_stderr()
        else:
            cm = contextlib.nullcontext()

        try:
            with self.assertRaises(error), cm:
                res.result(timeout=self.TIMEOUT)
        except futures.TimeoutError:
            # If we did not recover before TIMEOUT seconds,
            # consider that the executor is in a deadlock state
            self._fail_on_deadlock(executor)
        # greenpool: the pool is not broken: it runs the next call.
        try:
            self.assertEqual(executor.submit(pow, 2, 8).result(timeout=self.TIMEOUT), 256)
        except futures.TimeoutError:
            self._fail_on_deadlock(executor)
        executor.shutdown(wait=True)

    def test_error_at_task_pickle(self):
        # Check problem occurring while pickling a task in
        # the task_handler thread
        self._check_crash(PicklingError, id, ErrorAtPickle())

    def test_exit_at_task_unpickle(self):
        # Check problem occurring while unpickling a task on workers
        self._check_crash(SystemExit, id, ExitAtUnpickle())

    def test_error_at_task_unpickle(self):
        # gh-109832: Restore stderr overriden by _raise_error_ignore_stderr()
        self.addCleanup(setattr, sys, "stderr", sys.stderr)

        # Check problem occurring while unpickling a task on workers
        self._check_crash(UnpicklingError, id, ErrorAtUnpickle())

    def test_crash_at_task_unpickle(self):
        # Check problem occurring while unpickling a task on workers
        self._check_crash(WorkerLostError, id, CrashAtUnpickle())

    def test_crash_during_func_exec_on_worker(self):
        # Check problem occurring during func execution on workers
        self._check_crash(WorkerLostError, _crash)

    def test_exit_during_func_exec_on_worker(self):
        # Check problem occurring during func execution on workers
        self._check_crash(SystemExit, _exit)

    def test_error_during_func_exec_on_worker(self):
        # Check problem occurring during func execution on workers
        self._check_crash(RuntimeError, _raise_error, RuntimeError)

    def test_crash_during_result_pickle_on_worker(self):
        # Check problem occurring while pickling a task result
        # on workers
        self._check_crash(WorkerLostError, _return_instance, CrashAtPickle)

    def test_exit_during_result_pickle_on_worker(self):
        # Check problem occurring while pickling a task result
        # on workers
        self._check_crash(SystemExit, _return_instance, ExitAtPickle)

    def test_error_during_result_pickle_on_worker(self):
        # Check problem occurring while pickling a task result
        # on workers
        self._check_crash(PicklingError, _return_instance, ErrorAtPickle)

    def test_error_during_result_unpickle_in_result_handler(self):
        # gh-109832: Restore stderr overriden by _raise_error_ignore_stderr()
        self.addCleanup(setattr, sys, "stderr", sys.stderr)

        # Check problem occurring while unpickling a task in
        # the result_handler thread
        self._check_crash(UnpicklingError, _return_instance, ErrorAtUnpickle, ignore_stderr=True)

    def test_exit_during_result_unpickle_in_result_handler(self):
        # Check problem occurring while unpickling a task in
        # the result_handler thread
        self._check_crash(SystemExit, _return_instance, ExitAtUnpickle)

    def test_shutdown_deadlock(self):
        # Test that the pool calling shutdown do not cause deadlock
        # if a worker fails after the shutdown call.
        self.executor.shutdown(wait=True)
        with self.executor_type(max_workers=2, mp_context=self.get_context()) as executor:
            self.executor = executor  # Allow clean up in fail_on_deadlock
            f = executor.submit(_crash, delay=0.1)
            executor.shutdown(wait=True)
            with self.assertRaises(WorkerLostError):
                f.result()

    def test_shutdown_deadlock_pickle(self):
        # Test that the pool calling shutdown with wait=False does not cause
        # a deadlock if a task fails at pickle after the shutdown call.
        # Reported in bpo-39104.
        self.executor.shutdown(wait=True)
        with self.executor_type(max_workers=2, mp_context=self.get_context()) as executor:
            self.executor = executor  # Allow clean up in fail_on_deadlock

            # Start the executor and get the executor_manager_thread to collect
            # the threads and avoid dangling thread that should be cleaned up
            # asynchronously.
            executor.submit(id, 42).result()
            # greenpool: found by its documented name (stdlib:
            # executor._executor_manager_thread, private).
            executor_manager = manager_thread(executor)

            # Submit a task that fails at pickle and shutdown the executor
            # without waiting
            f = executor.submit(id, ErrorAtPickle())
            executor.shutdown(wait=False)
            with self.assertRaises(PicklingError):
                f.result()

        # Make sure the executor is eventually shutdown and do not leave
        # dangling threads
        support.wait_threads_exit([executor_manager])

    def test_crash_big_data(self):
        # Test that there is a clean exception instad of a deadlock when a
        # child process crashes while some data is being written into the
        # queue.
        # https://github.com/python/cpython/issues/94777
        self.executor.shutdown(wait=True)
        data = "a" * support.PIPE_MAX_SIZE
        with self.executor_type(max_workers=2, mp_context=self.get_context()) as executor:
            self.executor = executor  # Allow clean up in fail_on_deadlock
            with self.assertRaises(WorkerLostError):
                list(executor.map(_crash_with_data, [data] * 10))

        executor.shutdown(wait=True)

    def test_gh105829_should_not_deadlock_if_wakeup_pipe_full(self):
        # Issue #105829: The _ExecutorManagerThread wakeup pipe could
        # fill up and block. See: https://github.com/python/cpython/issues/105829

        # greenpool: the stdlib test delays its manager thread
        # (_ExecutorManagerThread.run) and swaps in a wake-up object
        # (_ThreadWakeup) that blocks once its pipe is "full": both private.
        # greenpool's manager is woken through a non-blocking pipe to which
        # submit() writes at most one byte until the manager drains it, so
        # there is no full pipe to simulate; what is checked is the same
        # outcome: while the manager thread is held back, 100 submissions
        # neither block nor get lost. The manager's loop
        # (greenpool.process._Manager._loop, private) is delayed the way the
        # stdlib test delays its manager's run(), for 1 s instead of 3 (100
        # submissions take milliseconds), and the calls are submitted one by
        # one: greenpool's map is lazy and would only submit a window of
        # them while the manager sleeps.

        self.executor.shutdown(wait=True)

        if not hasattr(signal, "alarm"):
            raise unittest.SkipTest("Tested platform does not support the alarm signal")

        def timeout(_signum, _frame):
            import faulthandler

            faulthandler.dump_traceback()

            raise RuntimeError("timed out while submitting jobs?")

        manager_loop = greenpool.process._Manager._loop

        def mock_loop(self):
            # Delay thread startup so the wakeup pipe can fill up and block
            time.sleep(1)
            manager_loop(self)

        with unittest.mock.patch.object(greenpool.process._Manager, "_loop", mock_loop):
            with self.executor_type(max_workers=2, mp_context=self.get_context()) as executor:
                self.executor = executor  # Allow clean up in fail_on_deadlock

                job_num = 100
                job_data = range(job_num)

                # Need to use sigalarm for timeout detection because
                # Executor.submit is not guarded by any timeout.
                old_handler = signal.signal(signal.SIGALRM, timeout)
                try:
                    signal.alarm(int(self.TIMEOUT))
                    fs = [executor.submit(int, i) for i in job_data]
                    self.assertEqual(list(job_data), [f.result() for f in fs])
                finally:
                    signal.alarm(0)
                    signal.signal(signal.SIGALRM, old_handler)


# greenpool: the start methods that run: see util.py.
create_executor_tests(globals(), ExecutorDeadlockTest, executor_mixins=PROCESS_POOL_MIXINS)


if __name__ == "__main__":
    unittest.main()
