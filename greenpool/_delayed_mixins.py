"""futurist's delayed-call mixins, kept so that code composing them keeps working.

futurist 3.5 adds ``submit_after`` to an executor by composition::

    class DelayedThreadExecutor(futurist.DelayedExecutorMixin, futurist.ThreadPoolExecutor):
        pass

Every greenpool executor has ``submit_after`` built in (see
:mod:`greenpool._delayed`), so here the mixins only keep those names and
what futurist's callers and tests use of them: the composed class works,
its ``submit_after`` is the executor's own, and ``Task`` orders by
deadline as futurist's does. A mixin composed with anything but a greenpool
executor is refused when the class is made, rather than half-working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from greenpool._executor import Executor
from greenpool._future import Future


class DelayedTask:
    """futurist's ``DelayedExecutorMixinBase.Task``: a call and the time it falls due.

    Ordered by deadline. Kept for code that builds or sorts them; greenpool's
    own delayed calls are :class:`greenpool._delayed.DelayedCall`.
    """

    __slots__ = ("args", "deadline", "fn", "future", "kwargs")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: Any,
        delay: float,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.future = future
        self.deadline = time.monotonic() + delay

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DelayedTask):
            return NotImplemented
        return self.deadline < other.deadline

    def __repr__(self) -> str:
        remaining = self.deadline - time.monotonic()
        return f"Task={self.fn}, remaining_delay={remaining}, future={self.future}"


class DelayedExecutorMixinBase:
    """futurist's base of the delayed-call mixins; compose it with a greenpool executor.

    ``submit_after`` comes from the executor itself (every greenpool executor
    has it); this class only checks, when a class is composed from it, that
    the class is a greenpool :class:`~greenpool.Executor`.
    """

    Task = DelayedTask

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ != __name__ and not issubclass(cls, Executor):
            raise TypeError(
                f"{cls.__name__}: greenpool's {DelayedExecutorMixinBase.__name__} and its "
                "subclasses compose with greenpool executors, which all have submit_after "
                "already; for a concurrent.futures executor, use greenpool's equivalent"
            )

    @staticmethod
    def _get_future_object() -> Future[Any]:
        return Future()


class DelayedExecutorMixin(DelayedExecutorMixinBase):
    """futurist's native-thread variant: nothing more is needed on greenpool."""


class GreenDelayedExecutorMixin(DelayedExecutorMixinBase):
    """futurist's eventlet variant: nothing more is needed on greenpool.

    The green executor's delayed calls already wait on a hub timer, and its
    futures can be waited on from green threads without blocking the hub.
    """
