"""The loop each worker process runs: read calls, start each unless withdrawn, answer.

A worker runs its calls in the order they arrive. Before each it takes its
half of the cancellation handshake (:func:`greenpool.process._channel.begin`):
a call the parent withdrew meanwhile is answered ``SKIPPED`` and not run.
Otherwise it answers ``STARTED`` with the time, *before* running the call,
so that the parent counts the call running, and measures its wait, from
the real start; then it runs the call and answers with its outcome and run
time, measured here around ``fn(*args, **kwargs)``.

Answers are written before the worker could block (a call to run, a read
from an empty pipe, exit), and no sooner: under a backlog one call's
outcome and the next call's start go out as one frame, in one ``writev``,
so a prefetched call costs one frame and one system call each way, as it
did before starts were reported. An outcome never waits behind a longer
call.

Imports no greenpool module beyond the wire's (see :mod:`~greenpool.process._wire`).
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import time
from collections.abc import Callable
from typing import Any

from greenpool.process import _wire
from greenpool.process._channel import FINISHED, STARTED, WorkerEnd, begin
from greenpool.process._wire import Answer

# The stdlib's pool logs a failing initializer here, in the worker; so does this one.
_LOGGER = logging.getLogger("concurrent.futures")

#: How long one wait for the board's lock lasts before checking that the parent lives.
_LOCK_STEP = 1.0


def _call(body: bytes | bytearray) -> tuple[int, float, bytes]:
    """Run one pickled call: its answer (``RESULT`` or ``ERROR``), run time and body."""
    start = time.perf_counter()
    try:
        fn, args, kwargs = pickle.loads(body)
        del body
        start = time.perf_counter()
        result = fn(*args, **kwargs)
    except BaseException as exc:
        return Answer.ERROR, time.perf_counter() - start, _wire.encode_error(exc)
    seconds = time.perf_counter() - start
    del fn, args, kwargs  # Let go of the arguments before pickling the result.
    try:
        return Answer.RESULT, seconds, pickle.dumps(result, _wire.PICKLE_PROTOCOL)
    except BaseException as exc:
        return Answer.ERROR, seconds, _wire.encode_error(exc)


def _lock_functions(lock: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    """Acquire and release for the board's lock: a parent killed while holding it must
    not leave this worker waiting for ever."""
    parent = os.getppid()
    acquire = lock.acquire

    def acquire_or_exit() -> None:
        while not acquire(True, _LOCK_STEP):
            if os.getppid() != parent:
                os._exit(0)  # Orphaned: nobody will ever read an answer.

    return acquire_or_exit, lock.release


def run(
    end: WorkerEnd,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
    max_tasks: int | None,
) -> None:
    """The worker process: run calls from ``end.calls``, answer on ``end.answers``.

    Exits when told to stop, when the parent goes away (end of file on its
    calls) or after ``max_tasks`` calls (a skipped call counts: the parent
    counts calls as it hands them out). An initializer that raises is
    logged here as the stdlib's worker logs it (``CRITICAL`` on the
    ``concurrent.futures`` logger, with the traceback), then sent to the
    parent, which breaks the pool; the worker then exits.
    """
    # Ctrl-C in a terminal reaches the whole process group; what happens to
    # the calls is the parent's decision, not each worker's.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    calls_fd = end.calls.fileno()
    answers_fd = end.answers.fileno()
    board = end.board
    pack = _wire.ANSWER_HEADER.pack
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:
            # Logged before the parent hears of it and fails the calls.
            _LOGGER.critical("Exception in initializer:", exc_info=True)
            body = _wire.encode_error(exc)
            _wire.write_all(
                answers_fd, [pack(len(body), 0, Answer.INITIALIZER_FAILED, 0.0, 0.0), body]
            )
            return
    board[STARTED] = board[FINISHED] = 0
    acquire, release = _lock_functions(end.lock)
    write_all = _wire.write_all
    unpack_call = _wire.CALL_HEADER.unpack_from
    header_size = _wire.CALL_HEADER.size
    started, skipped = Answer.STARTED, Answer.SKIPPED
    monotonic = time.monotonic
    received = bytearray()
    answers: list[bytes] = []  # Framed, not written yet.
    # The last call's outcome, not framed yet: framed with the next call's
    # start if that comes before this worker would wait (one frame for both).
    outcome: tuple[int, int, float, bytes] | None = None
    calls_left = max_tasks
    try:
        while calls_left is None or calls_left > 0:
            if len(received) >= header_size:
                size, number, flags = unpack_call(received)
                end_of_frame = header_size + size
            else:
                end_of_frame = header_size
            if len(received) < end_of_frame:
                if outcome is not None:
                    answers += _framed(outcome, 0.0)
                    outcome = None
                if answers:
                    write_all(answers_fd, answers)
                    answers.clear()
                data = _wire.read(calls_fd, max(_wire.READ_SIZE, end_of_frame - len(received)))
                if not data:
                    return  # The parent has gone.
                received += data
                continue
            frame = received[header_size:end_of_frame]
            del received[:end_of_frame]
            if flags & _wire.STOP:
                return
            if calls_left is not None:
                calls_left -= 1
            at = monotonic()
            if not begin(end, number, at, acquire, release):
                if outcome is not None:
                    answers += _framed(outcome, 0.0)
                    outcome = None
                answers.append(pack(0, number, skipped, 0.0, 0.0))
                continue
            if outcome is not None:
                answers += _framed(outcome, at)  # Its outcome, and that this one started.
                outcome = None
            else:
                answers.append(pack(0, number, started, at, 0.0))
            write_all(answers_fd, answers)
            answers.clear()
            kind, seconds, body = _call(frame)
            del frame
            board[FINISHED] = number
            outcome = (number, kind, seconds, body)
            del body
    finally:
        if outcome is not None:
            answers += _framed(outcome, 0.0)
        if answers:
            write_all(answers_fd, answers)


def _framed(outcome: tuple[int, int, float, bytes], next_started_at: float) -> tuple[bytes, bytes]:
    number, kind, seconds, body = outcome
    return _wire.ANSWER_HEADER.pack(len(body), number, kind, seconds, next_started_at), body
