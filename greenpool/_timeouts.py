"""Every duration a caller hands greenpool is checked here, once, the same way.

A timeout reaches code that cannot take every float: a real lock's
``acquire`` refuses more than ``_thread.TIMEOUT_MAX`` (about 292 years) and
overflows on less when it adds the timeout to the clock, ``poll()`` takes a
32-bit count of milliseconds (about 24.9 days), and ``math.ceil`` of NaN or
infinity raises. Such a value, passed through unchecked, fails far from the
call that gave it, or, in a thread such as the process pool's manager, kills
that thread and the pool with it; and NaN compares false with everything,
so a check such as ``timeout <= 0`` lets it through. So:

* Each public call that takes a duration checks it here, at the call, and
  raises ``TypeError`` for what is not a real number (a ``bool`` included:
  ``result(True)`` is a mistake, not one second) and ``ValueError`` for NaN
  and for what the call cannot honour, before anything changes.
* Infinity is honoured where it has a meaning: a wait of ``inf`` waits for
  ever, as ``None`` does, and a call timeout of ``inf`` never interrupts.
* Whatever waits on the operating system's behalf waits at most
  :data:`LONGEST_OS_WAIT` in one go and loops until its deadline, so a
  timeout of years is as good as any other.
"""

from __future__ import annotations

import math
import numbers

#: The longest any real lock, ``poll()`` or OS-level sleep is asked to wait in
#: one go; longer waits are made of several. A day is far below every
#: platform's limit and far above any wait's step cost.
LONGEST_OS_WAIT = 86_400.0


def _seconds(value: object, name: str, expected: str) -> float:
    """``value`` as a float, or ``TypeError`` / ``ValueError`` (NaN) naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError(f"{name} must be a number of seconds, got NaN")
    return seconds


def wait_timeout(timeout: object, name: str = "timeout") -> float | None:
    """The seconds a wait (``result``, ``wait_for_any``, ``map``...) may take; None: for ever.

    As with the stdlib, a negative timeout does not block: it is 0. Infinity
    is None. NaN raises ``ValueError``, anything but a real number (or None)
    ``TypeError``.
    """
    if timeout is None:
        return None
    seconds = _seconds(timeout, name, "a number of seconds or None")
    if seconds == math.inf:
        return None
    return seconds if seconds > 0.0 else 0.0


def call_timeout(timeout: object, name: str = "timeout") -> float:
    """The seconds ``submit_with_timeout`` lets a call run; ``math.inf``: never interrupted.

    Must be greater than 0: ``ValueError`` otherwise, and for NaN;
    ``TypeError`` for anything but a real number.
    """
    seconds = _seconds(timeout, name, "a number of seconds")
    if seconds <= 0.0:
        raise ValueError(f"{name} must be a positive number of seconds, got {timeout!r}")
    return seconds


def os_wait(remaining: float) -> float:
    """How long to ask the OS to wait now, for a wait with ``remaining`` seconds left."""
    return remaining if remaining < LONGEST_OS_WAIT else LONGEST_OS_WAIT


def delay_seconds(delay: object, name: str = "delay") -> float:
    """The seconds ``submit_after`` waits before submitting a call; 0 submits at once.

    Negative, infinite or NaN: ``ValueError`` (a call due never is a call
    never made; say so by not making it). Anything but a real number:
    ``TypeError``.
    """
    seconds = _seconds(delay, name, "a number of seconds")
    if seconds < 0.0 or seconds == math.inf:
        raise ValueError(f"{name} must be a finite, non-negative number of seconds, got {delay!r}")
    return seconds


def span_seconds(value: object, name: str, *, allow_zero: bool = False) -> float:
    """A finite length of time above 0 (or at 0 with ``allow_zero``).

    For what has no meaning as "for ever": a policy's ``target``,
    ``interval`` or wait ``timeout``, the interval of ``rates()`` or of
    ``report_every``. Infinite, NaN, negative (or 0): ``ValueError``;
    anything but a real number: ``TypeError``.
    """
    seconds = _seconds(value, name, "a number of seconds")
    if seconds == math.inf or seconds < 0.0 or (seconds == 0.0 and not allow_zero):
        bound = "at least 0" if allow_zero else "above 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    return seconds
