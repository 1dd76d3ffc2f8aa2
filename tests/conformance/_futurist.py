"""Load futurist's own test modules with ``futurist`` imported as greenpool.

futurist ships its tests inside the package (``futurist/tests/``). Each
module of :data:`MODULES` is executed from the installed file, under its own
name, while ``sys.modules`` maps ``futurist`` (and ``futurist.periodics``,
``.rejection``, ``.waiters``) to greenpool's: every ``import futurist`` /
``from futurist import ...`` in it gets greenpool, as a service's does after
``import greenpool as futurist``. ``futurist.tests`` and its ``base`` stay
futurist's (oslotest's ``BaseTestCase``). The real mapping is restored once
the module has run, so the rest of the test session sees the real futurist.

Each ``testscenarios`` class is split into one class per scenario
(``TestExecutors_thread``...), so that each scenario passes or fails on its
own. :data:`LEFT_OUT` lists the tests that patch or read futurist's private
modules or attributes, with why; ``conftest.py`` deselects them.

Everything in this file is greenpool's; none of it is copied from futurist.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
import unittest
from typing import Any

import greenpool

MODULES = ("test_executors", "test_waiters", "test_periodics")
SUBMODULES = ("periodics", "rejection", "waiters")

#: (class, test) left out: each patches or reads futurist's private modules or
#: attributes, which greenpool does not have. (The periodics tests that read
#: the worker's ``_schedule._ordering`` or set ``_RESCHEDULE_DELAY`` and
#: ``_RESCHEDULE_JITTER`` run: greenpool's worker keeps those on purpose.)
#: "*" matches every test of the class (and of each of its scenarios).
LEFT_OUT: dict[tuple[str, str], str] = {
    ("TestDynamicThreadPool", "*"): (
        "mocks DynamicThreadPoolExecutor._add_thread (private) for the whole class and "
        "reads executor._dead_workers"
    ),
    ("TestDynamicThreadPoolMaintain", "*"): (
        "mocks futurist._thread.ThreadWorker.create_and_register (private module) and fills "
        "executor._work_queue"
    ),
    ("TestDelayedExecutorMixin", "test_scheduler_thread_is_daemon"): (
        "reads executor._scheduler (the mixin's private scheduler thread)"
    ),
    ("TestDelayedExecutorMixin", "test_running_task_not_cancelled_by_cancel_futures"): (
        "builds its futures with executor._get_future_object() (private)"
    ),
    ("TestDelayedExecutorMixin", "test_sentinel_task_has_no_future_attribute"): (
        "reads executor._sentinel (the mixin's private queue sentinel)"
    ),
}


#: (class, test) that fail because of a difference greenpool documents; they
#: are marked xfail(strict=True) with this reason, so that they turn the run
#: red (XPASS) if the difference goes. Those that would wait for ever get a
#: short timeout that fails them instead (signal method, so that the
#: session goes on).
DEVIATIONS: dict[tuple[str, str], str] = {
    ("TestWaiters", "test_no_mixed_wait_for_any"): (
        "documented: greenpool waits on green and stdlib futures together, where futurist "
        "raises RuntimeError; these two futures are never resolved, so the wait never ends"
    ),
    ("TestWaiters", "test_no_mixed_wait_for_all"): (
        "documented: greenpool waits on green and stdlib futures together, where futurist "
        "raises RuntimeError; these two futures are never resolved, so the wait never ends"
    ),
}
#: The timeout of the DEVIATIONS that wait for ever.
DEVIATION_TIMEOUT = 2.0


def _match(table: dict[tuple[str, str], str], cls: type, test: str) -> str | None:
    names = {c.__name__ for c in cls.__mro__}
    for (cls_name, name), reason in table.items():
        if cls_name in names and name in ("*", test):
            return reason
    return None


def deviation(cls: type, test: str) -> str | None:
    """Why ``cls.test`` is expected to fail, or None."""
    return _match(DEVIATIONS, cls, test)


def left_out(cls: type, test: str) -> str | None:
    """Why ``cls.test`` is left out, or None. A scenario's class matches its base's name."""
    return _match(LEFT_OUT, cls, test)


def _tests_dir() -> str:
    spec = importlib.util.find_spec("futurist")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("futurist is not installed (the test extra installs it)")
    (directory,) = spec.submodule_search_locations
    tests = os.path.join(directory, "tests")
    if not all(os.path.isfile(os.path.join(tests, f"{m}.py")) for m in MODULES):
        raise ImportError(f"the installed futurist ships no {MODULES} in {tests}")
    return tests


def _no_private_attribute(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a stand-in for a futurist private attribute was called")


#: (owner, name): futurist private attributes a test module reads *while it is
#: imported* (in a decorator of a class that LEFT_OUT leaves out), which would
#: keep the whole module from importing. While it is executed, each is a
#: stand-in that fails if called; it is removed afterwards, so the left-out
#: test would fail if it ran.
IMPORT_TIME_STANDINS = (("DynamicThreadPoolExecutor", "_add_thread"),)


def _execute(name: str, path: str) -> types.ModuleType:
    import futurist.tests.base  # noqa: F401 (futurist's own, kept)

    aliases: dict[str, Any] = {"futurist": greenpool}
    for sub in SUBMODULES:
        try:
            aliases[f"futurist.{sub}"] = importlib.import_module(f"greenpool.{sub}")
        except ImportError:
            aliases[f"futurist.{sub}"] = None  # `from futurist import x` raises ImportError
    saved = {key: sys.modules.get(key) for key in aliases}
    full_name = f"futurist.tests.{name}"
    spec = importlib.util.spec_from_file_location(full_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.update(aliases)
    standins = []
    for owner_name, attribute in IMPORT_TIME_STANDINS:
        owner = getattr(greenpool, owner_name, None)
        if owner is not None and not hasattr(owner, attribute):
            setattr(owner, attribute, _no_private_attribute)
            standins.append((owner, attribute))
    try:
        spec.loader.exec_module(module)
    finally:
        for owner, attribute in standins:
            delattr(owner, attribute)
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    # Under its real name, so that process pools' workers unpickle its
    # module-level functions (they import futurist's own copy, which holds
    # the same functions).
    sys.modules[full_name] = module
    assert module.futurist is greenpool, "the alias did not take"
    return module


def _split_scenarios(cls: type[unittest.TestCase]) -> list[type[unittest.TestCase]]:
    """One class per scenario, holding the scenario's attributes as testscenarios would.

    testscenarios sets them on each test instance; as class attributes,
    plain functions are wrapped in ``staticmethod`` so that they stay unbound.
    """
    scenarios = getattr(cls, "scenarios", None)
    if not scenarios:
        return [cls]
    classes = []
    for name, attrs in scenarios:
        namespace = {
            key: staticmethod(value) if isinstance(value, types.FunctionType) else value
            for key, value in attrs.items()
        }
        classes.append(type(f"{cls.__name__}_{name}", (cls,), {**namespace, "scenarios": None}))
    return classes


def load() -> tuple[list[type[unittest.TestCase]], dict[str, BaseException]]:
    """futurist's test classes run against greenpool; modules that could not be imported."""
    # multiprocessing keeps its sockets (the forkserver's) in a directory made
    # on first use under the temp dir of that moment. Made inside a test, it
    # would be under oslotest's per-test temp dir, which is deleted after the
    # test, and later process-pool tests would find no forkserver socket.
    import multiprocessing.util

    multiprocessing.util.get_temp_dir()
    tests = _tests_dir()
    classes: list[type[unittest.TestCase]] = []
    broken: dict[str, BaseException] = {}
    for name in MODULES:
        try:
            module = _execute(name, os.path.join(tests, f"{name}.py"))
        except Exception as exc:  # Reported as a failing test, not a collection error.
            broken[name] = exc
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, unittest.TestCase)
                and value.__module__ == module.__name__
            ):
                classes.extend(_split_scenarios(value))
    return classes, broken
