"""Run a function beside the caller: as a green thread when the caller is one, else an OS thread.

Background work that greenpool starts for a caller (the reporter's loop,
``Pool.map_async``'s feeder) must not block the caller's hub, and must not
need one where there is none: a green thread of the caller's own hub when
it has one, a daemon OS thread (the real one, even under monkey patching)
otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from greenpool import _native, _parking


def start_beside(fn: Callable[[], object], name: str) -> None:
    """Start ``fn()`` beside the caller; ``name`` names the OS thread, if it is one."""
    if _parking.current_hub() is not None:
        import eventlet  # Already imported: the caller is a green thread.

        eventlet.spawn_n(fn)
    else:
        _native.threading_module().Thread(target=fn, name=name, daemon=True).start()
