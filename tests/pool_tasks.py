"""What tests/test_pool_conformance.py sends to pool workers: module-level, so it pickles.

Worker processes (``multiprocessing.Pool``'s and greenpool's, started by
``forkserver``) import this module by name (``pool_tasks``): pytest puts
``tests/`` on ``sys.path``, and the workers inherit it. Nothing here may
import eventlet: the same functions run in worker processes, in worker
threads and in green threads, and :func:`nap` sleeps the right way in each.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any


def square(x: int) -> int:
    return x * x


def add(a: int, b: int) -> int:
    return a + b


def power(x: int, exponent: int = 2, *, offset: int = 0) -> int:
    return x**exponent + offset


def identity(value: Any) -> Any:
    return value


def no_arguments() -> str:
    return "nothing"


class TaskError(Exception):
    """What the failing tasks raise: a class of our own, so a match is never by accident."""


def fail_on(x: int, bad: int = 3) -> int:
    """``x``, except for ``bad``: that raises :class:`TaskError`."""
    if x == bad:
        raise TaskError(f"bad item {x}")
    return x


def raise_task_error(message: str) -> None:
    raise TaskError(message)


class NeedsTwoArguments(Exception):
    """Pickles, but does not unpickle: its ``args`` hold one message, its ``__init__`` needs two."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def raise_needs_two_arguments() -> None:
    raise NeedsTwoArguments("one", "two")


class HoldsALock(Exception):
    """Does not pickle at all."""

    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def raise_holds_a_lock() -> None:
    raise HoldsALock()


def nap(seconds: float, value: Any = None) -> Any:
    """Sleep ``seconds`` without blocking anyone else: green in a green thread (so that the
    hub, and the other green threads, run meanwhile), else ``time.sleep``; then ``value``."""
    if "greenlet" in sys.modules and "eventlet" in sys.modules:
        import greenlet

        if greenlet.getcurrent().parent is not None:  # A green thread, under a hub.
            import eventlet

            eventlet.sleep(seconds)
            return value
    time.sleep(seconds)
    return value


def nap_then_fail(seconds: float, message: str) -> None:
    nap(seconds)
    raise TaskError(message)


def make_lock() -> Any:
    """A result that cannot be pickled."""
    return threading.Lock()


def pid(_: Any = None) -> int:
    """The worker's process id (the argument, if any, is ignored)."""
    return os.getpid()


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


#: Set in each worker process by :func:`remember`, the initializer under test.
INITIALIZED: tuple[Any, ...] | None = None


def remember(*initargs: Any) -> None:
    global INITIALIZED
    INITIALIZED = (os.getpid(), *initargs)


def initialized(_: Any = None) -> tuple[int, tuple[Any, ...] | None]:
    """This worker's pid, and what :func:`remember` stored in it (``None``: it did not run)."""
    return os.getpid(), INITIALIZED


def touch_then_fail_first(directory: str, x: int) -> int:
    """Leave a file named ``x`` in ``directory`` (proof that item ``x`` ran); item 0 then
    fails after a moment, every other item returns ``x``."""
    with open(os.path.join(directory, str(x)), "w"):
        pass
    if x == 0:
        nap(0.2)
        raise TaskError("item 0 failed")
    return x


def exit_now(code: int = 3) -> None:
    """End the worker process at once, as a crash does."""
    os._exit(code)
