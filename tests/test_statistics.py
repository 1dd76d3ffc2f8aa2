"""ExecutorStatistics: every field, what the times measure, the histogram, and invariants."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import eventlet
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenpool
from greenpool import ExecutorStatistics, GreenThreadPoolExecutor, SynchronousExecutor
from greenpool._histogram import LatencyHistogram

pytestmark = pytest.mark.timeout(30)

COUNTERS = (
    "failures",
    "executed",
    "cancelled",
    "submitted",
    "rejected",
    "pending",
    "running",
    "scheduled",
)
TIMES = (
    "runtime",
    "wait_time",
    "max_wait_time",
    "max_runtime",
    "runtime_p50",
    "runtime_p90",
    "runtime_p99",
    "wait_p50",
    "wait_p90",
    "wait_p99",
)


def check_invariants(stats: ExecutorStatistics, max_workers: int | None) -> None:
    """What must hold of any snapshot, taken at any moment."""
    for name in (*COUNTERS, "started"):
        assert getattr(stats, name) >= 0, (name, stats)
    for name in TIMES:
        assert getattr(stats, name) >= 0.0, (name, stats)
    assert stats.submitted == stats.executed + stats.cancelled + stats.pending + stats.running, (
        stats
    )
    assert stats.started == stats.executed + stats.running, stats
    assert stats.failures <= stats.executed, stats
    if max_workers is not None:
        assert stats.running <= max_workers, stats
    assert stats.runtime_p50 <= stats.runtime_p90 <= stats.runtime_p99 <= stats.max_runtime
    assert stats.wait_p50 <= stats.wait_p90 <= stats.wait_p99 <= stats.max_wait_time
    assert stats.average_runtime <= stats.max_runtime * (1 + 1e-9) + 1e-12
    assert stats.average_wait_time <= stats.max_wait_time * (1 + 1e-9) + 1e-12


# -- the fields ----------------------------------------------------------------


@pytest.mark.core
def test_the_fields_and_their_zero_values() -> None:
    names = [field.name for field in dataclasses.fields(ExecutorStatistics)]
    assert names[:4] == ["failures", "executed", "runtime", "cancelled"]  # futurist's order
    buckets = {"runtime_counts", "wait_counts"}
    assert set(names) == {*COUNTERS, *TIMES, "started", "max_workers", *buckets}
    empty = ExecutorStatistics()
    assert all(getattr(empty, name) == 0 for name in names if name not in buckets)
    assert empty.runtime_counts == empty.wait_counts == ()
    assert empty.average_runtime == 0.0
    assert empty.average_wait_time == 0.0
    assert ExecutorStatistics(1, 2, 3.0, 4) == ExecutorStatistics(
        failures=1, executed=2, runtime=3.0, cancelled=4
    )


@pytest.mark.core
def test_a_new_executor_reports_zeros_and_no_division_by_zero() -> None:
    for stats in (SynchronousExecutor().statistics, GreenThreadPoolExecutor(2).statistics):
        assert stats == ExecutorStatistics()
        assert (stats.average_runtime, stats.average_wait_time) == (0.0, 0.0)


@pytest.mark.core
def test_a_pending_call_alone_does_not_make_averages_divide_by_zero() -> None:
    executor = GreenThreadPoolExecutor(1)
    future = executor.submit(eventlet.sleep, 0)
    stats = executor.statistics
    assert (stats.submitted, stats.pending, stats.executed, stats.started) == (1, 1, 0, 0)
    assert (stats.average_runtime, stats.average_wait_time) == (0.0, 0.0)
    future.result(timeout=5)
    executor.shutdown()


@pytest.mark.core
def test_as_dict_has_every_field_and_the_averages_and_is_json_serialisable() -> None:
    executor = GreenThreadPoolExecutor(2)
    executor.submit(eventlet.sleep, 0.001).result(timeout=5)
    executor.submit(int, "x").exception(timeout=5)
    executor.shutdown()
    stats = executor.statistics
    data = stats.as_dict()
    names = {field.name for field in dataclasses.fields(ExecutorStatistics)}
    # The bucket counts stay out: 1,200 numbers a line would drown a log.
    names -= {"runtime_counts", "wait_counts"}
    assert set(data) == names | {"average_runtime", "average_wait_time"}
    assert data["max_workers"] == 2
    assert data["executed"] == 2
    assert data["failures"] == 1
    assert data["average_runtime"] == stats.average_runtime == stats.runtime / 2
    assert data["average_wait_time"] == stats.average_wait_time == stats.wait_time / 2
    assert json.loads(json.dumps(data)) == data


@pytest.mark.core
def test_statistics_are_an_immutable_snapshot() -> None:
    executor = SynchronousExecutor()
    before = executor.statistics
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.executed = 5  # type: ignore[misc]
    executor.submit(abs, 1)
    assert before.executed == 0
    assert executor.statistics.executed == 1
    assert hash(executor.statistics) == hash(executor.statistics)


@pytest.mark.core
def test_failures_and_rejections_are_counted() -> None:
    checks = 0

    def refuse_every_other(executor: Any, backlog: int) -> None:
        nonlocal checks
        checks += 1
        if checks % 2:
            raise greenpool.RejectedSubmission("odd")

    executor = GreenThreadPoolExecutor(2, refuse_every_other)
    futures = []
    for i in range(10):
        try:
            futures.append(executor.submit(int, "x" if i % 4 == 1 else "1"))
        except greenpool.RejectedSubmission:
            pass
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.rejected, stats.submitted, stats.executed) == (5, 5, 5)
    assert stats.failures == sum(f.exception() is not None for f in futures) == 3


@pytest.mark.core
def test_cancelled_calls_are_counted_once_and_not_as_executed() -> None:
    executor = GreenThreadPoolExecutor(1)
    futures = [executor.submit(eventlet.sleep, 0.001) for _ in range(4)]
    assert futures[2].cancel()
    assert futures[2].cancel()  # Cancelling again changes nothing.
    executor.shutdown(wait=True)
    stats = executor.statistics
    assert (stats.executed, stats.cancelled, stats.submitted) == (3, 1, 4)


# -- what the times measure ------------------------------------------------------


@pytest.mark.core
def test_runtime_excludes_the_time_a_call_waited_for_a_worker() -> None:
    executor = GreenThreadPoolExecutor(1)
    spans: list[tuple[float, float]] = []

    def call() -> None:
        started = time.monotonic()
        eventlet.sleep(0.05)
        spans.append((started, time.monotonic()))

    before = time.monotonic()
    futures = [executor.submit(call), executor.submit(call)]
    for future in futures:
        future.result(timeout=5)
    after = time.monotonic()
    executor.shutdown()
    stats = executor.statistics
    (start1, end1), (start2, end2) = spans
    ran = (end1 - start1) + (end2 - start2)
    assert ran >= 0.09
    # Exact whatever the load: each measured run contains the call's own span,
    # and the two runs do not overlap and lie between before and after.
    assert ran <= stats.runtime <= after - before
    assert max(end1 - start1, end2 - start2) <= stats.max_runtime <= stats.runtime
    # About 0.1 s, not 0.15 s: counting from submission would add the 50+ ms
    # the second call spent queued behind the first.
    assert stats.runtime <= ran + 0.03
    # The second call waited at least as long as the first ran, and no longer
    # than until it started; the first waited only until it started.
    assert end1 - start1 <= stats.max_wait_time <= start2 - before
    assert stats.wait_time - stats.max_wait_time <= start1 - before
    assert stats.average_wait_time == pytest.approx(stats.wait_time / 2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_futurist_runtime_includes_the_time_a_call_waited() -> None:
    import futurist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        executor = futurist.GreenThreadPoolExecutor(max_workers=1)
    spans: list[float] = []

    def call() -> None:
        started = time.monotonic()
        eventlet.sleep(0.05)
        spans.append(time.monotonic() - started)

    futures = [executor.submit(call), executor.submit(call)]
    for future in futures:
        future.result(timeout=5)
    executor.shutdown()
    # 0.05 for the first, 0.05 queued + 0.05 running for the second.
    assert executor.statistics.runtime >= sum(spans) + 0.04
    assert executor.statistics.runtime >= 0.14


@pytest.mark.core
def test_percentiles_through_the_executor_are_ordered_and_bounded_by_the_maximum() -> None:
    executor = GreenThreadPoolExecutor(2)
    for delay in (0.0, 0.001, 0.002, 0.003, 0.01):
        executor.submit(eventlet.sleep, delay)
    executor.shutdown(wait=True)
    stats = executor.statistics
    check_invariants(stats, 2)
    assert stats.runtime_p99 == stats.max_runtime  # The top call is the 99th percentile.
    assert stats.max_runtime >= 0.01
    assert 0.0 < stats.runtime_p50 < stats.max_runtime


# -- the histogram ---------------------------------------------------------------


def exact_percentile(values: list[float], percent: int) -> float:
    """The nearest-rank percentile, in exact integer arithmetic."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[rank - 1]


@pytest.mark.core
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(min_value=1e-7, max_value=16000.0, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=300,
    )
)
def test_histogram_percentiles_are_within_a_sixteenth_of_the_exact_ones(
    values: list[float],
) -> None:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    got = histogram.percentiles((0.5, 0.9, 0.99), max(values))
    for answer, percent in zip(got, (50, 90, 99), strict=True):
        exact = exact_percentile(values, percent)
        assert exact <= answer <= exact * 1.0625 * (1 + 1e-12), (percent, exact, answer)


@pytest.mark.core
def test_histogram_of_nothing_and_of_zeros() -> None:
    assert LatencyHistogram().percentiles((0.5, 0.99), 1.0) == (0.0, 0.0)
    histogram = LatencyHistogram()
    histogram.record(0.0)
    assert histogram.percentiles((0.5,), 0.0) == (0.0,)


@pytest.mark.core
def test_histogram_memory_does_not_grow_with_the_number_of_samples() -> None:
    histogram = LatencyHistogram()
    values = [10.0 ** (exponent / 50.0) for exponent in range(-350, 200)]  # 0.1 us .. 10000 s

    def record_round() -> None:
        for value in values:
            histogram.record(value)

    for _ in range(300):  # Every bucket's count is now past the small-int cache.
        record_round()
    tracemalloc.start()
    try:
        record_round()  # Every count is now an int allocated under tracemalloc.
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(60):  # Another 33,000 samples.
            record_round()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert histogram.count == 361 * len(values)
    # Keeping the samples would take at least 8 bytes each, over 260 kB.
    assert after - before < 8_000


# -- invariants under random programs ------------------------------------------------

submit_op = st.tuples(
    st.just("submit"),
    st.sampled_from(["return", "raise", "sleep"]),
    st.sampled_from([0.0, 0.001, 0.003]),
)
operation = st.one_of(
    submit_op,
    st.tuples(st.just("cancel"), st.integers(0, 1000)),
    st.tuples(st.just("stats")),
    st.tuples(st.just("wait"), st.integers(0, 1000)),
    st.tuples(st.just("yield")),
    st.tuples(st.just("shutdown"), st.booleans(), st.booleans()),
)


class Boom(Exception):
    pass


def run_program(
    executor: Any, max_workers: int, program: list[tuple[Any, ...]], pause: Callable[[float], None]
) -> None:
    """Run ``program`` against ``executor``, checking the statistics after every step."""
    futures: list[Any] = []
    seen_done: set[int] = set()  # Indexes of futures seen finished, not cancelled.
    seen_cancelled: set[int] = set()
    inside_errors: list[BaseException] = []
    shut_down = False

    def call(kind: str, delay: float) -> str:
        try:
            inside = executor.statistics
            check_invariants(inside, max_workers)
            assert inside.running >= 1, inside
        except BaseException as exc:
            inside_errors.append(exc)
        if delay:
            pause(delay)
        if kind == "raise":
            raise Boom()
        return kind

    resolved = {"done": 0, "cancelled": 0}

    def on_resolved(future: Any) -> None:
        # Runs the moment the future resolves: the statistics must count it already.
        try:
            resolved["cancelled" if future.cancelled() else "done"] += 1
            stats = executor.statistics
            check_invariants(stats, max_workers)
            assert stats.executed >= resolved["done"], (stats, resolved)
            assert stats.cancelled >= resolved["cancelled"], (stats, resolved)
        except BaseException as exc:
            inside_errors.append(exc)

    def snapshot() -> ExecutorStatistics:
        stats = executor.statistics
        check_invariants(stats, max_workers)
        assert stats.executed >= len(seen_done), (stats, len(seen_done))
        assert stats.cancelled >= len(seen_cancelled), (stats, len(seen_cancelled))
        assert stats.submitted == len(futures), stats
        return stats

    for op in program:
        if op[0] == "submit":
            if shut_down:
                with pytest.raises(RuntimeError):
                    executor.submit(call, op[1], op[2])
            else:
                futures.append(executor.submit(call, op[1], op[2]))
                futures[-1].add_done_callback(on_resolved)
        elif op[0] == "cancel" and futures:
            index = op[1] % len(futures)
            if futures[index].cancel():
                seen_cancelled.add(index)
        elif op[0] == "wait" and futures:
            index = op[1] % len(futures)
            future = futures[index]
            try:
                if index % 2:
                    future.result(timeout=10)
                else:
                    future.exception(timeout=10)
            except Boom:
                pass
            except greenpool.CancelledError:
                seen_cancelled.add(index)
            else:
                assert future.done()
            if not future.cancelled():
                seen_done.add(index)
        elif op[0] == "yield":
            pause(0)
        elif op[0] == "shutdown":
            executor.shutdown(wait=op[2], cancel_futures=op[1])
            shut_down = True
            if op[2]:
                stats = snapshot()
                assert (stats.pending, stats.running) == (0, 0), stats
        snapshot()

    executor.shutdown(wait=True)
    final = snapshot()
    assert not inside_errors, inside_errors
    assert all(f.done() for f in futures)
    cancelled = [f for f in futures if f.cancelled()]
    finished = [f for f in futures if not f.cancelled()]
    assert (final.pending, final.running) == (0, 0), final
    assert final.submitted == len(futures)
    assert final.executed == len(finished)
    assert final.cancelled == len(cancelled)
    assert final.failures == sum(isinstance(f.exception(), Boom) for f in finished)
    assert final.started == final.executed
    assert resolved == {"done": len(finished), "cancelled": len(cancelled)}


@pytest.mark.core
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.integers(1, 4), st.lists(operation, min_size=1, max_size=60))
def test_green_executor_statistics_invariants(
    max_workers: int, program: list[tuple[Any, ...]]
) -> None:
    executor = GreenThreadPoolExecutor(max_workers)
    run_program(executor, max_workers, program, eventlet.sleep)


@pytest.mark.core
@settings(max_examples=40, deadline=None)
@given(st.lists(operation, min_size=1, max_size=60))
def test_synchronous_executor_statistics_invariants(program: list[tuple[Any, ...]]) -> None:
    executor = SynchronousExecutor()
    run_program(executor, 1, program, time.sleep)


@pytest.mark.core
@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["return", "raise", "sleep"]), min_size=1, max_size=25),
        min_size=2,
        max_size=4,
    )
)
def test_synchronous_executor_statistics_with_native_threads_submitting_at_once(
    plans: list[list[str]],
) -> None:
    executor = SynchronousExecutor()
    errors: list[BaseException] = []
    futures: list[Any] = []
    start = threading.Barrier(len(plans) + 1)

    def call(kind: str) -> None:
        try:
            inside = executor.statistics
            check_invariants(inside, None)
            assert inside.running >= 1
        except BaseException as exc:
            errors.append(exc)
        if kind == "sleep":
            time.sleep(0.0005)
        elif kind == "raise":
            raise Boom()

    def submitter(plan: list[str]) -> None:
        try:
            start.wait(10)
            for kind in plan:
                future = executor.submit(call, kind)
                assert future.done()
                futures.append(future)
                assert executor.statistics.executed >= 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submitter, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    start.wait(10)
    while any(thread.is_alive() for thread in threads):
        check_invariants(executor.statistics, None)
    for thread in threads:
        thread.join(10)
    assert not errors, errors
    total = sum(len(plan) for plan in plans)
    final = executor.statistics
    check_invariants(final, None)
    assert (final.submitted, final.executed, final.pending, final.running) == (total, total, 0, 0)
    assert final.failures == sum(plan.count("raise") for plan in plans)
    assert len(futures) == total
    assert math.isclose(final.average_runtime * total, final.runtime)
