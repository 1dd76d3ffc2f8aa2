"""Shared by the downstream scripts (child side) and their tests (parent side).

A script runs in a fresh interpreter: it calls :func:`use` first, so that
``sys.modules['futurist']`` is greenpool before the downstream library is
imported (or leaves real futurist in place, for the control), does its work,
and hands what it saw to :func:`report`. The tests start scripts with
:func:`run` and assert on the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("greenpool", "futurist")
_MARK = "@@downstream-report "


def use(target: str) -> None:
    """Make ``import futurist`` mean ``target``; call before importing the library."""
    if target == "futurist":
        return
    if target != "greenpool":
        raise SystemExit(f"unknown target {target!r}")
    assert "futurist" not in sys.modules, "futurist was imported before the alias"
    import greenpool
    import greenpool.rejection
    import greenpool.waiters

    # The submodules too: otherwise ``import futurist.waiters`` would load
    # greenpool/waiters.py a second time, as a different module.
    sys.modules["futurist"] = greenpool
    sys.modules["futurist.rejection"] = greenpool.rejection
    sys.modules["futurist.waiters"] = greenpool.waiters


def report(result: dict[str, Any]) -> None:
    """Print the script's findings for :func:`run`, plus whether real futurist was loaded."""
    result["real_futurist_imported"] = "futurist._futures" in sys.modules
    print(_MARK + json.dumps(result), flush=True)


def run(script: str, *args: str, timeout: float = 50.0) -> dict[str, Any]:
    """Run ``script`` (a file beside this one) in a fresh interpreter; return its report."""
    process = subprocess.run(
        [sys.executable, os.path.join(HERE, script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE,
        stdin=subprocess.DEVNULL,
    )
    for line in process.stdout.splitlines():
        if line.startswith(_MARK):
            result: dict[str, Any] = json.loads(line[len(_MARK) :])
            return result
    raise AssertionError(
        f"{script} {' '.join(args)} exited {process.returncode} without a report\n"
        f"--- stdout\n{process.stdout[-3000:]}\n--- stderr\n{process.stderr[-6000:]}"
    )
