"""Marks for the conformance suites: CPython's known greenpool deviations, futurist's left-outs.

Each entry of :data:`KNOWN_DEVIATIONS` marks the CPython tests it matches as
``xfail(strict=True)``: they fail today because of a deviation from the
stdlib described in ``reason`` (README.md has a reproduction of each), and
they will fail the run as XPASS once it is fixed, so that the mark is
removed. Nothing here skips a test.

futurist's tests listed in ``_futurist.LEFT_OUT`` (they patch or read
futurist's private modules or attributes) are deselected; those in
``_futurist.DEVIATIONS`` (a difference greenpool documents) are strict
xfails. README.md mirrors both lists, with the reasons given there.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from typing import NamedTuple

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_CPYTHON = os.path.join(_HERE, "test_cpython.py")
_FUTURIST = os.path.join(_HERE, "test_futurist.py")


class Deviation(NamedTuple):
    cls: str  # fnmatch pattern on the TestCase class name
    test: str  # the test method name
    reason: str
    condition: bool = True


KNOWN_DEVIATIONS = [
    *(
        Deviation(
            "ProcessPoolForkProcessPoolShutdownTest",
            test,
            "on Python 3.12, which refuses os.fork() once the interpreter is finalizing, "
            "greenpool.ProcessPoolExecutor with the fork start method fails a call submitted "
            "just before exit with BrokenProcessPool('could not start a worker process: "
            "RuntimeError(\"can't fork at interpreter shutdown\")') instead of running it: it "
            "starts workers from its manager thread, which gets to it only during the exit "
            "hook; the stdlib starts them in submit()",
            condition=sys.version_info[:2] == (3, 12),
        )
        for test in ("test_interpreter_shutdown", "test_hang_gh83386")
    ),
]

# Python 3.12+ warns when a process with threads forks; the fork-context
# tests do that on purpose, as CPython's own do.
_FORK_WARNING = (
    r"ignore:This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead"
    r":DeprecationWarning"
)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from . import cpython_tests

    try:
        origin = cpython_tests.find().origin
    except cpython_tests.MissingSource as exc:
        origin = f"MISSING: {exc}"
    return [f"CPython's concurrent.futures tests: {origin}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from ._futurist import DEVIATION_TIMEOUT, left_out
    from ._futurist import deviation as futurist_deviation

    deselected = []
    for item in items:
        path = str(item.path)
        cls = getattr(item, "cls", None)
        if path == _FUTURIST and cls is not None:
            if left_out(cls, item.name):
                deselected.append(item)
            elif reason := futurist_deviation(cls, item.name):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
                item.add_marker(pytest.mark.timeout(DEVIATION_TIMEOUT, method="signal"))
            continue
        if path != _CPYTHON:
            continue
        item.add_marker(pytest.mark.filterwarnings(_FORK_WARNING))
        if cls is None:
            continue
        for deviation in KNOWN_DEVIATIONS:
            if deviation.test == item.name and fnmatch.fnmatchcase(cls.__name__, deviation.cls):
                item.add_marker(
                    pytest.mark.xfail(deviation.condition, reason=deviation.reason, strict=True)
                )
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
