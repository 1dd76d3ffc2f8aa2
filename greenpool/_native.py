"""The real, unpatched threading primitives, whatever eventlet has done.

``eventlet.monkey_patch()`` replaces ``_thread`` and ``threading`` with green
versions. greenpool must keep using the real ones in a few places: a native
thread that waits on a future must block on a real lock (a green lock would
try to switch to a hub that thread does not run), and the thread pool must
start real OS threads even after monkey patching.

If greenpool is imported before monkey patching, the functions captured here
at import are the originals and stay so. If it is imported after, eventlet
has already been imported, and :func:`eventlet.patcher.original` hands back
the pure modules. Either way this module never imports eventlet itself.
"""

from __future__ import annotations

import _thread
import sys
import types
from collections.abc import Callable


def _thread_is_monkey_patched() -> bool:
    patcher = sys.modules.get("eventlet.patcher")
    return patcher is not None and bool(patcher.is_monkey_patched("thread"))


def _original(modname: str) -> types.ModuleType:
    if _thread_is_monkey_patched():
        patcher = sys.modules["eventlet.patcher"]
        module: types.ModuleType = patcher.original(modname)
        return module
    return __import__(modname)


_thread_module = _original("_thread")

#: A real OS lock, whatever monkey patching has done to ``_thread``.
allocate_lock: Callable[[], _thread.LockType] = _thread_module.allocate_lock
#: The real OS thread id (a patched ``get_ident`` returns a greenlet's id).
get_ident: Callable[[], int] = _thread_module.get_ident


def threading_module() -> types.ModuleType:
    """The real ``threading`` module, looked up now rather than at import.

    Looked up at call time because ``threading.Thread.start`` reads module
    globals that monkey patching replaces: a ``Thread`` class captured before
    patching would still start green threads afterwards.
    """
    return _original("threading")
