"""SynchronousExecutor: calls run in the caller, with futurist's constructor and restart."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import greenpool
from greenpool import SynchronousExecutor
from greenpool.rejection import reject_when_reached

pytestmark = pytest.mark.timeout(20)


@pytest.mark.core
def test_calls_run_in_the_caller_before_submit_returns() -> None:
    executor = SynchronousExecutor()
    order: list[str] = []

    def call() -> int:
        order.append("call")
        return threading.get_ident()

    future = executor.submit(call)
    order.append("returned")
    assert order == ["call", "returned"]
    assert future.done()
    assert future.result(timeout=0) == threading.get_ident()
    assert executor.num_workers == 0


@pytest.mark.core
def test_it_returns_the_same_future_type_as_every_executor() -> None:
    future = SynchronousExecutor().submit(abs, -2)
    assert type(future) is greenpool.WorkItem  # As from every other executor.
    assert isinstance(future, greenpool.GreenFuture)


@pytest.mark.core
def test_submit_passes_arguments_including_a_keyword_named_fn() -> None:
    def call(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return args, kwargs

    future = SynchronousExecutor().submit(call, 1, fn="f", self="s")
    assert future.result(timeout=0) == ((1,), {"fn": "f", "self": "s"})


@pytest.mark.core
def test_exceptions_go_to_the_future_and_statistics_count_everything() -> None:
    executor = SynchronousExecutor()

    def boom() -> None:
        raise ValueError("boom")

    assert executor.submit(abs, -1).result(timeout=0) == 1
    failed = executor.submit(boom)
    assert isinstance(failed.exception(timeout=0), ValueError)
    stats = executor.statistics
    assert (stats.submitted, stats.executed, stats.failures) == (2, 2, 1)
    assert (stats.pending, stats.running, stats.cancelled, stats.rejected) == (0, 0, 0, 0)
    assert stats.runtime >= 0.0
    assert stats.started == 2


@pytest.mark.core
def test_statistics_inside_a_call_count_it_as_running() -> None:
    executor = SynchronousExecutor()
    future = executor.submit(lambda: executor.statistics)
    inside = future.result(timeout=0)
    assert (inside.submitted, inside.running, inside.pending, inside.executed) == (1, 1, 0, 0)
    assert executor.statistics.executed == 1


@pytest.mark.core
def test_check_and_reject_refuses_and_counts_rejections() -> None:
    seen: list[tuple[Any, int]] = []

    def check(executor: Any, backlog: int) -> None:
        seen.append((executor, backlog))
        if len(seen) == 2:
            raise greenpool.RejectedSubmission("second one")

    executor = SynchronousExecutor(check_and_reject=check)
    ran: list[int] = []
    executor.submit(ran.append, 1)
    with pytest.raises(greenpool.RejectedSubmission):
        executor.submit(ran.append, 2)
    executor.submit(ran.append, 3)
    assert ran == [1, 3]
    assert seen == [(executor, 0), (executor, 0), (executor, 0)]
    stats = executor.statistics
    assert (stats.submitted, stats.executed, stats.rejected) == (2, 2, 1)


@pytest.mark.core
def test_the_backlog_is_always_zero_so_reject_when_reached_1_never_refuses() -> None:
    # Calls run inline, so the backlog of a synchronous executor is always 0.
    executor = SynchronousExecutor(check_and_reject=reject_when_reached(1))
    assert [executor.submit(abs, -i).result(timeout=0) for i in range(3)] == [0, 1, 2]
    assert executor.statistics.rejected == 0
    assert executor.backlog == 0


@pytest.mark.core
def test_submit_after_shutdown_raises_and_restart_reopens_with_cleared_statistics() -> None:
    executor = SynchronousExecutor()
    executor.submit(abs, 1)
    executor.restart()  # Not shut down: nothing happens.
    assert executor.statistics.executed == 1
    executor.shutdown()
    assert not executor.alive
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)
    assert executor.statistics.executed == 1
    executor.restart()
    assert executor.alive
    assert executor.statistics == greenpool.ExecutorStatistics()
    assert executor.submit(abs, -5).result(timeout=0) == 5
    assert executor.statistics.executed == 1


@pytest.mark.core
def test_futurist_positional_green_flag_is_accepted() -> None:
    for green in (False, True):
        executor = SynchronousExecutor(green)
        assert executor.submit(abs, -4).result(timeout=0) == 4


@pytest.mark.core
def test_futurist_run_work_func_gets_the_work_item_and_calls_run() -> None:
    items: list[Any] = []

    def run_work(work: Any) -> None:
        items.append((work.fn, work.args, work.kwargs, work.future.done()))
        work.run()

    executor = SynchronousExecutor(False, run_work)
    future = executor.submit(divmod, 7, 2)
    assert future.result(timeout=0) == (3, 1)
    assert items == [(divmod, (7, 2), {}, False)]
    assert executor.statistics.executed == 1


@pytest.mark.core
def test_run_work_func_must_be_callable() -> None:
    with pytest.raises(ValueError):
        SynchronousExecutor(False, "run")  # type: ignore[arg-type]


@pytest.mark.core
def test_a_call_may_submit_to_the_same_executor() -> None:
    executor = SynchronousExecutor()

    def outer(depth: int) -> int:
        if depth == 0:
            return 0
        return 1 + executor.submit(outer, depth - 1).result(timeout=5)

    assert executor.submit(outer, 5).result(timeout=5) == 5
    stats = executor.statistics
    assert (stats.submitted, stats.executed, stats.running) == (6, 6, 0)


@pytest.mark.core
def test_non_callable_fn_is_refused_and_not_counted() -> None:
    executor = SynchronousExecutor()
    with pytest.raises(TypeError):
        executor.submit(None)  # type: ignore[arg-type]
    assert executor.statistics.submitted == 0


@pytest.mark.core
def test_map_runs_inline_in_order() -> None:
    executor = SynchronousExecutor()
    assert list(executor.map(pow, [2, 3, 4], [2, 2, 2])) == [4, 9, 16]


@pytest.mark.core
def test_name_and_context_manager() -> None:
    with SynchronousExecutor(name="inline") as executor:
        assert executor.name == "inline"
        executor.submit(abs, 1)
    assert not executor.alive
    assert SynchronousExecutor().name.startswith("SynchronousExecutor")


@pytest.mark.core
def test_calls_running_in_other_threads_are_not_backlog() -> None:
    # While two native threads each run their own call inline, a third
    # submitter's check_and_reject must see backlog 0 (reject_when_reached(1)
    # must not refuse it): no call here ever waits for a worker.
    backlogs: list[int] = []
    executor = SynchronousExecutor(check_and_reject=lambda _, backlog: backlogs.append(backlog))
    all_running = threading.Barrier(3)
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            executor.submit(all_running.wait, 5).result(timeout=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors, errors
    assert executor.statistics.executed == 3
    assert backlogs == [0, 0, 0]
