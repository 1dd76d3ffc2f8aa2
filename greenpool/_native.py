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
import os
import sys
import types
from collections.abc import Callable
from typing import Any


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


class _ThreadExitHooks(list[Callable[[], object]]):
    """The callables to run when one OS thread ends; kept in that thread's real local storage.

    CPython frees an OS thread's locals as the thread ends, in that thread,
    so the last reference to this list goes then and :meth:`__del__` runs
    the hooks. Nothing in eventlet or greenlet tells that a hub's thread has
    gone; this does, without polling and whatever has been monkey patched.
    """

    def __del__(self, _is_finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        # Not at interpreter finalization, when the main thread's locals go:
        # the process is ending anyway, and daemon threads frozen there may
        # hold locks that a hook would wait for, for ever. (A default
        # argument: module globals may already be None by then.)
        if _is_finalizing():
            return
        for hook in self:
            try:
                hook()
            except BaseException:  # pragma: no cover - a hook must not fail the exit
                pass


# The real thread-local type: eventlet's patched one is per greenlet, not per thread.
_thread_exit: Any = _thread_module._local()


def on_thread_exit(hook: Callable[[], object]) -> None:
    """Run ``hook()`` when the calling OS thread ends (never for the main thread)."""
    hooks = getattr(_thread_exit, "hooks", None)
    if hooks is None:
        hooks = _thread_exit.hooks = _ThreadExitHooks()
    hooks.append(hook)


def usable_cpu_count() -> int:
    """The CPUs this process may run on (``os.process_cpu_count``, new in 3.13; else
    ``os.cpu_count``), at least 1: the default size of the thread and process pools."""
    count: Callable[[], int | None] = getattr(os, "process_cpu_count", os.cpu_count)
    return count() or 1
