"""Load CPython's ``concurrent.futures`` tests and put greenpool in the stdlib's place.

:func:`load` imports CPython's test modules from where
:mod:`cpython_tests` finds them and patches them, at run time, in this
process only (the stdlib's ``concurrent.futures`` is left alone, except in
the fresh interpreters those tests start; see ``_child.py``):

* the executor mixins' ``executor_type``, and the ``futures`` name the tests
  build executors from, give greenpool's ``ThreadPoolExecutor`` and
  ``ProcessPoolExecutor`` (the :class:`_Inspectable` subclasses below, which
  add read-only stand-ins for the stdlib's private attributes the tests read);
* ``Future`` (and the pre-set futures of ``create_future``) is ``greenpool.Future``;
* ``BaseTestCase``'s set-up and tear-down fail a test that leaves a thread or
  a child process running (CPython's only report it);
* the tests listed in :data:`OVERRIDES` are replaced or wrapped, each for the
  reason given there (README.md, "What is adapted"), and :data:`ADDED` adds
  tests of greenpool's own to CPython's classes.

Everything in this file is greenpool's; none of it is copied from CPython.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import importlib
import logging
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
import unittest
import unittest.mock
from collections.abc import Callable, Iterator
from concurrent import futures as _stdlib_futures
from typing import Any

import greenpool
import greenpool.process

from . import cpython_tests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = cpython_tests.ROOT

#: Upper bound for waits that end early on success (within the 60 s pytest-timeout).
SHORT_TIMEOUT = 20.0
#: How long a thread or child process may outlive the test that started it.
CLEANUP_GRACE = 5.0


def _sleeping_retry(timeout: float) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        yield
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


# -- greenpool's executors, with the private names the stdlib tests read -----


def pool_threads(executor: Any, prefix: str | None = None) -> list[threading.Thread]:
    """A thread pool's live threads, by their documented names ``<prefix or name>_<n>``."""
    start = (prefix or getattr(executor, "_gp_prefix", None) or executor.name) + "_"
    return [t for t in threading.enumerate() if t.name.startswith(start)]


def live_workers(executor: Any) -> list[Any]:
    """A process pool's live workers, by their documented names ``<name>-worker-<n>``."""
    start = f"{executor.name}-worker-"
    return [p for p in multiprocessing.active_children() if p.name.startswith(start)]


def manager_thread(executor: Any) -> threading.Thread:
    """A process pool's manager thread, by its documented name ``<name>-manager``."""
    threads = [t for t in threading.enumerate() if t.name == f"{executor.name}-manager"]
    assert len(threads) == 1, threads
    return threads[0]


def wait_for_num_workers(executor: Any, expected: int) -> None:
    """greenpool's manager starts and reaps workers just after submit() or a result."""
    for _ in _sleeping_retry(SHORT_TIMEOUT):
        if executor.num_workers == expected:
            return
    raise AssertionError(f"num_workers is {executor.num_workers}, expected {expected}")


class ThreadPoolExecutor(greenpool.ThreadPoolExecutor):
    """greenpool's thread pool; ``_threads`` is the stdlib's name for its live threads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # thread_name_prefix is keyword-only in greenpool, as in the stdlib.
        self._gp_prefix = kwargs.get("thread_name_prefix", "")

    @property
    def _threads(self) -> frozenset[threading.Thread]:
        return frozenset(pool_threads(self))


class ProcessPoolExecutor(greenpool.ProcessPoolExecutor):
    """greenpool's process pool; ``_processes`` and ``_executor_manager_thread``
    are the stdlib's names for its live workers (by pid) and its manager thread."""

    @property
    def _processes(self) -> dict[int, Any]:
        return {p.pid: p for p in live_workers(self)}

    @property
    def _executor_manager_thread(self) -> threading.Thread:
        return manager_thread(self)


_Inspectable = (ThreadPoolExecutor, ProcessPoolExecutor)
ThreadPoolExecutor.__name__ = ThreadPoolExecutor.__qualname__ = "ThreadPoolExecutor"
ProcessPoolExecutor.__name__ = ProcessPoolExecutor.__qualname__ = "ProcessPoolExecutor"


class _Futures(types.ModuleType):
    """``concurrent.futures`` as the tests see it: greenpool's executors and Future."""

    def __init__(self) -> None:
        super().__init__("concurrent.futures")
        self.ThreadPoolExecutor = ThreadPoolExecutor
        self.ProcessPoolExecutor = ProcessPoolExecutor
        self.Future = greenpool.Future

    def __getattr__(self, name: str) -> Any:
        return getattr(_stdlib_futures, name)


# -- loading -----------------------------------------------------------------


class Loaded(types.SimpleNamespace):
    source: cpython_tests.Source
    name: str  # the name the tests were imported as
    overlay: str | None  # the directory put on sys.path to import them from
    modules: list[types.ModuleType]


def _import(source: cpython_tests.Source) -> Loaded:
    try:
        import test.support  # noqa: F401 (CPython's tests need it)
    except ImportError as exc:
        raise cpython_tests.MissingSource(
            f"CPython's tests need this interpreter's test.support, which it lacks ({exc}); "
            f"install its test package (Debian: the python3.X package's test/support)"
        ) from exc
    overlay = None
    if source.own:
        name = "test.test_concurrent_futures"
    else:
        # Imported under its own top-level name from a directory that holds only
        # it, so that worker processes (which inherit sys.path) can unpickle the
        # module's functions without anything else of that directory shadowing
        # a module of the same name.
        overlay = tempfile.mkdtemp(prefix="greenpool-cpython-tests-")
        target = os.path.join(source.directory, cpython_tests.NAME)
        if not source.is_package:
            target += ".py"
        os.symlink(target, os.path.join(overlay, os.path.basename(target)))
        sys.path.insert(0, overlay)
        import atexit

        atexit.register(shutil.rmtree, overlay, True)
        name = cpython_tests.NAME
    package = importlib.import_module(name)
    modules = [package]
    if source.is_package:
        for entry in sorted(os.listdir(os.path.join(source.directory, cpython_tests.NAME))):
            if entry.endswith(".py") and entry != "__init__.py":
                modules.append(importlib.import_module(f"{name}.{entry[:-3]}"))
    return Loaded(source=source, name=name, overlay=overlay, modules=modules)


def _child_env(loaded: Loaded) -> dict[str, str]:
    # The greenpool this process imported, whether installed or not.
    greenpool_home = os.path.dirname(os.path.dirname(os.path.abspath(greenpool.__file__)))
    path = [HERE, greenpool_home] + ([loaded.overlay] if loaded.overlay else [])
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {
        "PYTHONPATH": os.pathsep.join(path),
        "GREENPOOL_CONFORMANCE_MODULE": loaded.name,
    }


def _substituting_assert_python_ok(loaded: Loaded) -> Callable[..., Any]:
    """CPython's ``assert_python_ok``, its ``-c`` scripts run with greenpool's executors."""
    from test.support import script_helper

    def assert_python_ok(*args: str, **env_vars: Any) -> Any:
        if len(args) >= 2 and args[0] == "-c":
            args = ("-c", "import _child\n" + args[1], *args[2:])
        return script_helper.assert_python_ok(*args, **_child_env(loaded), **env_vars)

    return assert_python_ok


def _module_of(test: unittest.TestCase) -> types.ModuleType:
    return sys.modules[type(test).__module__]


# -- stricter set-up and tear-down ---------------------------------------------


def _base_setup(self: unittest.TestCase) -> None:
    self._gp_threads = frozenset(threading.enumerate())  # type: ignore[attr-defined]
    self._gp_children = frozenset(p.pid for p in multiprocessing.active_children())  # type: ignore[attr-defined]


def _base_teardown(self: unittest.TestCase) -> None:
    """Fail if a thread or a ``multiprocessing`` child the test started outlives it."""
    threads: list[threading.Thread] = []
    children: list[Any] = []
    for _ in _sleeping_retry(CLEANUP_GRACE):
        threads = [t for t in threading.enumerate() if t not in self._gp_threads and t.is_alive()]  # type: ignore[attr-defined]
        # active_children() also joins the children that have exited.
        children = [p for p in multiprocessing.active_children() if p.pid not in self._gp_children]  # type: ignore[attr-defined]
        if not threads and not children:
            return
    raise AssertionError(f"left running by the test: threads {threads}, processes {children}")


def _checked_executor_setup(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def setUp(self: Any) -> None:
        original(self)
        # Guards the substitution itself.
        assert isinstance(self.executor, greenpool.Executor), self.executor

    return setUp


# -- replaced and wrapped tests --------------------------------------------------
#
# Each takes the place of CPython's test of the same name on the classes
# matching its pattern; README.md ("What is adapted") says why for each.


def _logging_as_unconfigured(original: Callable[..., Any]) -> Callable[..., Any]:
    """Runs CPython's test with no handler on the root logger, as in a plain interpreter.

    The test reads what ``logging.lastResort`` writes to stderr for a record
    nobody handles; pytest's logging plugin puts handlers on the root logger.
    """

    @functools.wraps(original)
    def test(self: Any) -> None:
        root = logging.getLogger()
        saved = root.handlers[:]
        root.handlers.clear()
        try:
            original(self)
        finally:
            root.handlers[:] = saved

    return test


def test_exception_with_success(self: Any) -> None:
    # CPython's finishes the future by writing _state/_exception and
    # notifying _condition by hand; set_exception() is the public way.
    f = greenpool.Future()
    waiter_started = threading.Event()

    def finish() -> None:
        waiter_started.wait(SHORT_TIMEOUT)
        time.sleep(0.1)
        f.set_exception(OSError())

    t = threading.Thread(target=finish)
    t.start()
    waiter_started.set()
    self.assertIsInstance(f.exception(timeout=SHORT_TIMEOUT), OSError)
    t.join(SHORT_TIMEOUT)


def _write_pid_then_sleep(path: str, seconds: float) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(seconds)


def test_killed_child(self: Any) -> None:
    # Documented difference: the killed worker's call fails with
    # WorkerLostError, the worker is replaced, the pool goes on.
    directory = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, directory)
    pid_file = os.path.join(directory, "pid")
    future = self.executor.submit(_write_pid_then_sleep, pid_file, 3)
    for _ in _sleeping_retry(SHORT_TIMEOUT):
        if os.path.exists(pid_file):
            break
    with open(pid_file) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    error = future.exception(timeout=SHORT_TIMEOUT)
    self.assertIsInstance(error, greenpool.WorkerLostError)
    self.assertEqual((error.pid, error.exitcode), (pid, -signal.SIGTERM))
    self.assertEqual(self.executor.submit(pow, 2, 8).result(timeout=SHORT_TIMEOUT), 256)


def test_process_saturation(self: Any) -> None:
    # CPython's calls (a multiprocessing semaphore's acquire) fail to pickle
    # and it counts the processes submit() started; greenpool starts workers
    # as it hands calls out, so these calls really block, on a manager's
    # semaphore, until every worker is busy.
    executor = self.executor
    with self.get_context().Manager() as manager:
        sem = manager.Semaphore(0)
        count = 15 * executor.max_workers
        fs = [executor.submit(sem.acquire) for _ in range(count)]
        wait_for_num_workers(executor, executor.max_workers)
        self.assertEqual(len(live_workers(executor)), executor.max_workers)
        for _ in range(count):
            sem.release()
        for f in fs:
            self.assertTrue(f.result(timeout=SHORT_TIMEOUT))


def _on_demand_with_fork(original: Callable[..., Any]) -> Callable[..., Any]:
    """CPython's test, also with fork: greenpool starts workers on demand with every method."""

    @functools.wraps(original)
    def test(self: Any) -> None:
        if self.ctx != "fork":
            return original(self)
        with unittest.mock.patch.object(type(self), "ctx", "forkserver"):
            # Only the test's own start-method check sees "forkserver";
            # the executor was built with fork in setUp.
            assert self.executor.mp_context.get_start_method() == "fork"
            original(self)

    return test


def test_max_tasks_per_child(self: Any) -> None:
    context = self.get_context()
    if context.get_start_method() == "fork":
        with self.assertRaises(ValueError):
            self.executor_type(1, mp_context=context, max_tasks_per_child=3)
        return
    executor = self.executor_type(1, mp_context=context, max_tasks_per_child=3)
    pids = [executor.submit(os.getpid).result(timeout=SHORT_TIMEOUT) for _ in range(2)]
    # After the second call, as CPython's test checks: the worker is still the
    # pool's one. (After the third it exits, on its own time: counting it then
    # raced with its exit, and lost under load in CI, two test processes at once.)
    self.assertEqual(executor.num_workers, 1)
    pids.append(executor.submit(os.getpid).result(timeout=SHORT_TIMEOUT))
    self.assertEqual(len(set(pids)), 1)
    self.assertNotEqual(executor.submit(os.getpid).result(timeout=SHORT_TIMEOUT), pids[0])
    # The manager forgets the old worker when it sees it exit, which may come
    # just after the fourth result.
    wait_for_num_workers(executor, 1)
    executor.shutdown()


def test_max_tasks_per_child_defaults_to_spawn_context(self: Any) -> None:
    # Documented difference: greenpool's default start method is forkserver
    # (spawn where there is none) for every pool; both suit max_tasks_per_child.
    executor = self.executor_type(1, max_tasks_per_child=3)
    methods = multiprocessing.get_all_start_methods()
    self.assertEqual(
        executor.mp_context.get_start_method(),
        "forkserver" if "forkserver" in methods else "spawn",
    )
    executor.shutdown()


def _refused_with_fork(original: Callable[..., Any]) -> Callable[..., Any]:
    """CPython skips the test with fork; greenpool, as the stdlib, refuses the combination."""

    @functools.wraps(original)
    def test(self: Any) -> None:
        context = self.get_context()
        if context.get_start_method() == "fork":
            with self.assertRaises(ValueError):
                self.executor_type(3, mp_context=context, max_tasks_per_child=1)
            return
        original(self)

    return test


_FINALIZATION_SCRIPT = """
import multiprocessing, os, signal, threading
from concurrent.futures.process import BrokenProcessPool
from greenpool import ProcessPoolExecutor

def hung(signum, frame):
    print("hung", flush=True)
    os._exit(0)

if __name__ == "__main__":
    name = "_start_joinable_thread"
    if not hasattr(threading, name):
        name = "_start_new_thread"
    original = getattr(threading, name)
    def refuse(*args, **kwargs):
        raise RuntimeError("can't create new thread at interpreter shutdown")
    setattr(threading, name, refuse)
    signal.signal(signal.SIGALRM, hung)
    signal.alarm(2)
    try:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context({ctx!r})) as executor:
            try:
                list(executor.map(pow, [2] * 10, [3] * 10))
            except BrokenProcessPool:
                print("BrokenProcessPool", flush=True)
            except BaseException as exc:
                print(type(exc).__name__, flush=True)
            else:
                print("no-error", flush=True)
    finally:
        setattr(threading, name, original)
    signal.alarm(0)
    print("shutdown-returned", flush=True)
"""


def test_python_finalization_error(self: Any) -> None:
    # gh-109047. CPython's lets its pool's first thread start and fails the
    # second (its queue feeder); greenpool starts one, its manager, so that
    # one fails. In a fresh interpreter, whose alarm reports a hung shutdown.
    from test.support.script_helper import assert_python_ok

    _, out, _ = assert_python_ok(
        "-c",
        _FINALIZATION_SCRIPT.format(ctx=self.ctx),
        PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(greenpool.__file__))),
    )
    self.assertEqual(out.decode().split(), ["BrokenProcessPool", "shutdown-returned"])


def _process_pool_cancel_futures(original: Callable[..., Any]) -> Callable[..., Any]:
    """CPython's test; for process pools, shutdown once the first call has started.

    A call starts running (documented) when a worker process takes it, and
    greenpool starts workers on demand: right after the 50 submissions none
    has usually started, so all are rightly cancelled and CPython's "at
    least one finished" cannot hold.
    """

    @functools.wraps(original)
    def test(self: Any) -> None:
        if not isinstance(self.executor, greenpool.ProcessPoolExecutor):
            return original(self)
        submit = self.executor.submit
        calls: list[Any] = []

        def submit_then_wait_for_the_first(*args: Any, **kwargs: Any) -> Any:
            future = submit(*args, **kwargs)
            calls.append(future)
            if len(calls) == 50:
                for _ in _sleeping_retry(SHORT_TIMEOUT):
                    if calls[0].running() or calls[0].done():
                        break
            return future

        with unittest.mock.patch.object(self.executor, "submit", submit_then_wait_for_the_first):
            original(self)

    return test


_HANG_SCRIPT = """
import multiprocessing
from greenpool import ProcessPoolExecutor
from {module} import sleep_and_print
if __name__ == "__main__":
    t = ProcessPoolExecutor(max_workers=3, mp_context=multiprocessing.get_context({ctx!r}))
    t.submit(sleep_and_print, 1.0, "apple")
    t.shutdown(wait=False)
"""


def _process_pool_hang_gh83386(original: Callable[..., Any]) -> Callable[..., Any]:
    """CPython skips it for its process pool (which hangs); greenpool's must finish the call.

    The start method is passed as ``mp_context``: greenpool's default is
    forkserver whatever ``set_start_method()`` says (documented).
    """

    @functools.wraps(original)
    def test(self: Any) -> None:
        if not isinstance(self.executor, greenpool.ProcessPoolExecutor):
            return original(self)
        module = _module_of(self)
        script = _HANG_SCRIPT.format(module=module.__name__, ctx=self.ctx)
        _, out, err = module.assert_python_ok("-c", script)
        self.assertFalse(err)
        self.assertEqual(out.strip(), b"apple")

    return test


def _join(threads: list[threading.Thread]) -> None:
    deadline = time.monotonic() + SHORT_TIMEOUT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t for t in threads if t.is_alive()]
    assert not alive, f"still running after {SHORT_TIMEOUT} s: {alive}"


def test_thread_del_shutdown(self: Any) -> None:
    # CPython's joins the pool's threads before reading map()'s results;
    # greenpool's map is lazy and bounded (documented): its iterator may still
    # submit, so it holds the executor until exhausted. Results first.
    executor = self.executor_type(max_workers=5)
    res = executor.map(abs, range(-5, 5))
    threads = pool_threads(executor)
    self.assertTrue(threads)
    del executor
    results = list(res)
    del res
    _gc()
    _join(threads)
    self.assertEqual(results, [abs(v) for v in range(-5, 5)])


def test_process_del_shutdown(self: Any) -> None:
    # As test_thread_del_shutdown; no call queue to join in greenpool.
    executor = self.executor_type(max_workers=5, mp_context=self.get_context())
    res = executor.map(abs, range(-5, 5))
    manager = manager_thread(executor)
    name = executor.name
    del executor
    results = list(res)
    del res
    _gc()
    _join([manager])
    workers = [p for p in multiprocessing.active_children() if p.name.startswith(f"{name}-worker-")]
    self.assertEqual(workers, [])
    self.assertEqual(results, [abs(v) for v in range(-5, 5)])


def test_process_shutdown_no_wait(self: Any) -> None:
    # CPython's joins _executor_manager_thread, _processes and _call_queue;
    # greenpool has no call queue, and its manager exits after its workers.
    executor = self.executor_type(max_workers=5, mp_context=self.get_context())
    res = executor.map(abs, range(-5, 5))
    manager = manager_thread(executor)
    executor.shutdown(wait=False)
    _join([manager])
    self.assertEqual(executor.num_workers, 0)
    self.assertEqual(live_workers(executor), [])
    self.assertEqual(list(res), [abs(v) for v in range(-5, 5)])


def _signal_then_acquire(started: Any, lock: Any) -> bool:
    started.release()
    return bool(lock.acquire())


def test_processes_terminate(self: Any) -> None:
    # CPython's calls fail to pickle (see test_process_saturation) and it
    # counts the processes submit() started, five with fork (pre-spawned).
    # Here three calls that really block, each submitted once the previous
    # one has started, must have a worker each, with every start method.
    with self.get_context().Manager() as manager:
        started, sem = manager.Semaphore(0), manager.Semaphore(0)
        fs = []
        for _ in range(3):
            fs.append(self.executor.submit(_signal_then_acquire, started, sem))
            self.assertTrue(started.acquire(timeout=SHORT_TIMEOUT))
        self.assertEqual(self.executor.num_workers, 3)
        self.assertEqual(len(live_workers(self.executor)), 3)
        for _ in range(3):
            sem.release()
        self.executor.shutdown()
        self.assertTrue(all(f.result() for f in fs))
    self.assertEqual(self.executor.num_workers, 0)
    self.assertEqual(live_workers(self.executor), [])


def _initializer_breaks_pool(self: Any) -> BaseException:
    """Polls with submit() until it raises BrokenExecutor (CPython polls ``_broken``)."""
    try:
        future = self.executor.submit(_module_of(self).get_init_status)
    except _stdlib_futures.BrokenExecutor:
        pass
    else:
        with self.assertRaises(_stdlib_futures.BrokenExecutor):
            future.result(timeout=SHORT_TIMEOUT)
    for _ in _sleeping_retry(SHORT_TIMEOUT):
        try:
            future = self.executor.submit(_module_of(self).get_init_status)
        except _stdlib_futures.BrokenExecutor:
            break
        # Every call accepted meanwhile must fail with it too.
        with self.assertRaises(_stdlib_futures.BrokenExecutor):
            future.result(timeout=SHORT_TIMEOUT)
    with self.assertRaises(_stdlib_futures.BrokenExecutor) as cm:
        self.executor.submit(_module_of(self).get_init_status)
    return cm.exception


def test_failing_initializer(self: Any) -> None:
    with self._assert_logged("ValueError: error in initializer"):
        _initializer_breaks_pool(self)


#: test_deadlock's expected errors where greenpool's differ (documented): a
#: dead worker fails only its call, with WorkerLostError; a call whose
#: arguments or result cannot be unpickled fails alone with that error.
_CRASH_ERRORS: dict[str, type[BaseException]] = {
    "test_exit_at_task_unpickle": SystemExit,
    "test_error_at_task_unpickle": pickle.UnpicklingError,
    "test_crash_at_task_unpickle": greenpool.WorkerLostError,
    "test_crash_during_func_exec_on_worker": greenpool.WorkerLostError,
    "test_crash_during_result_pickle_on_worker": greenpool.WorkerLostError,
    "test_error_during_result_unpickle_in_result_handler": pickle.UnpicklingError,
    "test_exit_during_result_unpickle_in_result_handler": SystemExit,
}


def _check_crash(
    self: Any, error: type[BaseException], func: Any, *args: Any, ignore_stderr: bool = False
) -> None:
    # CPython's expects the pool broken; greenpool's fails only the call
    # (greenpool's error where _CRASH_ERRORS names one) and must then run
    # the next call.
    if error is _stdlib_futures.process.BrokenProcessPool:
        error = _CRASH_ERRORS[self._testMethodName]
    self.executor.shutdown(wait=True)
    executor = self.executor_type(max_workers=2, mp_context=self.get_context())
    self.addCleanup(executor.shutdown, wait=False)
    future = executor.submit(func, *args)
    quiet = _captured_stderr() if ignore_stderr else contextlib.nullcontext()
    try:
        with self.assertRaises(error), quiet:
            future.result(timeout=self.TIMEOUT)
        self.assertEqual(executor.submit(pow, 2, 8).result(timeout=self.TIMEOUT), 256)
    except _stdlib_futures.TimeoutError:
        self._fail_on_deadlock(executor)
    executor.shutdown(wait=True)


def _fail_on_deadlock(self: Any, executor: Any) -> None:
    # CPython's terminates _processes, then shutdown(wait=True): killing the
    # workers cannot break a deadlock in greenpool's manager thread.
    for p in live_workers(executor):
        p.terminate()
    executor.shutdown(wait=False)
    self.fail(f"executor deadlock: {executor!r}")


def test_gh105829_should_not_deadlock_if_wakeup_pipe_full(self: Any) -> None:
    # CPython's delays its manager thread (_ExecutorManagerThread.run) and
    # makes its wake-up pipe block when "full" (_ThreadWakeup): both stdlib
    # internals. greenpool's wake-up pipe is non-blocking and written once per
    # drain; what must hold is the same: while the manager is held back, 100
    # submissions neither block nor get lost. Its loop is greenpool's
    # private manager loop (this test fails loudly if that moves).
    manager_class = _process_manager_class()
    loop = manager_class._loop

    def held_back(manager: Any) -> None:
        time.sleep(1)
        loop(manager)

    with (
        unittest.mock.patch.object(manager_class, "_loop", held_back),
        self.executor_type(max_workers=2, mp_context=self.get_context()) as executor,
    ):
        signal.signal(signal.SIGALRM, lambda *a: self.fail("submit() blocked"))
        signal.alarm(10)
        try:
            fs = [executor.submit(int, i) for i in range(100)]
            self.assertEqual([f.result(timeout=SHORT_TIMEOUT) for f in fs], list(range(100)))
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _process_manager_class() -> Any:
    """greenpool's process-pool manager (private: where it lives has moved before)."""
    from greenpool.process._manager import Manager

    assert hasattr(Manager, "_loop"), "greenpool's manager loop moved"
    return Manager


@contextlib.contextmanager
def _captured_stderr() -> Iterator[None]:
    import io

    saved, sys.stderr = sys.stderr, io.StringIO()
    try:
        yield
    finally:
        sys.stderr = saved


def _gc() -> None:
    import gc

    for _ in range(3):
        gc.collect()


# -- tests greenpool adds to CPython's classes ---------------------------------


def test_map_submits_window_without_iteration(self: Any) -> None:
    # greenpool's map is lazy and bounded (documented): never iterated, a
    # map longer than its window runs only the first 2 * max_workers calls.
    finished: list[int] = []
    window = 2 * self.executor.max_workers
    self.executor.map(finished.append, range(window + 15))
    self.executor.shutdown(wait=True)
    self.assertCountEqual(finished, range(window))


def test_default_workers_restricted_affinity(self: Any) -> None:
    # The default max_workers in a process allowed one CPU, where
    # os.process_cpu_count() (3.13+) and os.cpu_count() differ, is the stdlib's.
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        self.skipTest("needs os.sched_setaffinity and two CPUs")
    import subprocess

    code = (
        "import os, concurrent.futures, greenpool\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "print(concurrent.futures.ThreadPoolExecutor()._max_workers,"
        " greenpool.ThreadPoolExecutor().max_workers)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=SHORT_TIMEOUT
    ).stdout
    stdlib_default, greenpool_default = out.split()
    self.assertEqual(greenpool_default, stdlib_default)


class _GatedContext:
    """A multiprocessing context whose processes start only once ``may_start`` is set."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self.starting = threading.Event()
        self.may_start = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def Process(self, *args: Any, **kwargs: Any) -> Any:
        return _GatedProcess(self, self._context.Process(*args, **kwargs))


class _GatedProcess:
    """A process whose ``start()`` waits for its context's gate.

    A wrapper, not the process with its ``start`` replaced: forkserver and
    spawn pickle the process object, which must stay the context's own.
    """

    def __init__(self, gate: _GatedContext, process: Any) -> None:
        self._gate = gate
        self._process = process

    def __getattr__(self, name: str) -> Any:
        return getattr(self._process, name)

    def start(self) -> None:
        self._gate.starting.set()
        self._gate.may_start.wait(SHORT_TIMEOUT)
        self._process.start()


def test_processes_terminate_burst(self: Any) -> None:
    # Three blocking calls submitted at once, the last two while the pool is
    # starting its first worker: each must start at once on a worker of its own.
    context = _GatedContext(self.get_context())
    executor = self.executor_type(max_workers=self.worker_count, mp_context=context)
    with context.Manager() as manager:
        started, sem = manager.Semaphore(0), manager.Semaphore(0)
        try:
            fs = [executor.submit(_signal_then_acquire, started, sem)]
            self.assertTrue(context.starting.wait(SHORT_TIMEOUT))
            fs += [executor.submit(_signal_then_acquire, started, sem) for _ in range(2)]
            context.may_start.set()
            for i in range(3):
                self.assertTrue(started.acquire(timeout=2), f"only {i} of the 3 calls started")
            self.assertEqual(executor.num_workers, 3)
        finally:
            context.may_start.set()
            for _ in range(3):
                sem.release()
            executor.shutdown()
        self.assertTrue(all(f.result() for f in fs))
    self.assertEqual(live_workers(executor), [])


def test_initializer_breaks_pool(self: Any) -> None:
    # test_initializer without its log check, plus the documented __cause__.
    error = _initializer_breaks_pool(self)
    self.assertIsInstance(error.__cause__, ValueError)
    self.assertEqual(error.__cause__.args, ("error in initializer",))


class Override(types.SimpleNamespace):
    cls: str  # fnmatch pattern on the class name
    test: str
    replace: Callable[..., Any] | None = None  # the new test
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None  # of CPython's


def _o(cls: str, test: str, fn: Callable[..., Any], *, wrap: bool = False) -> Override:
    return Override(cls=cls, test=test, replace=None if wrap else fn, wrap=fn if wrap else None)


OVERRIDES = [
    _o("FutureTests", "test_done_callback_raises", _logging_as_unconfigured, wrap=True),
    _o(
        "FutureTests",
        "test_done_callback_raises_already_succeeded",
        _logging_as_unconfigured,
        wrap=True,
    ),
    _o("FutureTests", "test_exception_with_success", test_exception_with_success),
    _o("ProcessPool*ProcessPoolExecutorTest", "test_killed_child", test_killed_child),
    _o("ProcessPool*ProcessPoolExecutorTest", "test_saturation", test_process_saturation),
    _o(
        "ProcessPool*ProcessPoolExecutorTest",
        "test_idle_process_reuse_one",
        _on_demand_with_fork,
        wrap=True,
    ),
    _o(
        "ProcessPool*ProcessPoolExecutorTest",
        "test_idle_process_reuse_multiple",
        _on_demand_with_fork,
        wrap=True,
    ),
    _o("ProcessPool*ProcessPoolExecutorTest", "test_max_tasks_per_child", test_max_tasks_per_child),
    _o(
        "ProcessPool*ProcessPoolExecutorTest",
        "test_max_tasks_per_child_defaults_to_spawn_context",
        test_max_tasks_per_child_defaults_to_spawn_context,
    ),
    _o(
        "ProcessPool*ProcessPoolExecutorTest",
        "test_max_tasks_early_shutdown",
        _refused_with_fork,
        wrap=True,
    ),
    _o(
        "ProcessPool*ProcessPoolExecutorTest",
        "test_python_finalization_error",
        test_python_finalization_error,
    ),
    _o("*ShutdownTest", "test_cancel_futures", _process_pool_cancel_futures, wrap=True),
    _o("*ShutdownTest", "test_hang_gh83386", _process_pool_hang_gh83386, wrap=True),
    _o("ThreadPoolShutdownTest", "test_del_shutdown", test_thread_del_shutdown),
    _o("ProcessPool*ProcessPoolShutdownTest", "test_del_shutdown", test_process_del_shutdown),
    _o(
        "ProcessPool*ProcessPoolShutdownTest",
        "test_shutdown_no_wait",
        test_process_shutdown_no_wait,
    ),
    _o("ProcessPool*ProcessPoolShutdownTest", "test_processes_terminate", test_processes_terminate),
    _o("ProcessPool*FailingInitializerTest", "test_initializer", test_failing_initializer),
    _o("ThreadPoolFailingInitializerTest", "test_initializer", test_failing_initializer),
    _o("ProcessPool*ExecutorDeadlockTest", "_check_crash", _check_crash),
    _o("ProcessPool*ExecutorDeadlockTest", "_fail_on_deadlock", _fail_on_deadlock),
    _o(
        "ProcessPool*ExecutorDeadlockTest",
        "test_gh105829_should_not_deadlock_if_wakeup_pipe_full",
        test_gh105829_should_not_deadlock_if_wakeup_pipe_full,
    ),
]

#: (class pattern, test) greenpool adds to CPython's classes.
ADDED = [
    ("ThreadPoolExecutorTest", test_map_submits_window_without_iteration),
    ("ThreadPoolExecutorTest", test_default_workers_restricted_affinity),
    ("ProcessPool*ProcessPoolShutdownTest", test_processes_terminate_burst),
    ("ProcessPool*FailingInitializerTest", test_initializer_breaks_pool),
    ("ThreadPoolFailingInitializerTest", test_initializer_breaks_pool),
]

#: Class attributes set on matching classes: (pattern, name, value, why).
ATTRIBUTES = [
    # CPython's 300 s (support.LONG_TIMEOUT) exceeds the 60 s pytest-timeout.
    ("ProcessPool*ExecutorDeadlockTest", "TIMEOUT", 30.0),
]


def _patch_module(module: types.ModuleType, loaded: Loaded, futures: _Futures) -> None:
    names = vars(module)
    if names.get("futures") is _stdlib_futures:
        module.futures = futures  # type: ignore[attr-defined]
    if names.get("Future") is _stdlib_futures.Future:
        module.Future = greenpool.Future  # type: ignore[attr-defined]
    if "assert_python_ok" in names:
        module.assert_python_ok = _substituting_assert_python_ok(loaded)  # type: ignore[attr-defined]
    mixins = {
        "ThreadPoolMixin": ThreadPoolExecutor,
        "ProcessPoolForkMixin": ProcessPoolExecutor,
        "ProcessPoolForkserverMixin": ProcessPoolExecutor,
        "ProcessPoolSpawnMixin": ProcessPoolExecutor,
    }
    for name, executor_type in mixins.items():
        if isinstance(names.get(name), type):
            names[name].executor_type = executor_type
    mixin = names.get("ExecutorMixin")
    if isinstance(mixin, type) and mixin.__module__ == module.__name__:
        mixin.setUp = _checked_executor_setup(vars(mixin)["setUp"])
    base = names.get("BaseTestCase")
    if isinstance(base, type) and base.__module__ == module.__name__:
        base.setUp, base.tearDown = _base_setup, _base_teardown


def _rebuild_preset_futures(modules: list[types.ModuleType]) -> None:
    """The pre-set futures of ``create_future``, made again as greenpool Futures."""
    (home,) = [
        m
        for m in modules
        if "create_future" in vars(m) and vars(m)["create_future"].__module__ == m.__name__
    ]
    base = _stdlib_futures._base
    states = {
        "PENDING_FUTURE": dict(state=base.PENDING),
        "RUNNING_FUTURE": dict(state=base.RUNNING),
        "CANCELLED_FUTURE": dict(state=base.CANCELLED),
        "CANCELLED_AND_NOTIFIED_FUTURE": dict(state=base.CANCELLED_AND_NOTIFIED),
        "EXCEPTION_FUTURE": dict(state=base.FINISHED, exception=OSError()),
        "SUCCESSFUL_FUTURE": dict(state=base.FINISHED, result=42),
    }
    for name, kwargs in states.items():
        old = getattr(home, name)
        new = home.create_future(**kwargs)
        assert isinstance(new, greenpool.Future), new
        for module in modules:
            if vars(module).get(name) is old:
                setattr(module, name, new)


def _test_classes(modules: list[types.ModuleType]) -> list[type[unittest.TestCase]]:
    classes: dict[str, type[unittest.TestCase]] = {}
    for module in modules:
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, unittest.TestCase)
                and value.__module__ == module.__name__
                and any(a.startswith("test") for a in dir(value))
            ):
                assert classes.setdefault(name, value) is value, f"two test classes {name}"
    return list(classes.values())


def _apply(classes: list[type[unittest.TestCase]]) -> list[str]:
    """Overrides, additions and attributes; returns what did not match, for the check."""
    unmatched = []
    for override in OVERRIDES:
        hits = [c for c in classes if fnmatch.fnmatchcase(c.__name__, override.cls)]
        hits = [c for c in hits if hasattr(c, override.test)]
        if not hits:
            unmatched.append(f"{override.cls}.{override.test}")
        for cls in hits:
            new = override.replace or override.wrap(getattr(cls, override.test))  # type: ignore[misc]
            setattr(cls, override.test, new)
    for pattern, test in ADDED:
        for cls in classes:
            if fnmatch.fnmatchcase(cls.__name__, pattern):
                setattr(cls, test.__name__, test)
    for pattern, name, value in ATTRIBUTES:
        for cls in classes:
            if fnmatch.fnmatchcase(cls.__name__, pattern):
                setattr(cls, name, value)
    return unmatched


#: Which start methods the process-pool classes run with; see README.md.
CONTEXTS_VAR = "GREENPOOL_CONFORMANCE_CONTEXTS"
_WAITING_CLASSES = ("*WaitTest*", "*AsCompletedTest*")


def _selected(cls: type[unittest.TestCase]) -> bool:
    ctx = getattr(cls, "ctx", None)
    if ctx is None or not cls.__name__.startswith("ProcessPool"):
        return True
    chosen = os.environ.get(CONTEXTS_VAR)
    if chosen:
        return ctx in [c.strip() for c in chosen.split(",")]
    if any(fnmatch.fnmatchcase(cls.__name__, p) for p in _WAITING_CLASSES):
        return ctx == "forkserver"
    return ctx in ("forkserver", "fork")


def load() -> tuple[cpython_tests.Source, list[type[unittest.TestCase]], list[str]]:
    """CPython's test classes, patched, that this run selects; and unmatched overrides."""
    source = cpython_tests.find()
    loaded = _import(source)
    futures = _Futures()
    for module in loaded.modules:
        _patch_module(module, loaded, futures)
    _rebuild_preset_futures(loaded.modules)
    classes = _test_classes(loaded.modules)
    unmatched = _apply(classes)
    return source, [c for c in classes if _selected(c)], unmatched
