"""Schedule strategies: when a periodic callable runs next, given when its last run ran.

A strategy is a pair, as in futurist: ``next_run(cb, started_at, finished_at,
watcher)`` after each run, and ``first_run(cb, now)`` when the callable is
first scheduled. Times are in the worker's ``now_func`` clock. The built-in
ones, by name:

* ``last_started``: ``spacing`` after the last run started (a steady rate,
  whatever each run takes, as long as runs are shorter than ``spacing``);
* ``last_finished``: ``spacing`` after it finished (a steady pause between runs);
* ``aligned_last_finished``: the first multiple of ``spacing`` after it
  finished (runs on a grid, skipping the slots a long run overlapped);
* each with ``_jitter``: plus up to 5 % of ``spacing`` at random, so that
  callables started together drift apart instead of running in lockstep.

Jitter comes from :class:`random.Random`, not from ``SystemRandom`` as in
futurist: a schedule needs spread, not secrecy, and ``SystemRandom`` makes a
system call per run.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from typing import Any

#: ``next_run(cb, started_at, finished_at, watcher) -> float``.
ScheduleStrategy = Callable[[Callable[..., Any], float, float, Any], float]
#: ``first_run(cb, now) -> float``.
InitialScheduleStrategy = Callable[[Callable[..., Any], float], float]

#: How much of ``spacing`` the ``_jitter`` strategies may add, at most. A float
#: (futurist's is ``Fraction(5, 100)``, the same share): ``fractions`` would add a
#: quarter to the cost of ``import greenpool``.
DEFAULT_JITTER = 0.05


def _spacing(cb: Callable[..., Any]) -> float:
    spacing: float = cb._periodic_spacing  # type: ignore[attr-defined]
    return spacing


def last_started(
    cb: Callable[..., Any], started_at: float, finished_at: float, watcher: Any
) -> float:
    return started_at + _spacing(cb)


def last_finished(
    cb: Callable[..., Any], started_at: float, finished_at: float, watcher: Any
) -> float:
    return finished_at + _spacing(cb)


def aligned_last_finished(
    cb: Callable[..., Any], started_at: float, finished_at: float, watcher: Any
) -> float:
    spacing = _spacing(cb)
    return finished_at - math.fmod(finished_at, spacing) + spacing


def now_plus_spacing(cb: Callable[..., Any], now: float) -> float:
    return now + _spacing(cb)


def with_jitter(max_percent_jitter: float) -> Callable[[ScheduleStrategy], ScheduleStrategy]:
    """Wrap a strategy so that it adds ``[0, max_percent_jitter)`` of ``spacing`` at random.

    ``ValueError`` unless ``0 <= max_percent_jitter <= 1``.
    """
    if not 0 <= max_percent_jitter <= 1:
        raise ValueError(
            "Invalid 'max_percent_jitter', must be greater or equal to 0.0"
            " and less than or equal to 1.0"
        )
    share = float(max_percent_jitter)

    def wrap(strategy: ScheduleStrategy) -> ScheduleStrategy:
        uniform = random.Random().random

        @functools.wraps(strategy)
        def jittered(
            cb: Callable[..., Any], started_at: float, finished_at: float, watcher: Any
        ) -> float:
            return strategy(cb, started_at, finished_at, watcher) + _spacing(cb) * share * uniform()

        jittered.__name__ += "_with_jitter"
        return jittered

    return wrap


_jitter = with_jitter(DEFAULT_JITTER)

#: The strategies ``schedule_strategy`` names: ``(next_run, first_run)`` pairs.
BUILT_IN_STRATEGIES: dict[str, tuple[ScheduleStrategy, InitialScheduleStrategy]] = {
    "last_started": (last_started, now_plus_spacing),
    "last_started_jitter": (_jitter(last_started), now_plus_spacing),
    "last_finished": (last_finished, now_plus_spacing),
    "last_finished_jitter": (_jitter(last_finished), now_plus_spacing),
    "aligned_last_finished": (aligned_last_finished, now_plus_spacing),
    "aligned_last_finished_jitter": (_jitter(aligned_last_finished), now_plus_spacing),
}


def lookup(
    strategies: dict[str, tuple[ScheduleStrategy, InitialScheduleStrategy]], name: object
) -> tuple[ScheduleStrategy, InitialScheduleStrategy]:
    """The strategy called ``name``, or ``ValueError`` listing the valid names."""
    try:
        return strategies[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(
            f"Scheduling strategy {name!r} must be one of {sorted(strategies)}"
            " selectable strategies"
        ) from None
