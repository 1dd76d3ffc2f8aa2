"""Marks for the vendored CPython tests: the known greenpool deviations, and warnings.

Each entry of :data:`KNOWN_DEVIATIONS` marks the tests it matches as
``xfail(strict=True)``: they fail today because of a deviation from the
stdlib described in ``reason`` (README.md has a reproduction of each), and
they will fail the run as XPASS once it is fixed, so that the mark is
removed. Nothing here skips a test.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from typing import NamedTuple

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not str(item.path).startswith(_HERE + os.sep):
            continue
        item.add_marker(pytest.mark.filterwarnings(_FORK_WARNING))
        cls = getattr(item, "cls", None)
        if cls is None:
            continue
        for deviation in KNOWN_DEVIATIONS:
            if deviation.test == item.name and fnmatch.fnmatchcase(cls.__name__, deviation.cls):
                item.add_marker(
                    pytest.mark.xfail(deviation.condition, reason=deviation.reason, strict=True)
                )
