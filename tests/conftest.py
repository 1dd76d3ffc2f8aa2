"""Shared test set-up: nothing here imports eventlet (see test_import.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, timeout: float = 60.0, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (for monkey patching, import checks, crashes)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture
def python() -> object:
    """The :func:`run_python` helper, as a fixture."""
    return run_python
