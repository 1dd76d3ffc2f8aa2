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
import importlib
import sys
import types
from collections.abc import Callable


def original(name: str, *, patched_as: str | None = None) -> types.ModuleType:
    """The module ``name`` as it was before ``eventlet.monkey_patch()``, if it was patched.

    ``patched_as`` is eventlet's name for the group ``name`` is patched in
    (``"thread"`` for ``_thread`` and ``threading``); it defaults to ``name``.
    """
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched(patched_as or name):
        module: types.ModuleType = patcher.original(name)
        return module
    return importlib.import_module(name)


_thread_module = original("_thread", patched_as="thread")

#: A real OS lock, whatever monkey patching has done to ``_thread``.
allocate_lock: Callable[[], _thread.LockType] = _thread_module.allocate_lock
#: A real reentrant OS lock, owned by the OS thread (not the greenlet) that holds it.
RLock: Callable[[], _thread.RLock] = _thread_module.RLock
#: The real OS thread id (a patched ``get_ident`` returns a greenlet's id).
get_ident: Callable[[], int] = _thread_module.get_ident


def threading_module() -> types.ModuleType:
    """The real ``threading`` module, looked up now rather than at import.

    Looked up at call time because ``threading.Thread.start`` reads module
    globals that monkey patching replaces: a ``Thread`` class captured before
    patching would still start green threads afterwards.
    """
    return original("threading", patched_as="thread")
