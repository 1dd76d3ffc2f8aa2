"""The base of stateful policies, and the checks every policy's configuration goes through.

A policy is any ``check_and_reject(executor, backlog)`` callable: it raises
:class:`~greenpool.RejectedSubmission` to refuse. Most are stateless (a
function, as futurist's). One that learns from what its executor does
(:class:`~greenpool.rejection.AdaptiveLimit`), watches its queue
(:func:`~greenpool.rejection.codel`) or keeps submitters waiting
(:func:`~greenpool.rejection.block_when_reached`) subclasses :class:`Policy`:
the executor calls :meth:`Policy.attach` when it is made, which is where the
policy registers for the signals it needs (see :mod:`greenpool._signals`),
so nothing is added to any submit of an executor that does not use it.

Such a policy serves one executor: its state describes that executor's
queue or downstream. Given to a second one, it raises ``ValueError``.
"""

from __future__ import annotations

import weakref
from typing import Any


class Policy:
    """A ``check_and_reject`` policy with state: attached to one executor, which calls it.

    Subclasses implement ``__call__(executor, backlog)`` and, to register
    listeners, :meth:`_attached`. A policy not yet attached when it is first
    called (wrapped in another callable, say) attaches then.
    """

    _executor: weakref.ref[Any] | None = None

    def attach(self, executor: Any) -> None:
        """Serve ``executor``; called by the executor's constructor. ``ValueError`` if taken."""
        current = self._executor() if self._executor is not None else None
        if current is executor:
            return
        if current is not None:
            raise ValueError(
                f"{self!r} already serves {current.name}; make one policy per executor"
            )
        self._executor = weakref.ref(executor)
        self._attached(executor)

    def _attached(self, executor: Any) -> None:
        """Register for the executor's signals (``add_done_listener`` and so on)."""

    def _check_executor(self, executor: Any) -> None:
        """Attach on first use, and refuse to be called for an executor not attached."""
        current = self._executor() if self._executor is not None else None
        if current is not executor:
            self.attach(executor)

    def __call__(self, executor: Any, backlog: int) -> None:
        raise NotImplementedError


def check_limit(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as a limit: an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value
