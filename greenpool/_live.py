"""Every live executor, held weakly: what ``greenpool.executors()`` lists.

For exporters and reporters that show every executor of a process without
being handed each one. The executor base adds each executor when it is
made; the registry holds it weakly, so listing never keeps an executor
alive, and one that is collected leaves the list by itself. Shut-down
executors stay listed while they live (their ``alive`` says so).
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

_order = itertools.count()
#: Executors by the order they were made in; a dict keeps that order.
_executors: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def add(executor: Any) -> None:
    """Register ``executor`` (the executor base calls this once, from its constructor)."""
    _executors[next(_order)] = executor


def executors() -> list[Any]:
    """The executors alive in this process, oldest first (a new list each call)."""
    return list(_executors.values())
