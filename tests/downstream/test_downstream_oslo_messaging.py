"""oslo.messaging's RPC server with ``futurist`` replaced by greenpool, in a fresh interpreter.

Each case runs oslo_messaging_rpc.py twice, with the alias and with real
futurist as the control, over the in-memory ``fake`` transport (no network).
oslo.messaging comes with the ``downstream`` extra (in ``dev``).
"""

from __future__ import annotations

import importlib.util

import pytest

# The scripts import it in their own interpreters. Missing here is an error,
# not a skip: it comes with the `downstream` extra, which `dev` includes.
if importlib.util.find_spec("oslo_messaging") is None:
    raise ImportError("oslo_messaging is missing: pip install -e '.[dev]' (or '.[downstream]')")

from _downstream import TARGETS, run

EXECUTORS = {
    "eventlet": "GreenThreadPoolExecutor",
    "threading": "ThreadPoolExecutor",
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_rpc_call_and_cast(target: str, executor: str) -> None:
    found = run("oslo_messaging_rpc.py", target, executor)
    assert found["call"] == 5
    assert found["calls"] == [0, 2, 4, 6, 8]
    assert found["error"] == "remote boom"
    assert found["cast_arrived"] is True
    assert found["cast_values"] == [7]
    module, _, name = found["executor"].rpartition(".")
    assert module.split(".")[0] == target
    assert name == EXECUTORS[executor]
    assert found["real_futurist_imported"] is (target == "futurist")
