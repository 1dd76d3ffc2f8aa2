"""Frames between a monkey-patched executor and its helper process: a length, then a pickle.

Both ends use the unpatched ``os`` functions on plain pipes, from real OS
threads (see :mod:`greenpool._native`): eventlet's green ``os.read`` in a
thread without a hub would start one there. A message is a tuple whose
first item says what it is (see :mod:`greenpool.dask._bridge`).
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from typing import Any

from greenpool._native import original

_os = original("os")
_SIZE = struct.Struct("<I")
_READ_SIZE = 1 << 16


def encode(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return _SIZE.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to the blocking pipe ``fd``."""
    view = memoryview(data)
    while view:
        written = _os.write(fd, view)
        view = view[written:]


def read_messages(fd: int) -> Iterator[tuple[Any, ...]]:
    """Every message the pipe ``fd`` carries, until its writer closes it."""
    buffer = bytearray()
    header = _SIZE.size
    while True:
        data = _os.read(fd, _READ_SIZE)
        if not data:
            return
        buffer += data
        position = 0
        while len(buffer) - position >= header:
            (size,) = _SIZE.unpack_from(buffer, position)
            end = position + header + size
            if end > len(buffer):
                break
            yield pickle.loads(buffer[position + header : end])
            position = end
        del buffer[:position]
