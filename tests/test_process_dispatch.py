"""The process pool's dispatch policy, on its own: no processes, no pipes, only counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenpool.process._dispatch import (
    CALL_OVERHEAD,
    MAX_HELD,
    PREFETCH_SECONDS,
    Load,
    Policy,
)

pytestmark = pytest.mark.timeout(60)


def policy(max_workers: int, average: float | None = 1e-6) -> Policy:
    made = Policy(max_workers)
    made.average_runtime = average
    return made


def idle() -> Load:
    return Load()


def busy(held: int = 1, unstarted: int = 0) -> Load:
    return Load(held=held, unstarted=unstarted)


# -- examples ----------------------------------------------------------------


def test_each_idle_worker_gets_one_call_before_any_busy_worker_gets_one() -> None:
    plan = policy(3).assign([False] * 4, [busy(), idle(), idle()])
    assert plan[:2] == [1, 2]
    assert len(plan) == 4  # A backlog: the rest are prefetched.


def test_without_a_backlog_busy_workers_get_nothing_new_workers_are_started_instead() -> None:
    loads = [busy(), idle()]
    assert policy(4).assign([False] * 5, loads) == [1]
    assert policy(4).workers_to_start(5, loads) == 2  # Four calls left, room for two workers.


def test_before_any_run_time_is_known_a_busy_worker_is_handed_nothing() -> None:
    assert policy(2, average=None).assign([False] * 3, [busy(), busy()]) == []
    assert policy(2, average=None).depth() == 1


def test_long_calls_are_not_prefetched() -> None:
    assert policy(2, average=PREFETCH_SECONDS).depth() == 1
    assert policy(2, average=PREFETCH_SECONDS).assign([False], [busy(), busy()]) == []


def test_depth_is_about_prefetch_seconds_of_work_and_bounded() -> None:
    average = 1e-4
    assert policy(1, average).depth() == 1 + int(PREFETCH_SECONDS / (average + CALL_OVERHEAD))
    assert policy(1, 0.0).depth() == MAX_HELD


def test_under_a_backlog_each_call_goes_to_the_least_loaded_worker() -> None:
    plan = policy(2).assign([False] * 6, [busy(held=1), busy(held=4)])
    assert sorted(plan) == [0, 0, 0, 0, 0, 1]  # Level at 4, then 5, then one more.
    assert plan[0] == 0  # The oldest call to the least loaded.


def test_a_call_with_a_timeout_goes_only_to_an_idle_worker_and_runs_alone() -> None:
    assert policy(2).assign([True, False], [busy(), busy()]) == []  # It and what follows wait.
    plan = policy(2).assign([True, False, False], [idle(), busy()])
    assert plan[0] == 0
    assert 0 not in plan[1:]  # Nothing queued behind it.


def test_max_tasks_per_child_is_never_exceeded() -> None:
    plan = policy(1).assign([False] * 10, [Load(held=0, room=3)])
    assert plan == [0, 0, 0]


def test_an_idle_worker_takes_back_half_of_the_busiest_workers_unstarted_calls() -> None:
    loads = [busy(held=21, unstarted=20), idle(), busy(held=3, unstarted=2)]
    assert policy(3).take_back(loads) == [(0, 1, 10)]
    assert policy(2).take_back([busy(held=2, unstarted=1), idle()]) == [(0, 1, 1)]
    assert policy(2).take_back([busy(held=1, unstarted=0), idle()]) == []


# -- invariants ----------------------------------------------------------------

loads_strategy = st.lists(
    st.builds(
        Load,
        held=st.one_of(st.integers(0, 8), st.integers(0, MAX_HELD)),
        unstarted=st.integers(0, MAX_HELD - 1),
        room=st.one_of(st.none(), st.integers(0, 5)),
        accepts=st.booleans(),
    ),
    min_size=0,
    max_size=5,
).map(lambda loads: [_consistent(load) for load in loads])


def _consistent(load: Load) -> Load:
    load.unstarted = min(load.unstarted, max(0, load.held - 1))
    return load


@settings(max_examples=400, deadline=None)
@given(
    loads=loads_strategy,
    # Mostly calls without a timeout, mostly a full pool, mostly short calls:
    # the cases where prefetching happens.
    timed=st.lists(st.sampled_from([False, False, False, True]), max_size=40),
    extra_workers=st.sampled_from([0, 0, 0, 1, 3]),
    average=st.one_of(st.none(), st.floats(0, 1e-4), st.floats(0, 0.01)),
)
def test_assign_keeps_the_policy(
    loads: list[Load], timed: list[bool], extra_workers: int, average: float | None
) -> None:
    chosen = policy(len(loads) + extra_workers, average)
    plan = chosen.assign(timed, loads)
    depth = chosen.depth()
    assert len(plan) <= len(timed)
    assert len(plan) <= chosen.capacity(loads)

    held = [load.held for load in loads]
    room = [load.room for load in loads]
    alone = [False] * len(loads)
    prefetched: set[int] = set()
    for index, worker in enumerate(plan):
        load = loads[worker]
        assert load.accepts and not alone[worker]
        assert room[worker] is None or room[worker] > 0  # type: ignore[operator]
        takers = [
            w
            for w in range(len(loads))
            if loads[w].accepts and not alone[w] and (room[w] is None or room[w] > 0)  # type: ignore[operator]
        ]
        if held[worker] > 0:
            # Idle workers first; prefetch only under a backlog, within the depth,
            # to the least loaded; never a call with a timeout.
            assert all(held[w] > 0 for w in takers)
            assert extra_workers == 0
            assert held[worker] < depth
            assert not timed[index]
            prefetched.add(worker)
        if timed[index]:
            alone[worker] = True
        held[worker] += 1
        if room[worker] is not None:
            room[worker] -= 1  # type: ignore[operator]

    # Calls ahead go to the least loaded: no worker that got one ends more than one
    # call above another that could have taken more.
    for worker in prefetched:
        for other in range(len(loads)):
            full = held[other] >= depth or room[other] == 0 or alone[other]
            if loads[other].accepts and not full:
                assert held[worker] <= held[other] + 1, (held, worker, other)

    if len(plan) < len(timed):
        # Stopped early only when the next call could not be placed now.
        takers = [
            w
            for w in range(len(loads))
            if loads[w].accepts and not alone[w] and (room[w] is None or room[w] > 0)  # type: ignore[operator]
        ]
        assert not any(held[w] == 0 for w in takers)
        if extra_workers == 0 and not timed[len(plan)]:
            assert not any(held[w] < depth for w in takers)


@settings(max_examples=400, deadline=None)
@given(loads=loads_strategy)
def test_take_back_moves_only_unstarted_calls_to_idle_workers(loads: list[Load]) -> None:
    moves = policy(max(1, len(loads))).take_back(loads)
    taken = [0] * len(loads)
    receivers = [to for _, to, _ in moves]
    assert len(receivers) == len(set(receivers))
    for victim, to, calls in moves:
        assert loads[to].idle()
        assert calls > 0
        assert loads[to].room is None or calls <= loads[to].room  # type: ignore[operator]
        taken[victim] += calls
    for victim, load in enumerate(loads):
        assert taken[victim] <= load.unstarted
    if not moves:
        assert not any(load.idle() for load in loads) or not any(load.unstarted for load in loads)


@settings(max_examples=200, deadline=None)
@given(pending=st.integers(0, 50), loads=loads_strategy, extra_workers=st.integers(0, 4))
def test_workers_are_started_only_for_calls_no_idle_worker_can_take(
    pending: int, loads: list[Load], extra_workers: int
) -> None:
    chosen = policy(len(loads) + extra_workers)
    started = chosen.workers_to_start(pending, loads)
    idle_workers = sum(1 for load in loads if load.idle())
    assert 0 <= started <= extra_workers
    assert started <= max(0, pending - idle_workers)
    assert started == min(extra_workers, max(0, pending - idle_workers))
