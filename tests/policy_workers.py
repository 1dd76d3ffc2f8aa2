"""What the process pool's workers run in the policy tests: module-level, so they pickle.

No eventlet here: a worker process imports this module to unpickle its
calls, and should not import (and warn about) eventlet for it. The
semaphores come from the pool's initializer (:func:`init_worker`).
"""

from __future__ import annotations

import os
import time
from typing import Any

#: The longest any controlled call waits for its token: a failed test ends its calls.
LONG = 20.0

_tokens: Any = None
_downstream: Any = None


def init_worker(tokens: Any, downstream: Any) -> None:
    """The process pool's initializer: the semaphores this rig's calls use."""
    global _tokens, _downstream
    _tokens = tokens
    _downstream = downstream


def take_token() -> int:
    """Wait for a token from the test; the worker's pid."""
    if not _tokens.acquire(timeout=LONG):
        raise TimeoutError("no token came")
    return os.getpid()


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fail(message: str) -> None:
    raise ValueError(message)


def identity(value: Any) -> Any:
    return value


def use_downstream(seconds: float) -> None:
    """A call to a downstream of a few slots: wait for a slot, then take ``seconds``."""
    with _downstream:
        time.sleep(seconds)
