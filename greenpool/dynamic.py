"""DynamicThreadPoolExecutor: a thread pool that grows and shrinks with the share of busy threads.

futurist's semantics, on greenpool's thread pool (real OS threads even under
``eventlet.monkey_patch()``, the same Future, statistics, ``backlog`` and
rejection as every executor). On each submit the pool looks at the share of
its threads that are busy (running a call, or promised a queued one), before
placing the new call::

    busy share >= grow_threshold,   fewer than max_workers   one more thread
    busy share <= shrink_threshold, more than min_workers,   one idle thread stops
      and it has stayed there for shrink_after seconds

The two thresholds differ so that the size does not flap around one value,
and ``shrink_after`` (one second by default) keeps it from flapping in
time: under a burst of short calls the busy share swings between none and
all from one submit to the next, and a pool that stopped a thread on every
submit that found it idle (as futurist's does) would start and stop a
thread every other call, each costing more than the calls themselves.
A call never waits for a thread while the pool could start one, and a call
given to an idle thread while the pool grows is not held up by the new
thread's start: the new thread starts idle, a spare for the next call.

Beyond futurist: with ``idle_timeout=S`` a thread that has waited ``S``
seconds for work exits on its own, down to ``min_workers``, so nobody has to
call :meth:`~DynamicThreadPoolExecutor.maintain` from a timer to give idle
threads back. :meth:`~DynamicThreadPoolExecutor.maintain` still does what
futurist's does: applies the thresholds until they hold (starting threads up
to ``min_workers`` too), and waits for the threads it stopped to exit.
"""

from __future__ import annotations

import math
import numbers
from _queue import Empty, SimpleQueue
from collections.abc import Callable, Iterable
from typing import Any

from greenpool._executor import CheckAndReject
from greenpool._statistics import Gatherer
from greenpool._timeouts import call_timeout
from greenpool._workitem import WorkItem, now
from greenpool.thread import ThreadPoolExecutor, _Workers


def _fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


class _DynamicWorkers(_Workers):
    """:class:`~greenpool.thread._Workers` with the grow and shrink policy; see the module."""

    def __init__(
        self,
        max_workers: int,
        name_prefix: str,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        gatherer: Gatherer,
        *,
        min_workers: int,
        grow_threshold: float,
        shrink_threshold: float,
        idle_timeout: float | None,
        shrink_after: float,
    ) -> None:
        super().__init__(max_workers, name_prefix, initializer, initargs, gatherer)
        self._shrink_after = shrink_after
        # When the busy share last fell to shrink_threshold or below (None: it is above).
        self._low_since: float | None = None
        self._min_workers = min_workers
        self._grow_threshold = grow_threshold
        self._shrink_threshold = shrink_threshold
        self._idle_timeout = idle_timeout

    def _busy_share_locked(self) -> float:
        alive = self._alive - self._retiring
        return (alive - self._idle + self._unclaimed) / alive if alive > 0 else 1.0

    def _place_locked(self, item: WorkItem) -> list[WorkItem] | None:
        alive = self._alive - self._retiring
        if alive < self._min_workers or not self._idle:
            # Below the minimum, or every thread busy: as the fixed pool.
            return super()._place_locked(item)
        busy = self._busy_share_locked()
        self._put_locked(item)  # To an idle thread.
        if busy >= self._grow_threshold and alive < self._max_workers:
            self._low_since = None
            return []  # A spare thread for the next call.
        if busy > self._shrink_threshold:
            self._low_since = None
        elif alive > self._min_workers and self._idle:
            at = now()
            if self._low_since is None:
                self._low_since = at
            elif at - self._low_since >= self._shrink_after:
                self._retire_locked()
        return None

    def _retire_locked(self) -> None:
        """Send one idle thread away (it exits on the sentinel)."""
        self._idle -= 1
        self._retiring += 1
        self._queue.put(None)

    def _wait_for_call(self, queue: SimpleQueue[WorkItem | None]) -> WorkItem | None:
        timeout = self._idle_timeout
        if timeout is None:
            return queue.get()
        while True:
            try:
                return queue.get(timeout=timeout)
            except Empty:
                pass
            with self._guard:
                # Every queued entry is promised to a thread counted out of
                # idle; if the queue is empty, none is this thread's, and this
                # thread is one of those ``idle`` counts.
                if (
                    self._queue.empty()
                    and self._idle
                    and self._alive - self._retiring > self._min_workers
                ):
                    self._idle -= 1
                    self._retiring += 1  # Counted in alive until it exits; takes no call.
                    return None

    def _exiting_locked(self) -> None:
        if self._retiring and not self._stopping:
            self._retiring -= 1

    def maintain(self) -> None:
        """Apply the thresholds until they hold, then wait for the threads stopped to exit."""
        while True:
            with self._guard:
                if self._stopping or self._broken is not None:
                    return
                alive = self._alive - self._retiring
                busy = self._busy_share_locked()
                if alive < self._min_workers or (
                    busy >= self._grow_threshold and alive < self._max_workers
                ):
                    self._alive += 1
                    number = next(self._numbers)
                elif busy <= self._shrink_threshold and alive > self._min_workers and self._idle:
                    self._retire_locked()
                    continue
                else:
                    break
            self._start_spare(number)
        self._exited.park_until(lambda: self._retiring == 0 or self._stopping)

    def _start_spare(self, number: int) -> None:
        try:
            self._new_thread([], number)
        except BaseException:
            with self._guard:
                self._alive -= 1
            raise


class DynamicThreadPoolExecutor(ThreadPoolExecutor):
    """A :class:`ThreadPoolExecutor` whose thread count follows its load; see the module.

    futurist's constructor, then the stdlib's thread options and a
    keyword-only ``name``. ``min_workers`` (at least 1, less than
    ``max_workers``) threads are kept once started; ``grow_threshold`` in
    (0, 1] and ``shrink_threshold`` in [0, ``grow_threshold``) are shares of
    busy threads. A submit stops an idle thread only once the busy share has
    stayed at or below ``shrink_threshold`` for ``shrink_after`` seconds.
    ``idle_timeout`` (seconds, or None for never) lets idle threads beyond
    ``min_workers`` exit on their own.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        check_and_reject: CheckAndReject | None = None,
        min_workers: int = 1,
        grow_threshold: float = 0.8,
        shrink_threshold: float = 0.4,
        *,
        idle_timeout: float | None = None,
        shrink_after: float = 1.0,
        name: str | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
    ) -> None:
        if isinstance(min_workers, bool) or not isinstance(min_workers, int):
            raise TypeError(f"min_workers must be an int, got {min_workers!r}")
        if min_workers <= 0:
            raise ValueError("min_workers must be greater than zero")
        grow = _fraction(grow_threshold, "grow_threshold")
        shrink = _fraction(shrink_threshold, "shrink_threshold")
        if not 0.0 < grow <= 1.0:
            raise ValueError("grow_threshold must be within (0, 1]")
        if not 0.0 <= shrink < 1.0:
            raise ValueError("shrink_threshold must be within [0, 1)")
        if shrink >= grow:
            raise ValueError("shrink_threshold must be less than grow_threshold")
        timeout = None if idle_timeout is None else call_timeout(idle_timeout, "idle_timeout")
        hold = _fraction(shrink_after, "shrink_after")
        if not 0.0 <= hold < math.inf:
            raise ValueError(f"shrink_after must be a finite number of seconds >= 0, got {hold}")
        self._shrink_after = hold
        # Read by _make_workers, which ThreadPoolExecutor.__init__ calls.
        self._min_workers = min_workers
        self._grow_threshold = grow
        self._shrink_threshold = shrink
        self._idle_timeout = None if timeout == math.inf else timeout
        super().__init__(
            max_workers,
            check_and_reject,
            name=name,
            thread_name_prefix=thread_name_prefix,
            initializer=initializer,
            initargs=initargs,
        )

    def _make_workers(
        self, name_prefix: str, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
    ) -> _Workers:
        if self._max_workers <= self._min_workers:  # With max_workers from the default.
            raise ValueError("min_workers must be less than max_workers")
        return _DynamicWorkers(
            self._max_workers,
            name_prefix,
            initializer,
            initargs,
            self._gatherer,
            min_workers=self._min_workers,
            grow_threshold=self._grow_threshold,
            shrink_threshold=self._shrink_threshold,
            idle_timeout=self._idle_timeout,
            shrink_after=self._shrink_after,
        )

    @property
    def min_workers(self) -> int:
        return self._min_workers

    def maintain(self) -> None:
        """Keep the number of threads within the thresholds (futurist's ``maintain``).

        Starts threads up to ``min_workers``, and while the busy share is at
        least ``grow_threshold``; stops idle threads while it is at most
        ``shrink_threshold``, down to ``min_workers``; then waits for the
        threads it stopped to exit. With ``idle_timeout`` there is no need to
        call it for idle threads to go.
        """
        workers = self._workers
        assert isinstance(workers, _DynamicWorkers)
        workers.maintain()
