"""Run a small taskflow flow with ``futurist`` meaning greenpool (or real futurist).

Usage: ``python taskflow_flow.py TARGET MODE``, TARGET ``greenpool`` or ``futurist``, MODE one of:

* ``serial``: the serial engine (futurist.SynchronousExecutor, restart()).
* ``greenthreaded``: the parallel engine builds futurist.GreenThreadPoolExecutor.
* ``green-instance``: the parallel engine is handed our GreenThreadPoolExecutor(3).
* ``threaded``: the parallel engine builds futurist.ThreadPoolExecutor.

In every mode the engine waits with ``futurist.waiters.wait_for_any`` and
sets an attribute (``atom``) on each future. Prints a report for the test.
"""

from __future__ import annotations

import sys
import threading

import _downstream

target, mode = sys.argv[1], sys.argv[2]
_downstream.use(target)

import futurist  # noqa: E402  (after the alias, on purpose)
import greenlet  # noqa: E402
from taskflow import engines, task  # noqa: E402
from taskflow.patterns import linear_flow, unordered_flow  # noqa: E402

MAIN_GREENLET = greenlet.getcurrent()
MAIN_THREAD = threading.get_ident()
ran_on: set[tuple[bool, bool]] = set()
reverted: list[str] = []


class Double(task.Task):  # type: ignore[misc]
    def execute(self, x: int) -> int:
        ran_on.add((greenlet.getcurrent() is MAIN_GREENLET, threading.get_ident() == MAIN_THREAD))
        return 2 * x


class Total(task.Task):  # type: ignore[misc]
    def execute(self, a: int, b: int, c: int) -> int:
        return a + b + c


class Fails(task.Task):  # type: ignore[misc]
    def execute(self) -> None:
        raise ValueError("boom")


class RecordsRevert(task.Task):  # type: ignore[misc]
    def execute(self) -> str:
        return "ran"

    def revert(self, **kwargs: object) -> None:
        reverted.append(self.name)


def doubles_then_total() -> linear_flow.Flow:
    return linear_flow.Flow("compat").add(
        unordered_flow.Flow("doubles").add(
            Double("double-a", provides="a", rebind={"x": "x1"}),
            Double("double-b", provides="b", rebind={"x": "x2"}),
            Double("double-c", provides="c", rebind={"x": "x3"}),
        ),
        Total("total", provides="total"),
    )


options: dict[str, object] = {}
executor = None
if mode == "serial":
    options["engine"] = "serial"
elif mode == "green-instance":
    executor = futurist.GreenThreadPoolExecutor(3)
    options.update(engine="parallel", executor=executor)
elif mode in ("greenthreaded", "threaded"):
    options.update(engine="parallel", executor=mode, max_workers=3)
else:
    raise SystemExit(f"unknown mode {mode!r}")

found: dict[str, object] = {}
results = engines.run(doubles_then_total(), store={"x1": 1, "x2": 2, "x3": 3}, **options)
found["total"] = results["total"]
# Whether Double ran on the main greenlet, and on the main OS thread.
found["ran_on"] = sorted(ran_on)
failing = linear_flow.Flow("failing").add(RecordsRevert("records"), Fails("fails"))
try:
    engines.run(failing, **options)
except ValueError as exc:
    found["error"] = str(exc)
found["reverted"] = reverted
if executor is not None:
    executor.shutdown()
    found["executed"] = executor.statistics.executed
    found["executor_module"] = type(executor).__module__
_downstream.report(found)
