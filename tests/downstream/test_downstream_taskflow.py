"""taskflow's engines with ``futurist`` replaced by greenpool, in a fresh interpreter.

Each case runs taskflow_flow.py twice, with the alias and with real futurist
as the control, and expects the same outcome. taskflow comes with the
``downstream`` extra (in ``dev``).
"""

from __future__ import annotations

import importlib.util

import pytest

# The scripts import it in their own interpreters. Missing here is an error,
# not a skip: it comes with the `downstream` extra, which `dev` includes.
if importlib.util.find_spec("taskflow") is None:
    raise ImportError("taskflow is missing: pip install -e '.[dev]' (or '.[downstream]')")

from _downstream import TARGETS, run

# Which of (main greenlet, main OS thread) the tasks ran on, per mode.
RAN_ON = {
    "serial": [[True, True]],
    "greenthreaded": [[False, True]],  # Green threads of the main thread's hub.
    "green-instance": [[False, True]],
    "threaded": [[False, False]],  # Native worker threads.
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("mode", list(RAN_ON))
def test_taskflow_engine(target: str, mode: str) -> None:
    found = run("taskflow_flow.py", target, mode)
    assert found["total"] == 2 * (1 + 2 + 3)
    assert found["ran_on"] == RAN_ON[mode]
    assert found["error"] == "boom"
    assert found["reverted"] == ["records"]
    assert found["real_futurist_imported"] is (target == "futurist")
    if mode == "green-instance":
        assert found["executor_module"].split(".")[0] == target
        # Four tasks in the first flow; in the second, two executions (the
        # failure is captured by taskflow, not raised) and both tasks reverted.
        assert found["executed"] == 8
