"""The loop each worker process of :class:`~greenpool.process.ProcessPoolExecutor` runs.

Also the wire format both ends speak, so that it is defined in one place.
A worker owns two pipes, both carrying frames of a fixed header and a body:

* **calls** (parent -> worker): ``CALL_HEADER`` (body size, call id, flags)
  and the body ``pickle.dumps((fn, args, kwargs))``, pickled once by the
  parent. The parent writes several frames at once when it has a backlog.
* **results** (worker -> parent): ``RESULT_HEADER`` (body size, call id,
  kind, seconds) and the pickled result or an encoded error. ``seconds`` is
  the run time of the call, measured here around ``fn(*args, **kwargs)``.

A worker runs its calls in the order they arrive and writes each result as
soon as its call returns, header and body in one ``writev``. Batching results
in the worker was measured and bought nothing: the parent reads up to
``READ_SIZE`` bytes per system call, so when it is busy one read collects
many results anyway, and a result written at once can never wait behind a
longer call that follows it.

**Progress slots.** The calls pipe of a worker may hold several calls, so
when a worker dies the parent cannot tell from the pipes alone whether it
died running a call, between two calls, or before starting at all. Each
worker therefore has two integers in shared memory that it sets without a
system call: the id of the last call it *started* and of the last call it
*finished* (``NOT_READY`` until its initializer has run). Call ids on one
worker only increase, so after a death the parent knows exactly which call
was running (it fails), which ran but lost its result (it fails too, with a
message that says so) and which were never started (they go to another
worker).

This module imports only :mod:`greenpool._native` from greenpool, and uses
the unpatched ``os`` functions even when the worker process has been monkey patched by
eventlet (spawn and forkserver workers import the parent's ``__main__``,
which often patches).
"""

from __future__ import annotations

import logging
import pickle
import signal
import struct
import time
from collections.abc import Callable, Iterable, MutableSequence
from concurrent.futures.process import _RemoteTraceback
from traceback import format_exception
from typing import Any

from greenpool._native import original

# The process pool's manager is a real OS thread and its workers block on
# pipes on purpose: neither may go through eventlet's green ``os.read``,
# which would start a hub in a thread that has none.
_os = original("os")
read: Callable[[int, int], bytes] = _os.read
write: Callable[[int, Any], int] = _os.write
writev: Callable[[int, list[bytes]], int] = _os.writev

#: parent -> worker: body size, call id, flags.
CALL_HEADER = struct.Struct("<QqB")
#: worker -> parent: body size, call id, kind, seconds.
RESULT_HEADER = struct.Struct("<QqBd")

#: Call flag: tell the parent when this call starts (its timeout counts from then).
NOTIFY_START = 1
#: Call flag (a frame with no body): no more calls, exit.
STOP = 2

#: Result kinds.
RESULT = 0
ERROR = 1
STARTED = 2
INITIALIZER_FAILED = 3

#: The progress value of a worker whose initializer has not finished.
NOT_READY = -1

#: The most either end reads at once: a pipe's default capacity on Linux.
READ_SIZE = 1 << 16

_ERROR_TEXT_SIZE = struct.Struct("<Q")
_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL

# The stdlib's pool logs a failing initializer here, in the worker; so does this one.
_LOGGER = logging.getLogger("concurrent.futures")


def encode_error(exc: BaseException) -> bytes:
    """The exception and its formatted traceback, decodable even if the exception is not."""
    text = "".join(format_exception(type(exc), exc, exc.__traceback__)).encode()
    exc.__traceback__ = None  # Its frames may hold large objects; they are not needed now.
    try:
        pickled = pickle.dumps(exc, _PICKLE_PROTOCOL)
    except BaseException as pickling_error:
        # As the stdlib does: the pickling error replaces the exception, and its
        # traceback text (which chains the original one) is what the parent sees.
        text = "".join(
            format_exception(type(pickling_error), pickling_error, pickling_error.__traceback__)
        ).encode()
        pickling_error.__traceback__ = None
        pickled = pickle.dumps(pickling_error, _PICKLE_PROTOCOL)
    return _ERROR_TEXT_SIZE.pack(len(text)) + text + pickled


def decode_error(body: bytes | bytearray) -> BaseException:
    """Rebuild an exception with the remote traceback as its ``__cause__`` (as the stdlib)."""
    (size,) = _ERROR_TEXT_SIZE.unpack_from(body)
    start = _ERROR_TEXT_SIZE.size
    text = bytes(body[start : start + size]).decode(errors="replace")
    exc: BaseException
    try:
        exc = pickle.loads(body[start + size :])
    except BaseException as unpickling_error:
        exc = unpickling_error  # Such as an exception class whose __init__ needs more args.
    # typeshed types the argument as a traceback; the stdlib passes this text.
    exc.__cause__ = _RemoteTraceback(f'\n"""\n{text}"""')  # type: ignore[arg-type]
    return exc


def run_chunk(fn: Callable[..., Any], chunk: Iterable[tuple[Any, ...]]) -> tuple[list[Any], float]:
    """Run ``fn`` over one chunk of a ``map`` and say how long that took."""
    start = time.perf_counter()
    results = [fn(*args) for args in chunk]
    return results, time.perf_counter() - start


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Write ``parts`` with as few system calls as the pipe allows (one, normally)."""
    written = writev(fd, parts)
    total = sum(len(part) for part in parts)
    if written < total:  # Interrupted by a signal, or more than the pipe could take.
        rest = memoryview(b"".join(parts))[written:]
        while rest:
            rest = rest[write(fd, rest) :]


def _call(body: bytes | bytearray) -> tuple[int, float, bytes]:
    """Run one pickled call: its result kind, its run time and the result's body."""
    start = time.perf_counter()
    try:
        fn, args, kwargs = pickle.loads(body)
        del body
        start = time.perf_counter()
        result = fn(*args, **kwargs)
    except BaseException as exc:
        return ERROR, time.perf_counter() - start, encode_error(exc)
    seconds = time.perf_counter() - start
    del fn, args, kwargs  # Let go of the arguments before pickling the result.
    try:
        return RESULT, seconds, pickle.dumps(result, _PICKLE_PROTOCOL)
    except BaseException as exc:
        return ERROR, seconds, encode_error(exc)


def run(
    calls: Any,
    results: Any,
    progress: MutableSequence[int],
    slot: int,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
    max_tasks: int | None,
) -> None:
    """The worker process: run calls from ``calls``, write outcomes to ``results``.

    Exits when told to stop, when the parent goes away (end of file on
    ``calls``) or after ``max_tasks`` calls. ``calls`` and ``results`` are
    the worker's ends of its two pipes, ``progress[2 * slot]`` and
    ``progress[2 * slot + 1]`` its progress slots.

    An initializer that raises is logged here as the stdlib's worker logs it
    (``CRITICAL`` on the ``concurrent.futures`` logger, with the traceback),
    then sent to the parent, which breaks the pool; the worker then exits.
    """
    # Ctrl-C in a terminal reaches the whole process group; what happens to
    # the calls is the parent's decision, not each worker's.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    calls_fd = calls.fileno()
    results_fd = results.fileno()
    started_index = 2 * slot
    finished_index = started_index + 1
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:
            # Logged before the parent hears of it and fails the calls.
            _LOGGER.critical("Exception in initializer:", exc_info=True)
            body = encode_error(exc)
            _write_all(
                results_fd, [RESULT_HEADER.pack(len(body), 0, INITIALIZER_FAILED, 0.0), body]
            )
            return
    progress[started_index] = progress[finished_index] = 0

    unpack_call = CALL_HEADER.unpack_from
    pack_result = RESULT_HEADER.pack
    header_size = CALL_HEADER.size
    received = bytearray()
    calls_left = max_tasks
    while True:
        if len(received) >= header_size:
            size, call_id, flags = unpack_call(received)
            end = header_size + size
        else:
            end = header_size
        if len(received) < end:
            data = read(calls_fd, max(READ_SIZE, end - len(received)))
            if not data:
                return  # The parent has gone.
            received += data
            continue
        frame = received[header_size:end]
        del received[:end]
        if flags & STOP:
            return
        progress[started_index] = call_id
        if flags & NOTIFY_START:
            _write_all(results_fd, [pack_result(0, call_id, STARTED, 0.0)])
        kind, seconds, body = _call(frame)
        del frame
        progress[finished_index] = call_id
        _write_all(results_fd, [pack_result(len(body), call_id, kind, seconds), body])
        del body
        if calls_left is not None:
            calls_left -= 1
            if calls_left <= 0:
                return
