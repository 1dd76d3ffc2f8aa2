"""The ``@periodic`` decorator: what marks a callable as periodic, and how that is checked.

A periodic callable is one that carries futurist's three attributes,
``_is_periodic``, ``_periodic_spacing`` and ``_periodic_run_immediately``:
the same names, so callables decorated by futurist's decorator and by this
one are interchangeable. Bad input is refused where it is given, with
futurist's exception types: ``TypeError`` for a spacing that is not a
number, ``ValueError`` for one that is not positive (NaN included, which
futurist lets through because it compares false with everything).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: The attributes ``@periodic`` sets, under futurist's names.
REQUIRED_ATTRS = ("_is_periodic", "_periodic_spacing", "_periodic_run_immediately")


class NeverAgain(Exception):
    """Raise from a periodic callable to have it never run again.

    The run that raises it counts as a success; the callable's watcher then
    reports ``requested_stop``.
    """


def check_spacing(spacing: object, enabled: bool = True) -> float:
    """``spacing`` as a float: ``TypeError`` if not a real number, ``ValueError`` if
    not positive while ``enabled`` (a disabled callable never runs, so futurist
    accepts any number for it)."""
    if isinstance(spacing, bool) or not isinstance(spacing, numbers.Real):
        raise TypeError(f"Periodicity/spacing must be a number of seconds, got {spacing!r}")
    seconds = float(spacing)
    if enabled and not seconds > 0.0:  # NaN fails this too.
        raise ValueError(f"Periodicity/spacing must be greater than zero instead of {spacing}")
    return seconds


def missing_attrs(obj: object) -> list[str]:
    """The periodic attributes ``obj`` lacks."""
    return [name for name in REQUIRED_ATTRS if not hasattr(obj, name)]


def is_periodic(obj: object) -> bool:
    """Whether ``obj`` is callable and was decorated with :func:`periodic` (enabled or not)."""
    return callable(obj) and not missing_attrs(obj)


def periodic(
    spacing: float, run_immediately: bool = False, enabled: bool = True
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Mark a function or method to be run every ``spacing`` seconds by a ``PeriodicWorker``.

    ``run_immediately`` runs it as soon as the worker starts (or as soon as it
    is added) rather than ``spacing`` seconds later; a callable with
    ``enabled=False`` is skipped by the worker. The decorated callable itself
    behaves as before when called directly.
    """
    check_spacing(spacing, enabled)

    def wrapper(f: Callable[_P, _R]) -> Callable[_P, _R]:
        if not callable(f):
            raise TypeError(f"@periodic needs a callable, got {f!r}")

        @functools.wraps(f)
        def decorator(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            return f(*args, **kwargs)

        # Set on the wrapper only (functools.wraps copied f's own attributes):
        # decorating one function twice gives two periodics, each with its own spacing.
        marked: Any = decorator
        marked._is_periodic = enabled
        marked._periodic_spacing = spacing
        marked._periodic_run_immediately = run_immediately
        return decorator

    return wrapper


def callback_name(cb: object) -> str:
    """A callable's dotted name (``module.Class.method``), or its ``repr``."""
    name = getattr(cb, "__qualname__", None) or getattr(cb, "__name__", None)
    if not isinstance(name, str):
        return repr(cb)
    module = getattr(cb, "__module__", None)
    return f"{module}.{name}" if isinstance(module, str) and module else name


def checked_periodic(cb: object) -> tuple[bool, float, bool]:
    """``(enabled, spacing, run_immediately)`` of a periodic callable, or ``ValueError``
    (futurist's type) if ``cb`` is not callable, not periodic, or has a bad spacing."""
    if not callable(cb):
        raise ValueError(f"Periodic callback {cb!r} must be callable")
    missing = missing_attrs(cb)
    if missing:
        raise ValueError(f"Periodic callback {cb!r} missing required attributes {missing}")
    marked: Any = cb
    enabled = bool(marked._is_periodic)
    try:
        spacing = check_spacing(marked._periodic_spacing, enabled)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Periodic callback {cb!r}: {exc}") from None
    return enabled, spacing, bool(marked._periodic_run_immediately)
