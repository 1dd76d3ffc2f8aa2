"""Public state (issue 11): greenpool.executors(), the attributes every executor reports, and
statistics over an interval (``later - earlier``, ``rates``)."""

from __future__ import annotations

import gc
import json
import math
import weakref
from typing import Any

import eventlet
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenpool
from greenpool import ExecutorStatistics, StatisticsRates

pytestmark = pytest.mark.timeout(30)


def fail() -> None:
    raise ValueError("planned")


# -- greenpool.executors() ---------------------------------------------------


@pytest.mark.core
def test_executors_lists_live_executors_of_every_kind_oldest_first(any_executor: Any) -> None:
    later = greenpool.SynchronousExecutor(name="made-after")
    listed = greenpool.executors()
    assert any_executor in listed
    assert later in listed
    assert listed.index(any_executor) < listed.index(later)
    later.shutdown()
    assert later in greenpool.executors()  # Shut down, but alive: still listed.


@pytest.mark.core
def test_executors_holds_them_weakly() -> None:
    executor = greenpool.ThreadPoolExecutor(1, name="collected")
    listed = greenpool.executors()
    assert executor in listed
    del listed  # A list the caller keeps would hold it: the registry must not.
    executor.shutdown()
    ref = weakref.ref(executor)
    del executor
    gc.collect()
    assert ref() is None
    assert all(each.name != "collected" for each in greenpool.executors())


@pytest.mark.core
def test_generated_names_are_unique() -> None:
    made = [greenpool.SynchronousExecutor() for _ in range(20)]
    assert len({executor.name for executor in made}) == 20


# -- the attributes every executor reports -------------------------------------


@pytest.mark.core
def test_every_kind_reports_the_same_public_attributes(any_executor: Any) -> None:
    for name in ("max_workers", "num_workers", "idle_workers", "backlog", "queue_size"):
        value = getattr(any_executor, name)
        assert isinstance(value, int) and not isinstance(value, bool), (name, value)
        assert value >= 0, (name, value)
    assert any_executor.max_workers >= 1
    assert any_executor.idle_workers <= max(any_executor.num_workers, 0)
    assert any_executor.alive is True
    any_executor.submit(int, "7").result(timeout=10)
    assert any_executor.idle_workers <= any_executor.num_workers
    any_executor.shutdown(wait=True)
    assert any_executor.alive is False
    assert (any_executor.backlog, any_executor.queue_size) == (0, 0)


@pytest.mark.core
def test_idle_workers_of_a_green_pool_count_parked_green_threads() -> None:
    executor = greenpool.GreenThreadPoolExecutor(3)
    gate = eventlet.event.Event()
    futures = [executor.submit(gate.wait) for _ in range(3)]
    eventlet.sleep(0)
    assert (executor.num_workers, executor.idle_workers) == (3, 0)
    gate.send(None)
    for future in futures:
        future.result(timeout=5)
    eventlet.sleep(0)
    assert (executor.num_workers, executor.idle_workers) == (3, 3)
    executor.shutdown()


# -- later - earlier -----------------------------------------------------------


@pytest.mark.core
def test_subtracting_gives_the_interval_with_states_of_the_later_snapshot() -> None:
    executor = greenpool.GreenThreadPoolExecutor(2, name="interval")
    for _ in range(5):
        executor.submit(eventlet.sleep, 0.001).result(timeout=5)
    earlier = executor.statistics
    gate = eventlet.event.Event()
    for _ in range(3):
        executor.submit(eventlet.sleep, 0.02).result(timeout=5)
    executor.submit(fail).exception(timeout=5)
    held = [executor.submit(gate.wait) for _ in range(3)]  # Two running, one pending.
    eventlet.sleep(0)
    later = executor.statistics
    interval = later - earlier
    assert isinstance(interval, ExecutorStatistics)
    assert (interval.submitted, interval.executed, interval.failures) == (7, 4, 1)
    assert (interval.pending, interval.running) == (later.pending, later.running) == (1, 2)
    assert interval.started == 6
    assert interval.max_workers == 2
    assert interval.runtime == pytest.approx(later.runtime - earlier.runtime)
    # The interval's percentiles come from its own durations: three of 20 ms and a failure
    # that took nothing; the earlier 1 ms calls are not in them.
    assert 0.02 <= interval.runtime_p99 <= later.max_runtime
    assert interval.runtime_p50 >= 0.02 * (1 - 1 / 16)
    assert interval.max_runtime <= later.max_runtime
    assert sum(interval.runtime_counts) == interval.executed
    assert sum(interval.wait_counts) == interval.started
    gate.send(None)
    for future in held:
        future.result(timeout=5)
    executor.shutdown()


@pytest.mark.core
def test_an_interval_with_nothing_in_it_is_all_zero_counts() -> None:
    executor = greenpool.SynchronousExecutor()
    executor.submit(int, "1")
    snapshot = executor.statistics
    nothing = snapshot - snapshot
    assert (nothing.submitted, nothing.executed, nothing.runtime) == (0, 0, 0.0)
    assert (nothing.runtime_p99, nothing.max_runtime, nothing.wait_p99) == (0.0, 0.0, 0.0)


@pytest.mark.core
def test_subtracting_the_wrong_way_round_or_another_type_is_refused() -> None:
    executor = greenpool.SynchronousExecutor()
    earlier = executor.statistics
    executor.submit(int, "1")
    later = executor.statistics
    with pytest.raises(ValueError, match="not an earlier snapshot"):
        earlier - later
    with pytest.raises(TypeError):
        later - 1  # type: ignore[operator]


@pytest.mark.core
def test_snapshots_made_by_hand_subtract_without_histograms() -> None:
    later = ExecutorStatistics(failures=1, executed=3, runtime=0.3, submitted=4, running=1)
    earlier = ExecutorStatistics(executed=1, runtime=0.1, submitted=1)
    interval = later - earlier
    assert (interval.executed, interval.submitted, interval.failures) == (2, 3, 1)
    assert interval.runtime == pytest.approx(0.2)
    assert interval.runtime_p99 == 0.0  # No histograms to tell.


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["ok", "fail", "snapshot"]), min_size=1, max_size=40))
def test_intervals_add_up(steps: list[str]) -> None:
    """(c - a) counts what (c - b) and (b - a) count together, for any b between."""
    executor = greenpool.SynchronousExecutor()
    snapshots = [executor.statistics]
    for step in steps:
        if step == "ok":
            executor.submit(int, "1")
        elif step == "fail":
            executor.submit(fail)
        else:
            snapshots.append(executor.statistics)
    snapshots.append(executor.statistics)
    first, last = snapshots[0], snapshots[-1]
    for middle in snapshots:
        whole, before, after = last - first, middle - first, last - middle
        for name in ("submitted", "executed", "failures", "cancelled", "rejected", "started"):
            assert getattr(whole, name) == getattr(before, name) + getattr(after, name), name
        assert whole.runtime == pytest.approx(before.runtime + after.runtime, abs=1e-9)
        assert sum(whole.runtime_counts) == sum(before.runtime_counts) + sum(after.runtime_counts)


# -- rates ---------------------------------------------------------------------


@pytest.mark.core
def test_rates_turn_an_interval_into_per_second_figures_with_utilisation() -> None:
    executor = greenpool.GreenThreadPoolExecutor(4)
    earlier = executor.statistics
    futures = [executor.submit(eventlet.sleep, 0.05) for _ in range(2)]
    for future in futures:
        future.result(timeout=5)
    interval = executor.statistics - earlier
    rates = interval.rates(0.5)
    assert isinstance(rates, StatisticsRates)
    assert rates.seconds == 0.5
    assert (rates.submitted, rates.executed, rates.rejected) == (4.0, 4.0, 0.0)
    # Two calls of about 50 ms over half a second on four workers: a twentieth busy.
    assert rates.utilisation == pytest.approx(interval.runtime / 0.5 / 4)
    assert 0.05 <= rates.utilisation < 0.2
    assert rates.runtime_p99 == interval.runtime_p99
    data = rates.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["utilisation"] == rates.utilisation
    executor.shutdown()


@pytest.mark.core
@pytest.mark.parametrize(
    ("seconds", "error"),
    [(0, ValueError), (-1.0, ValueError), (math.nan, ValueError), (math.inf, ValueError),
     ("1", TypeError), (None, TypeError), (True, TypeError)],
)  # fmt: skip
def test_rates_refuse_a_bad_interval(seconds: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        ExecutorStatistics().rates(seconds)


@pytest.mark.core
def test_a_hand_made_snapshot_has_no_utilisation() -> None:
    assert ExecutorStatistics(runtime=1.0).rates(1.0).utilisation == 0.0
