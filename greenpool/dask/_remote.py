"""What runs on a dask worker for each call: start and end reported as events, time measured there.

:func:`run_call` is the function every :class:`~greenpool.DaskExecutor`
call is submitted as. It tells the executor, through a topic of dask's
event broker (``Worker.log_event``), that the call has started (with the
worker's wall clock, for the wait time) and how it ended (the run time
measured here, around the call alone, and the outcome). The outcome
travels with the end event when it pickles small
(:data:`INLINE_LIMIT`): the scheduler relays events to the client at once,
which saves the round trip to the worker that fetching a task's result
costs (measured: about half a call again, see the README). A larger
outcome stays on the worker as the task's result, and the end event only
says it is ready.

An exception keeps its traceback text across, as with the process pool
(:func:`greenpool.process._wire.encode_error`): it comes back with the
worker's traceback as its ``__cause__``.

The worker needs greenpool importable, as it needs the caller's functions.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

#: Outcomes that pickle to at most this many bytes travel with the end event.
#: The scheduler keeps the last 1,000 events of each topic
#: (``distributed.admin.low-level-log-length``): at most 16 MiB an executor.
INLINE_LIMIT = 16 * 1024

#: Event kinds, the first field of every event an executor's topic carries.
STARTED = 0  # (STARTED, key, wall-clock start)
ENDED = 1  # (ENDED, key, run time, outcome): the outcome pickled, in the event
READY = 2  # (READY, key, run time, None): the outcome is the task's result

#: An outcome's first field.
RETURNED = 0
RAISED = 1


def run_call(
    topic: str, key: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> bytes | None:
    """Run ``fn(*args, **kwargs)`` on this worker and report its start and end on ``topic``."""
    from distributed import get_worker

    worker = get_worker()
    worker.log_event(topic, (STARTED, key, time.time()))
    start = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        runtime = time.perf_counter() - start
        outcome = _raised(exc)
        del exc
    else:
        runtime = time.perf_counter() - start
        del fn, args, kwargs
        try:
            outcome = pickle.dumps((RETURNED, result), pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # A result that cannot be pickled fails the call.
            outcome = _raised(exc)
            del exc
    if len(outcome) <= INLINE_LIMIT:
        worker.log_event(topic, (ENDED, key, runtime, outcome))
        return None
    worker.log_event(topic, (READY, key, runtime, None))
    return outcome


def run_pickled_call(topic: str, key: str, call: bytes) -> bytes | None:
    """:func:`run_call` of ``(fn, args, kwargs)`` pickled by the executor's process (a
    monkey-patched one, through its helper: see :mod:`greenpool.dask._bridge`)."""
    try:
        fn, args, kwargs = pickle.loads(call)
    except BaseException as exc:  # Such as a module this worker cannot import.
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(topic, (STARTED, key, time.time()))
        worker.log_event(topic, (ENDED, key, 0.0, _raised(exc)))
        return None
    return run_call(topic, key, fn, args, kwargs)


def _raised(exc: BaseException) -> bytes:
    from greenpool.process._wire import encode_error

    return pickle.dumps((RAISED, encode_error(exc)), pickle.HIGHEST_PROTOCOL)


def decode_outcome(outcome: bytes) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, exception)`` from :func:`run_call`'s outcome."""
    kind, value = pickle.loads(outcome)
    if kind == RAISED:
        from greenpool.process._wire import decode_error

        return False, decode_error(value)
    return True, value
