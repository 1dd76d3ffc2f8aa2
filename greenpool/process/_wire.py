"""The wire format: what the parent and a worker process say to each other, defined once.

A worker has two pipes, both carrying frames of a fixed header and a body:

* **calls** (parent -> worker): :data:`CALL_HEADER` (body size, call number,
  flags) and the body ``pickle.dumps((fn, args, kwargs))``, pickled once by
  the parent. Under a backlog the parent writes many frames at once.
* **answers** (worker -> parent): :data:`ANSWER_HEADER` (body size, call
  number, :class:`Answer`, seconds, next started) and a body: the pickled
  result, an encoded error, or nothing. Every call is answered, in order,
  that it started (``STARTED``, or the previous call's outcome with *next
  started* set: one frame for both under a backlog) and then how it ended
  (``RESULT`` or ``ERROR``), or that it was skipped (``SKIPPED``).

Call numbers count up from 1 on each worker; they index the worker's
shared-memory board (:mod:`greenpool.process._channel`).

This module and the worker's loop import nothing of greenpool but
:mod:`greenpool._native`, and use the unpatched ``os`` functions even when
the worker has been monkey patched by eventlet (spawn and forkserver
workers import the parent's ``__main__``, which often patches): the
manager is a real OS thread and the workers block on pipes on purpose, and
eventlet's green ``os.read`` would start a hub in a thread that has none.
"""

from __future__ import annotations

import enum
import pickle
import struct
from collections.abc import Callable
from concurrent.futures.process import _RemoteTraceback
from traceback import format_exception
from typing import Any

from greenpool._native import original

_os = original("os")
read: Callable[[int, int], bytes] = _os.read
write: Callable[[int, Any], int] = _os.write
writev: Callable[[int, list[bytes]], int] = _os.writev

#: parent -> worker: body size, call number, flags.
CALL_HEADER = struct.Struct("<QqB")
#: worker -> parent: body size, call number, answer, seconds, and when the call
#: after this one started (an outcome's; 0.0: not yet).
ANSWER_HEADER = struct.Struct("<QqBdd")

#: Call flag (a frame with no body): no more calls, exit.
STOP = 1


class Answer(enum.IntEnum):
    """What a worker's frame says about a call (or about the worker)."""

    #: The call returned; the body is its pickled result, ``seconds`` its run time.
    RESULT = 0
    #: The call raised; the body is :func:`encode_error`'s, ``seconds`` its run time.
    ERROR = 1
    #: The worker has started the call, at ``seconds`` on the shared monotonic clock.
    STARTED = 2
    #: The worker found the call withdrawn (cancelled, or taken back) and did not run it.
    SKIPPED = 3
    #: The worker's initializer raised (call number 0); the body is the error.
    INITIALIZER_FAILED = 4


#: The most either end reads at once: a pipe's default capacity on Linux.
READ_SIZE = 1 << 16

_ERROR_TEXT_SIZE = struct.Struct("<Q")
PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL


def encode_error(exc: BaseException) -> bytes:
    """The exception and its formatted traceback, decodable even if the exception is not."""
    text = "".join(format_exception(type(exc), exc, exc.__traceback__)).encode()
    exc.__traceback__ = None  # Its frames may hold large objects; they are not needed now.
    try:
        pickled = pickle.dumps(exc, PICKLE_PROTOCOL)
    except BaseException as pickling_error:
        # As the stdlib does: the pickling error replaces the exception, and its
        # traceback text (which chains the original one) is what the parent sees.
        text = "".join(
            format_exception(type(pickling_error), pickling_error, pickling_error.__traceback__)
        ).encode()
        pickling_error.__traceback__ = None
        pickled = pickle.dumps(pickling_error, PICKLE_PROTOCOL)
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


def write_all(fd: int, parts: list[bytes]) -> None:
    """Write ``parts`` to a blocking descriptor with as few system calls as it allows."""
    written = writev(fd, parts)
    if written < sum(map(len, parts)):  # Interrupted by a signal, or more than the pipe could take.
        rest = memoryview(b"".join(parts))[written:]
        while rest:
            rest = rest[write(fd, rest) :]
