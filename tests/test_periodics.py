"""greenpool.periodics: futurist's periodic worker, on greenpool, in green and native threads."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import pytest
from conftest import run_program
from helpers import LONG, Ticker, eventually
from hypothesis import given, settings
from hypothesis import strategies as st

import greenpool
from greenpool import periodics
from greenpool.rejection import reject_when_reached

HOURS = 3 * 3600.0


def worker_of(*callables: Callable[..., Any], **kwargs: Any) -> periodics.PeriodicWorker:
    return periodics.PeriodicWorker([(cb, None, None) for cb in callables], **kwargs)


class Started:
    """A worker's ``start()`` running in a green thread or a native thread, and how it ended."""

    def __init__(self, worker: periodics.PeriodicWorker, where: str, **start_kwargs: Any):
        self.worker = worker
        self.where = where
        self.error: BaseException | None = None
        self.returned = False
        if where == "green":
            self._thread: Any = eventlet.spawn(self._start, start_kwargs)
            eventlet.sleep(0)
        else:
            self._thread = threading.Thread(target=self._start, args=(start_kwargs,), daemon=True)
            self._thread.start()

    def _start(self, start_kwargs: dict[str, Any]) -> None:
        try:
            self.worker.start(**start_kwargs)
        except BaseException as exc:
            self.error = exc
        self.returned = True

    def stop(self) -> None:
        """Stop the worker and see ``start()`` return (not time out), without error."""
        self.worker.stop()
        self.join()

    def join(self) -> None:
        eventually(lambda: self.returned)
        if self.error is not None:
            raise self.error


@pytest.fixture(params=["green", "native"])
def where(request: pytest.FixtureRequest) -> str:
    """Where ``start()`` runs: a green thread of this hub, or a native thread."""
    return str(request.param)


@pytest.fixture
def started() -> Iterator[Callable[..., Started]]:
    """Start workers with ``started(worker, where)``; any still running are stopped afterwards."""
    made: list[Started] = []

    def start(worker: periodics.PeriodicWorker, where: str, **kwargs: Any) -> Started:
        run = Started(worker, where, **kwargs)
        made.append(run)
        return run

    yield start
    for run in made:
        run.worker.stop()
        eventually(lambda run=run: run.returned)  # type: ignore[misc]


# -- the decorator and bad input ---------------------------------------------


def test_periodic_marks_a_callable_that_still_works_when_called() -> None:
    @periodics.periodic(2.5, run_immediately=True)
    def double(x: int) -> int:
        return 2 * x

    assert double(21) == 42
    assert periodics.is_periodic(double)
    assert double._periodic_spacing == 2.5  # type: ignore[attr-defined]
    assert double._periodic_run_immediately is True  # type: ignore[attr-defined]
    assert double.__name__ == "double"


def test_is_periodic_is_false_for_plain_callables_and_non_callables() -> None:
    assert not periodics.is_periodic(print)
    assert not periodics.is_periodic(42)
    assert periodics.is_periodic(periodics.periodic(1, enabled=False)(print))


def test_decorating_one_function_twice_gives_two_spacings() -> None:
    def f() -> None:
        pass

    fast, slow = periodics.periodic(1)(f), periodics.periodic(5)(f)
    assert (fast._periodic_spacing, slow._periodic_spacing) == (1, 5)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spacing", "error"),
    [(0, ValueError), (-0.5, ValueError), (math.nan, ValueError), ("1", TypeError),
     (None, TypeError), (True, TypeError)],
)  # fmt: skip
def test_a_bad_spacing_is_refused_at_the_decorator(spacing: Any, error: type) -> None:
    with pytest.raises(error):
        periodics.periodic(spacing)


@pytest.mark.parametrize("spacing", [0, -0.5, "1", None])
def test_bad_spacings_raise_what_futurist_raises(spacing: Any) -> None:
    from futurist import periodics as futurist_periodics

    with pytest.raises(Exception) as theirs:
        futurist_periodics.periodic(spacing)
    with pytest.raises(Exception) as ours:
        periodics.periodic(spacing)
    assert type(ours.value) is type(theirs.value)


def test_a_disabled_callable_may_have_any_spacing_and_is_not_added() -> None:
    no_add_me = periodics.periodic(-0.5, enabled=False)(print)
    worker = periodics.PeriodicWorker([(no_add_me, None, None)])
    assert len(worker) == 0
    assert worker.add(no_add_me) is None
    assert len(worker) == 0


def test_a_callable_that_is_not_periodic_is_refused_by_the_worker_and_by_add() -> None:
    with pytest.raises(ValueError, match="missing required attributes"):
        periodics.PeriodicWorker([(print, None, None)])
    with pytest.raises(ValueError, match="must be callable"):
        periodics.PeriodicWorker([(42, None, None)])  # type: ignore[list-item]
    worker = periodics.PeriodicWorker([])
    with pytest.raises(ValueError):
        worker.add(print)
    assert len(worker) == 0


def test_a_tampered_spacing_is_refused_by_the_worker() -> None:
    cb = periodics.periodic(1)(print)
    cb._periodic_spacing = 0  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="greater than zero"):
        periodics.PeriodicWorker([(cb, None, None)])


@pytest.mark.parametrize("name", ["not_a_strategy", "", None, ["last_started"]])
def test_an_unknown_strategy_is_refused_with_valueerror(name: Any) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        periodics.PeriodicWorker([], schedule_strategy=name)


def test_bad_callbacks_and_factories_are_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        periodics.PeriodicWorker([], on_failure="not-a-func")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        periodics.PeriodicWorker([], executor_factory=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        periodics.PeriodicWorker([], now_func=None)  # type: ignore[arg-type]


def test_start_refuses_an_empty_worker_unless_allowed() -> None:
    with pytest.raises(RuntimeError, match="without any callables"):
        periodics.PeriodicWorker([]).start()


def test_wait_on_a_worker_never_started_times_out() -> None:
    assert periodics.PeriodicWorker([]).wait(0.01) is False


def test_the_public_names_of_futurist_periodics_exist() -> None:
    from futurist import periodics as futurist_periodics

    public = {n for n in dir(futurist_periodics) if not n.startswith("_")}
    # Names futurist's module merely imports (typing, stdlib, itself) are not its API.
    imported = {
        "Any", "Callable", "Generator", "Iterable", "NamedTuple", "ParamSpec", "TYPE_CHECKING",
        "TypeVar", "annotations", "collections", "fractions", "functools", "futures", "futurist",
        "heapq", "inspect", "logging", "math", "prettytable", "random", "threading", "utils",
    }  # fmt: skip
    missing = sorted(n for n in public - imported if not hasattr(periodics, n))
    assert missing == []
    assert periodics.PERIODIC == futurist_periodics.PERIODIC
    assert periodics.IMMEDIATE == futurist_periodics.IMMEDIATE
    assert set(periodics.PeriodicWorker.BUILT_IN_STRATEGIES) == set(
        futurist_periodics.PeriodicWorker.BUILT_IN_STRATEGIES
    )


# -- schedule strategies -----------------------------------------------------

STRATEGIES = periodics.PeriodicWorker.BUILT_IN_STRATEGIES
spacings = st.floats(min_value=0.001, max_value=1e4, allow_nan=False)
instants = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)
durations = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(spacings, instants, durations)
def test_each_strategy_schedules_as_its_name_says(
    spacing: float, started_at: float, took: float
) -> None:
    cb = periodics.periodic(spacing)(print)
    finished_at = started_at + took
    jitter = spacing * float(periodics.PeriodicWorker.DEFAULT_JITTER)
    slack = 1e-9 * max(1.0, finished_at)  # float rounding of sums this large
    for name, (next_run, first_run) in STRATEGIES.items():
        assert first_run(cb, started_at) == started_at + spacing
        when = next_run(cb, started_at, finished_at, None)
        base = name.removesuffix("_jitter")
        extra = jitter if name.endswith("_jitter") else 0.0
        if base == "last_started":
            expected_low = started_at + spacing
        elif base == "last_finished":
            expected_low = finished_at + spacing
        else:
            # The first multiple of spacing after finished_at: on the grid, within one spacing.
            assert when > finished_at - slack
            assert when - finished_at <= spacing + extra + slack
            grid = when / spacing if not extra else None
            if grid is not None:
                assert abs(grid - round(grid)) < 1e-6 * max(1.0, grid)
            continue
        assert expected_low - slack <= when <= expected_low + extra + slack, name


def test_jitter_spreads_runs_but_stays_within_five_percent() -> None:
    next_run, _first = STRATEGIES["last_started_jitter"]
    cb = periodics.periodic(10)(print)
    values = {next_run(cb, 100.0, 101.0, None) for _ in range(200)}
    assert len(values) > 100
    assert all(110.0 <= v <= 110.5 for v in values)


def fake_clock_worker(
    strategy: str, clock: list[float], run_time: float, runs: int
) -> tuple[periodics.PeriodicWorker, list[float]]:
    """A worker on ``clock`` (a one-item list) whose callable advances it by ``run_time``
    and stops the worker after ``runs`` runs; returns the worker and the start times."""
    starts: list[float] = []

    @periodics.periodic(2)
    def job() -> None:
        starts.append(clock[0])
        clock[0] += run_time
        if len(starts) == runs:
            worker.stop()

    worker = worker_of(
        job,
        schedule_strategy=strategy,
        now_func=lambda: clock[0],
        executor_factory=greenpool.SynchronousExecutor,
    )
    return worker, starts


def earliest_next_start(strategy: str, spacing: float, started: float, finished: float) -> float:
    if strategy == "last_started":
        return started + spacing
    if strategy == "last_finished":
        return finished + spacing
    return (math.floor(finished / spacing) + 1) * spacing  # aligned_last_finished


@pytest.mark.parametrize("strategy", ["last_started", "last_finished", "aligned_last_finished"])
def test_no_run_starts_before_its_strategy_says(strategy: str, where: str, started: Any) -> None:
    # Runs of 10 ms every 20 ms: the three strategies disagree by 10 ms or
    # more, and a run that started early by even 1 ms would show.
    spacing, run_time, slack = 0.02, 0.01, 0.001
    runs: list[tuple[float, float]] = []

    @periodics.periodic(spacing)
    def job() -> None:
        began = time.monotonic()
        time.sleep(run_time)
        runs.append((began, time.monotonic()))

    worker = worker_of(
        job, schedule_strategy=strategy, executor_factory=greenpool.SynchronousExecutor
    )
    run = started(worker, where)
    eventually(lambda: len(runs) >= 6)
    run.stop()
    for (began, ended), (next_began, _) in itertools.pairwise(runs):
        assert next_began >= earliest_next_start(strategy, spacing, began, ended) - slack


# -- lateness ----------------------------------------------------------------


def test_lateness_is_how_long_after_its_due_time_each_run_started() -> None:
    # Every 2 s (last_started) but each run takes 3 s: the first is due at 2
    # and starts at 2.5, then each starts 3 s after the last, due 2 s after it.
    clock = [0.0]
    worker, starts = fake_clock_worker("last_started", clock, run_time=3.0, runs=5)
    clock[0] = 2.5
    worker.start()
    assert starts == [2.5, 5.5, 8.5, 11.5, 14.5]
    (watcher,) = worker.iter_watchers()
    assert watcher.max_lateness == 1.0
    assert watcher.average_lateness == pytest.approx((0.5 + 4 * 1.0) / 5)
    p50, _p90, p99 = watcher.lateness_percentiles()
    # Histogram buckets: exact to 1/16, never below the true value.
    assert 1.0 <= p50 <= 1.0625
    assert p99 == watcher.lateness_p99 == 1.0  # Capped at the exact maximum.
    assert watcher.elapsed == 15.0
    assert watcher.average_elapsed == 3.0
    assert watcher.elapsed_waiting == 0.0  # The synchronous executor starts it at once.


def test_lateness_is_zero_before_any_run_and_averages_raise_as_futurist() -> None:
    worker = worker_of(periodics.periodic(1)(print))
    (watcher,) = worker.iter_watchers()
    assert watcher.lateness_percentiles() == (0.0, 0.0, 0.0)
    assert (watcher.max_lateness, watcher.average_lateness) == (0.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        _ = watcher.average_elapsed
    with pytest.raises(ZeroDivisionError):
        _ = watcher.average_elapsed_waiting


def test_an_overloaded_worker_shows_in_lateness(where: str, started: Any) -> None:
    # One executor slot, two callables due every 0.05 s that each take 0.1 s
    # of real work: neither can start on time, by at least 0.05 s a run.
    @periodics.periodic(0.05)
    def slow_a() -> None:
        time.sleep(0.1)

    @periodics.periodic(0.05)
    def slow_b() -> None:
        time.sleep(0.1)

    worker = worker_of(slow_a, slow_b, executor_factory=greenpool.SynchronousExecutor)
    run = started(worker, where)
    eventually(lambda: all(w.runs >= 4 for w in worker.iter_watchers()))
    run.stop()
    for watcher in worker.iter_watchers():
        assert watcher.lateness_p50 >= 0.05
        assert watcher.max_lateness >= watcher.lateness_p99 >= watcher.lateness_p50
    assert "Lateness p99" in worker.pformat()


# -- running -----------------------------------------------------------------


def test_runs_count_successes_and_failures_and_report_failures(where: str, started: Any) -> None:
    failures: list[tuple[Any, ...]] = []
    calls = {"ok": 0, "bad": 0}

    @periodics.periodic(0.01, run_immediately=True)
    def ok() -> None:
        calls["ok"] += 1

    @periodics.periodic(0.01, run_immediately=True)
    def bad() -> None:
        calls["bad"] += 1
        raise RuntimeError("broke")

    def on_failure(cb: Any, kind: str, spacing: float, exc_info: Any, traceback: Any = None):
        failures.append((cb, kind, spacing, exc_info[0], traceback))

    worker = worker_of(ok, bad, on_failure=on_failure)
    run = started(worker, where)
    eventually(lambda: calls["ok"] >= 3 and len(failures) >= 3)
    run.stop()
    watcher_ok, watcher_bad = worker.iter_watchers()
    assert watcher_ok.successes == watcher_ok.runs == calls["ok"]
    assert watcher_ok.failures == 0
    assert watcher_bad.failures == watcher_bad.runs == calls["bad"] == len(failures)
    assert failures[0] == (bad, periodics.IMMEDIATE, 0.01, RuntimeError, None)
    assert failures[1] == (bad, periodics.PERIODIC, 0.01, RuntimeError, None)
    assert watcher_ok.work == periodics.Work(f"{__name__}.{ok.__qualname__}", ok, (), {})


def test_a_failing_on_failure_is_logged_and_the_worker_carries_on(
    where: str, started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @periodics.periodic(0.01)
    def bad() -> None:
        raise RuntimeError("broke")

    def on_failure(*args: Any, **kwargs: Any) -> None:
        raise ValueError("on_failure broke too")

    worker = worker_of(bad, on_failure=on_failure)
    run = started(worker, where)
    eventually(lambda: next(worker.iter_watchers()).failures >= 3)
    run.stop()
    assert "On failure callback" in caplog.text


def test_the_default_on_failure_logs_the_traceback(
    where: str, started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @periodics.periodic(0.01)
    def bad() -> None:
        raise RuntimeError("broke in bad")

    worker = worker_of(bad)
    run = started(worker, where)
    eventually(lambda: next(worker.iter_watchers()).failures >= 1)
    run.stop()
    assert "Failed to call periodic" in caplog.text
    assert "RuntimeError: broke in bad" in caplog.text


def test_never_again_stops_one_callable_and_auto_stop_ends_the_worker(
    where: str, started: Any
) -> None:
    calls: list[str] = []

    @periodics.periodic(0.01)
    def once() -> None:
        calls.append("once")
        raise periodics.NeverAgain()

    @periodics.periodic(0.01)
    def twice() -> None:
        calls.append("twice")
        if calls.count("twice") == 2:
            raise periodics.NeverAgain()

    worker = worker_of(once, twice)
    run = started(worker, where, auto_stop_when_empty=True)
    run.join()  # Returns by itself: nothing is left to run.
    assert sorted(calls) == ["once", "twice", "twice"]
    for watcher in worker.iter_watchers():
        assert watcher.requested_stop
        assert watcher.failures == 0
        assert watcher.successes == watcher.runs
    assert worker.wait(0) is True


def test_callables_get_their_arguments(where: str, started: Any) -> None:
    seen: list[tuple[Any, ...]] = []

    @periodics.periodic(0.01, run_immediately=True)
    def record(*args: Any, **kwargs: Any) -> None:
        seen.append((args, kwargs))

    worker = periodics.PeriodicWorker([(record, (1, 2), {"x": 3})])
    run = started(worker, where)
    eventually(lambda: len(seen) >= 2)
    run.stop()
    assert seen[0] == ((1, 2), {"x": 3})


def test_create_picks_the_public_periodic_methods_of_objects(where: str, started: Any) -> None:
    seen: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    class Service:
        @periodics.periodic(0.01, run_immediately=True)
        def poll(self, *args: Any, **kwargs: Any) -> None:
            seen.append(("poll", args, kwargs))

        @periodics.periodic(0.01, run_immediately=True)
        def _hidden(self) -> None:
            seen.append(("hidden", (), {}))

        def plain(self) -> None:
            raise AssertionError("not periodic")

    worker = periodics.PeriodicWorker.create([Service()], args=("a",), kwargs={"b": 1})
    assert len(worker) == 1
    assert len(periodics.PeriodicWorker.create([Service()], exclude_hidden=False)) == 2
    run = started(worker, where)
    eventually(lambda: len(seen) >= 2)
    run.stop()
    assert {entry[0] for entry in seen} == {"poll"}
    assert seen[0] == ("poll", ("a",), {"b": 1})


def test_add_while_running_runs_an_immediate_callable_at_once(where: str, started: Any) -> None:
    ran = threading.Event()

    @periodics.periodic(HOURS, run_immediately=True)
    def now() -> None:
        ran.set()

    worker = periodics.PeriodicWorker([])
    run = started(worker, where, allow_empty=True)
    eventlet.sleep(0.05)
    watcher = worker.add(now)
    assert watcher is not None
    eventually(ran.is_set)  # Not MAX_LOOP_IDLE (30 s) later: the scheduler was woken.
    eventually(lambda: watcher.runs == 1)
    run.stop()


def test_add_while_running_schedules_a_callable_sooner_than_the_rest(
    where: str, started: Any
) -> None:
    ran = threading.Event()

    @periodics.periodic(HOURS)
    def far() -> None:
        raise AssertionError("hours away")

    @periodics.periodic(0.01)
    def soon() -> None:
        ran.set()

    worker = worker_of(far)
    run = started(worker, where)
    eventlet.sleep(0.05)
    worker.add(soon)
    eventually(ran.is_set)  # The scheduler planned to sleep for hours; it was woken.
    run.stop()


def test_start_twice_is_refused(where: str, started: Any) -> None:
    worker = periodics.PeriodicWorker([])
    run = started(worker, where, allow_empty=True)
    eventually(lambda: repr(worker).startswith("<PeriodicWorker running"))
    with pytest.raises(RuntimeError, match="twice"):
        worker.start(allow_empty=True)
    run.stop()


# -- stop, wait, reset -------------------------------------------------------


@pytest.mark.parametrize("stopper", ["same kind", "other kind"])
def test_stop_ends_start_promptly_when_the_next_run_is_hours_away(
    where: str, stopper: str, started: Any
) -> None:
    @periodics.periodic(HOURS)
    def far() -> None:
        raise AssertionError("hours away")

    worker = worker_of(far)
    run = started(worker, where)
    eventlet.sleep(0.05)  # The scheduler is parked until the run hours away.
    if (stopper == "same kind") == (where == "green"):
        worker.stop()  # From a green thread of this hub.
    else:
        stopper_thread = threading.Thread(target=worker.stop)
        stopper_thread.start()
        stopper_thread.join(LONG)
    # Well before the scheduler's own wake-up (MAX_LOOP_IDLE, 30 s), let alone the run:
    assert worker.MAX_LOOP_IDLE > LONG
    assert_waits_true(worker)
    run.join()


def assert_waits_true(worker: periodics.PeriodicWorker) -> None:
    """``worker.wait(LONG)`` returns True, waited for from a native thread (the hub runs on)."""
    answer: list[bool] = []
    waiter = threading.Thread(target=lambda: answer.append(worker.wait(LONG)))
    waiter.start()
    eventually(lambda: not waiter.is_alive(), LONG + 1)
    assert answer == [True]


def test_stop_before_start_makes_start_return_at_once_until_reset(where: str) -> None:
    calls: list[int] = []

    @periodics.periodic(0.01, run_immediately=True)
    def job() -> None:
        calls.append(1)

    worker = worker_of(job)
    worker.stop()
    Started(worker, where).join()
    assert calls == []
    worker.reset()
    run = Started(worker, where)
    eventually(lambda: len(calls) >= 1)
    run.stop()


def test_reset_zeroes_every_count(where: str, started: Any) -> None:
    @periodics.periodic(0.01, run_immediately=True)
    def bad() -> None:
        raise RuntimeError("broke")

    worker = worker_of(bad, on_failure=lambda *a, **k: None)
    run = started(worker, where)
    eventually(lambda: next(worker.iter_watchers()).runs >= 2)
    run.stop()
    worker.reset()
    (watcher,) = worker.iter_watchers()
    assert (watcher.runs, watcher.successes, watcher.failures) == (0, 0, 0)
    assert (watcher.elapsed, watcher.elapsed_waiting, watcher.max_lateness) == (0, 0, 0)
    assert watcher.requested_stop is False
    assert worker.wait(0) is False  # As futurist: reset forgets that start() returned.


# -- executors ---------------------------------------------------------------


def test_the_default_executor_in_a_green_thread_is_a_green_pool() -> None:
    worker = worker_of(periodics.periodic(0.01, run_immediately=True)(lambda: None))
    run = Started(worker, "green")
    (watcher,) = worker.iter_watchers()
    eventually(lambda: watcher.runs >= 3)
    stats = watcher.executor_statistics
    assert isinstance(stats, greenpool.ExecutorStatistics)
    assert stats.submitted >= 3
    run.stop()
    assert watcher.executor_statistics.executed == watcher.runs
    assert "GreenThreadPoolExecutor" in repr(worker.executor)


def test_the_default_executor_in_a_native_thread_is_synchronous() -> None:
    worker = worker_of(periodics.periodic(0.01, run_immediately=True)(lambda: None))
    run = Started(worker, "native")
    (watcher,) = worker.iter_watchers()
    eventually(lambda: watcher.runs >= 3)
    run.stop()
    assert watcher.executor_statistics.executed == watcher.runs
    assert "SynchronousExecutor" in repr(worker.executor)


@pytest.mark.parametrize("kind", ["green", "thread", "synchronous"])
def test_runs_on_any_greenpool_executor_and_reports_its_statistics(
    kind: str, where: str, started: Any
) -> None:
    makers: dict[str, Callable[[], greenpool.Executor]] = {
        "green": lambda: greenpool.GreenThreadPoolExecutor(4),
        "thread": lambda: greenpool.ThreadPoolExecutor(2),
        "synchronous": greenpool.SynchronousExecutor,
    }
    executor = makers[kind]()
    fast = periodics.periodic(0.01, run_immediately=True)(lambda: None)
    also = periodics.periodic(0.02)(lambda: None)
    worker = worker_of(fast, also, executor_factory=lambda: executor)
    run = started(worker, where)
    eventually(lambda: all(w.runs >= 3 for w in worker.iter_watchers()))
    run.stop()
    assert not executor.alive  # A factory's executor is shut down with the worker.
    stats = executor.statistics
    assert stats.executed == stats.submitted == sum(w.runs for w in worker.iter_watchers())
    assert all(w.executor_statistics == stats for w in worker.iter_watchers())


def test_an_existing_executor_is_used_and_left_running(where: str, started: Any) -> None:
    executor = greenpool.ThreadPoolExecutor(2)
    try:
        job = periodics.periodic(0.01, run_immediately=True)(lambda: None)
        worker = worker_of(job, executor_factory=periodics.ExistingExecutor(executor))
        run = started(worker, where)
        eventually(lambda: next(worker.iter_watchers()).runs >= 2)
        run.stop()
        assert executor.alive
        assert executor.statistics.executed == next(worker.iter_watchers()).runs
    finally:
        executor.shutdown()


def test_a_refused_submission_is_retried_later_and_counts_as_lateness(
    where: str, started: Any
) -> None:
    refusals = [0]

    def refuse_first(executor: Any, backlog: int) -> None:
        if refusals[0] == 0:
            refusals[0] += 1
            raise greenpool.RejectedSubmission()

    executor = greenpool.ThreadPoolExecutor(1, check_and_reject=refuse_first)
    job = periodics.periodic(0.01)(lambda: None)
    worker = worker_of(job, executor_factory=lambda: executor)
    run = started(worker, where)
    (watcher,) = worker.iter_watchers()
    eventually(lambda: watcher.runs >= 1)
    run.stop()
    assert executor.statistics.rejected == 1
    # Retried 0.9 to 1.1 s after the refusal, and that delay is lateness.
    assert watcher.max_lateness >= 0.9


def test_a_stdlib_process_pool_gets_the_traceback_as_text(python: Any) -> None:
    """In an interpreter of its own: importing ``distributed`` (the dask tests do, in this
    one) installs tblib's traceback pickling process-wide, and the stdlib's pool then
    sends real tracebacks back."""
    done = python(
        """
        import concurrent.futures, multiprocessing, threading
        from greenpool import periodics

        @periodics.periodic(0.01, run_immediately=True)
        def failing_in_a_process():
            _ = 1 / 0

        failures = []
        got_one = threading.Event()

        def on_failure(cb, kind, spacing, exc_info, traceback=None):
            failures.append((exc_info, traceback))
            got_one.set()

        executor = concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("fork")
        )
        worker = periodics.PeriodicWorker(
            [(failing_in_a_process, None, None)],
            executor_factory=lambda: executor,
            on_failure=on_failure,
        )
        runner = threading.Thread(target=worker.start)
        runner.start()
        assert got_one.wait(30)
        worker.stop()
        worker.wait()
        runner.join(30)
        (exc_type, _exc_value, tb), text = failures[0]
        assert exc_type is ZeroDivisionError and tb is None, (exc_type, tb)
        assert "ZeroDivisionError" in text and "failing_in_a_process" in text, text
        print("text only")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "text only"


# -- the hub and monkey patching ---------------------------------------------


def test_a_green_worker_never_blocks_the_hub(started: Any) -> None:
    @periodics.periodic(0.005, run_immediately=True)
    def io() -> None:
        eventlet.sleep(0.002)

    worker = worker_of(io, periodics.periodic(HOURS)(lambda: None))
    with Ticker() as ticker:
        run = started(worker, "green")
        before = ticker.ticks
        eventually(lambda: ticker.ticks >= before + 20)
        eventually(lambda: next(worker.iter_watchers()).runs >= 5)
        run.stop()


def test_pformat_lists_every_callable_and_refuses_unknown_columns() -> None:
    worker = worker_of(periodics.periodic(1)(print), periodics.periodic(2)(len))
    table = worker.pformat()
    assert "builtins.print" in table and "builtins.len" in table
    assert worker.pformat(columns=["Name"]).count("\n") == 5  # rule, header, rule, 2 rows, rule
    with pytest.raises(ValueError):
        worker.pformat(columns=[])
    with pytest.raises(ValueError):
        worker.pformat(columns=["not a column"])


@pytest.mark.timeout(90)
def test_workers_in_native_and_green_threads_work_under_monkey_patching() -> None:
    proc = run_program("periodic_monkey_patched.py", timeout=80)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[-1] == "ok", proc.stdout + proc.stderr


def test_reject_when_reached_backpressure_is_retried(where: str, started: Any) -> None:
    # A full pool refuses; the worker logs and retries rather than dying.
    gate = threading.Event()
    executor = greenpool.ThreadPoolExecutor(1, check_and_reject=reject_when_reached(1))
    blocker = executor.submit(gate.wait, LONG)
    executor.submit(gate.wait, LONG)  # Queued: the backlog is now 1, and full.
    job = periodics.periodic(0.01, run_immediately=True)(lambda: None)
    worker = worker_of(job, executor_factory=lambda: executor)
    run = started(worker, where)
    eventually(lambda: executor.statistics.rejected >= 1)
    gate.set()
    blocker.result(LONG)
    eventually(lambda: next(worker.iter_watchers()).runs >= 1)
    run.stop()
