"""greenpool.waiters: wait for any or all of any mix of futures, from green or native threads."""

from __future__ import annotations

import concurrent.futures
import json
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import eventlet.event
import pytest
from helpers import (
    LONG,
    PATCHED_TICKER,
    WOKEN_BOUND,
    Ticker,
    assert_no_stray_switch,
    eventually,
    run_native,
    timed,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import greenpool
from greenpool import GreenThreadPoolExecutor
from greenpool.waiters import DoneAndNotDoneFutures, wait_for_all, wait_for_any

pytestmark = pytest.mark.timeout(20)

WAITS = [pytest.param(wait_for_all, id="all"), pytest.param(wait_for_any, id="any")]


# -- helpers ------------------------------------------------------------------


def finished(value: Any = None) -> greenpool.Future[Any]:
    future: greenpool.Future[Any] = greenpool.Future()
    future.set_result(value)
    return future


class Gate:
    """A stdlib thread pool call that blocks on a real event until the test opens it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, value: Any = None) -> Any:
        assert self._event.wait(LONG)
        return value

    def open(self) -> None:
        self._event.set()


@pytest.fixture
def green() -> Iterator[GreenThreadPoolExecutor]:
    executor = GreenThreadPoolExecutor(8)
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    executor = concurrent.futures.ThreadPoolExecutor(4)
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def green_sleep_then(value: Any, delay: float = 0.02) -> Any:
    eventlet.sleep(delay)
    return value


def native_sleep_then(value: Any, delay: float = 0.02) -> Any:
    time.sleep(delay)
    return value


# -- what they return ---------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("wait", WAITS)
def test_returns_a_done_and_not_done_named_tuple(wait: Callable[..., Any]) -> None:
    done_one, pending = finished(1), greenpool.Future()
    result = wait([done_one, pending], timeout=0)
    assert type(result) is DoneAndNotDoneFutures
    assert isinstance(result, tuple)
    assert result._fields == ("done", "not_done")
    assert result.done == {done_one}
    assert result.not_done == {pending}
    done, not_done = result
    assert (done, not_done) == ({done_one}, {pending})


@pytest.mark.core
@pytest.mark.parametrize("wait", WAITS)
def test_empty_input_returns_at_once(wait: Callable[..., Any]) -> None:
    assert wait([]) == (set(), set())
    assert wait(iter([]), timeout=0) == (set(), set())
    assert run_native(wait, []) == (set(), set())


@pytest.mark.core
@pytest.mark.parametrize("wait", WAITS)
def test_already_done_futures_return_at_once_without_a_timeout(wait: Callable[..., Any]) -> None:
    failed: greenpool.Future[Any] = greenpool.Future()
    failed.set_exception(ValueError())
    notified: greenpool.Future[Any] = greenpool.Future()
    notified.cancel()
    notified.set_running_or_notify_cancel()
    stdlib: concurrent.futures.Future[Any] = concurrent.futures.Future()
    stdlib.set_result(2)
    futures = [finished(1), failed, notified, stdlib]
    assert wait(futures) == (set(futures), set())  # timeout=None: hangs if it waits.
    assert run_native(wait, futures) == (set(futures), set())


@pytest.mark.core
@pytest.mark.parametrize("wait", WAITS)
def test_accepts_any_iterable_once(wait: Callable[..., Any]) -> None:
    futures = [finished(n) for n in range(3)]
    assert wait(future for future in futures) == (set(futures), set())


@pytest.mark.core
def test_duplicates_are_waited_for_once() -> None:
    first, second = greenpool.Future(), greenpool.Future()

    def complete() -> None:
        time.sleep(0.02)
        first.set_result(1)
        second.set_result(2)

    thread = threading.Thread(target=complete, daemon=True)
    thread.start()
    result, elapsed = run_native(timed, lambda: wait_for_all([first, first, second, first], LONG))
    assert result == ({first, second}, set())
    assert elapsed < WOKEN_BOUND  # Did not wait for a completion count that includes repeats.
    assert wait_for_any([second, second], timeout=0) == ({second}, set())


# -- timeouts -----------------------------------------------------------------


@pytest.mark.core
def test_wait_for_all_timeout_returns_partial_result() -> None:
    soon, never = greenpool.Future(), greenpool.Future()
    eventlet.spawn_after(0.01, soon.set_result, 1)
    started = time.monotonic()
    assert wait_for_all([soon, never], timeout=0.1) == ({soon}, {never})
    assert time.monotonic() - started >= 0.1  # It waited the whole timeout for `never`.
    assert run_native(wait_for_all, [soon, never], 0.05) == ({soon}, {never})


@pytest.mark.core
def test_wait_for_any_timeout_returns_nothing_done() -> None:
    futures = [greenpool.Future(), concurrent.futures.Future()]
    assert wait_for_any(futures, timeout=0.05) == (set(), set(futures))
    assert run_native(wait_for_any, futures, 0.05) == (set(), set(futures))


@pytest.mark.core
@pytest.mark.parametrize("wait", WAITS)
def test_zero_or_negative_timeout_polls(wait: Callable[..., Any]) -> None:
    done_one, pending = finished(), greenpool.Future()
    for timeout in (0, -1):
        assert wait([done_one, pending], timeout=timeout) == ({done_one}, {pending})
        assert wait([pending], timeout=timeout) == (set(), {pending})


# -- cancellation -------------------------------------------------------------


@pytest.mark.core
@pytest.mark.parametrize("wait", WAITS)
def test_cancelled_counts_as_done_only_once_notified(wait: Callable[..., Any]) -> None:
    """As in concurrent.futures.wait: done once the executor has let go of the call."""
    future: greenpool.Future[Any] = greenpool.Future()
    future.cancel()
    assert wait([future], timeout=0) == (set(), {future})

    def notify() -> None:
        time.sleep(0.02)
        future.set_running_or_notify_cancel()

    thread = threading.Thread(target=notify, daemon=True)
    thread.start()
    result, elapsed = timed(lambda: wait([future], timeout=LONG))
    assert result == ({future}, set())
    assert elapsed < WOKEN_BOUND
    eventually(lambda: not thread.is_alive())


@pytest.mark.core
def test_call_cancelled_in_an_executor_queue_wakes_wait_for_all() -> None:
    executor = GreenThreadPoolExecutor(1)
    gate = eventlet.event.Event()
    try:
        blocker = executor.submit(gate.wait)
        queued = executor.submit(int, "1")
        assert queued.cancel()
        eventlet.spawn_after(0.02, gate.send, "open")
        result, elapsed = run_native(timed, lambda: wait_for_all([blocker, queued], LONG))
        assert result == ({blocker, queued}, set())
        assert elapsed < WOKEN_BOUND
        assert queued.cancelled()
        assert blocker.result() == "open"
    finally:
        if not gate.ready():
            gate.send(None)
        executor.shutdown(wait=True)


@pytest.mark.core
def test_shutdown_cancel_futures_wakes_waiters_on_queued_calls() -> None:
    executor = GreenThreadPoolExecutor(1)
    gate = eventlet.event.Event()
    blocker = executor.submit(gate.wait)
    queued = [executor.submit(int, str(n)) for n in range(3)]

    def shut_down() -> None:
        eventlet.sleep(0.02)
        executor.shutdown(wait=False, cancel_futures=True)
        gate.send("open")

    eventlet.spawn(shut_down)
    result, elapsed = run_native(timed, lambda: wait_for_all([blocker, *queued], LONG))
    assert result == ({blocker, *queued}, set())
    assert all(future.cancelled() for future in queued)
    assert elapsed < WOKEN_BOUND
    executor.shutdown(wait=True)


@pytest.mark.core
@pytest.mark.parametrize("wait", WAITS)
def test_green_wait_given_up_by_eventlet_timeout_leaves_no_stray_switch(
    wait: Callable[..., Any],
) -> None:
    futures = [greenpool.Future(), concurrent.futures.Future()]
    with pytest.raises(eventlet.Timeout), eventlet.Timeout(0.02):
        wait(futures)
    for future in futures:
        future.set_result(1)  # Must not resume the wait given up above.
    assert_no_stray_switch()
    assert wait(futures, timeout=0) == (set(futures), set())


# -- mixes of futures, from a green thread and from a native thread ---------


@pytest.mark.core
def test_wait_for_all_mix_from_a_green_thread_keeps_hub_running(
    green: GreenThreadPoolExecutor, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    by_native: greenpool.Future[str] = greenpool.Future()
    futures = [
        green.submit(green_sleep_then, "green"),
        pool.submit(native_sleep_then, "pool"),
        by_native,
    ]
    thread = threading.Thread(
        target=lambda: (time.sleep(0.02), by_native.set_result("native")), daemon=True
    )
    with Ticker() as ticker:
        before = ticker.ticks
        thread.start()
        result, elapsed = timed(lambda: wait_for_all(futures, timeout=LONG))
        assert ticker.ticks > before
    assert result == (set(futures), set())
    assert elapsed < WOKEN_BOUND
    assert [f.result() for f in futures] == ["green", "pool", "native"]
    eventually(lambda: not thread.is_alive())


@pytest.mark.core
def test_wait_for_all_mix_from_a_native_thread(
    green: GreenThreadPoolExecutor, pool: concurrent.futures.ThreadPoolExecutor
) -> None:
    by_green: greenpool.Future[str] = greenpool.Future()
    futures = [
        green.submit(green_sleep_then, "green"),
        pool.submit(native_sleep_then, "pool"),
        by_green,
    ]
    eventlet.spawn_after(0.03, by_green.set_result, "by green")
    result, elapsed = run_native(timed, lambda: wait_for_all(futures, timeout=LONG))
    assert result == (set(futures), set())
    assert elapsed < WOKEN_BOUND
    assert [f.result() for f in futures] == ["green", "pool", "by green"]


@pytest.mark.core
@pytest.mark.parametrize("caller", ["green", "native"])
@pytest.mark.parametrize("first", ["green executor", "stdlib pool", "native thread"])
def test_wait_for_any_mix_returns_as_soon_as_one_is_done(
    green: GreenThreadPoolExecutor,
    pool: concurrent.futures.ThreadPoolExecutor,
    caller: str,
    first: str,
) -> None:
    green_gate = eventlet.event.Event()
    pool_gate = Gate()
    native_gate = threading.Event()
    by_native: greenpool.Future[str] = greenpool.Future()

    def complete_natively() -> None:
        assert native_gate.wait(LONG)
        by_native.set_result("native thread")

    futures = {
        "green executor": green.submit(lambda: green_gate.wait() or "green executor"),
        "stdlib pool": pool.submit(pool_gate.wait, "stdlib pool"),
        "native thread": by_native,
    }
    openers: dict[str, Callable[[], Any]] = {
        "green executor": lambda: green_gate.send(None),
        "stdlib pool": pool_gate.open,
        "native thread": native_gate.set,
    }
    thread = threading.Thread(target=complete_natively, daemon=True)
    thread.start()
    eventlet.spawn_after(0.02, openers[first])

    def wait() -> tuple[Any, float]:
        return timed(lambda: wait_for_any(futures.values(), timeout=LONG))

    try:
        if caller == "green":
            with Ticker() as ticker:
                before = ticker.ticks
                (done, not_done), elapsed = wait()
                assert ticker.ticks > before
        else:
            (done, not_done), elapsed = run_native(wait)
        assert done == {futures[first]}
        assert not_done == {f for name, f in futures.items() if name != first}
        assert elapsed < WOKEN_BOUND
    finally:
        for name, opener in openers.items():
            if name != first:
                opener()
    assert wait_for_all(futures.values(), timeout=LONG) == (set(futures.values()), set())
    assert {name: f.result() for name, f in futures.items()} == {name: name for name in futures}
    eventually(lambda: not thread.is_alive())


@pytest.mark.core
def test_overlapping_waits_from_many_threads_do_not_deadlock() -> None:
    """Waiters lock futures in one global order, so overlapping sets cannot deadlock."""
    futures: list[concurrent.futures.Future[int]] = [
        greenpool.Future() if n % 2 else concurrent.futures.Future() for n in range(6)
    ]
    results: list[DoneAndNotDoneFutures] = []

    def wait(order: list[int]) -> None:
        for _ in range(20):
            wait_for_any([futures[i] for i in order], timeout=0)
        results.append(wait_for_all([futures[i] for i in order], timeout=LONG))

    orders = [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 5, 0, 3], [1, 3, 5]]
    threads = [threading.Thread(target=wait, args=(order,), daemon=True) for order in orders]
    greens = [eventlet.spawn(wait, order) for order in orders]
    for thread in threads:
        thread.start()
    for n, future in enumerate(futures):
        future.set_result(n)
        eventlet.sleep(0)
    for green_thread in greens:
        green_thread.wait()
    eventually(lambda: not any(thread.is_alive() for thread in threads))
    assert len(results) == 2 * len(orders)
    assert all(not result.not_done for result in results)


# -- futurist cannot do this -------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_futurist_waiters_raise_on_green_and_stdlib_mix() -> None:
    import futurist  # Imported here: it imports eventlet and warns about it.
    import futurist.waiters

    green_future = futurist.GreenFuture()
    green_future.set_result(1)
    stdlib_future: concurrent.futures.Future[int] = concurrent.futures.Future()
    stdlib_future.set_result(2)
    mix = [green_future, stdlib_future]
    with pytest.raises(RuntimeError, match="green futures and 1 non-green"):
        futurist.waiters.wait_for_any(mix, timeout=1)
    with pytest.raises(RuntimeError, match="green futures and 1 non-green"):
        futurist.waiters.wait_for_all(mix, timeout=1)
    # The same mix, with greenpool's green future, just works.
    ours = [greenpool.GreenFuture(), stdlib_future]
    ours[0].set_result(1)
    assert wait_for_any(ours, timeout=1) == (set(ours), set())
    assert wait_for_all(ours, timeout=1) == (set(ours), set())


# -- invariants over random futures, completers and orders -------------------

OUTCOMES = ["result", "exception", "cancel"]
COMPLETERS = ["green executor", "native thread", "stdlib pool"]


def settle(future: concurrent.futures.Future[Any], outcome: str, n: int) -> None:
    """Resolve ``future`` as an executor would."""
    if outcome == "cancel":
        assert future.cancel()
        assert not future.set_running_or_notify_cancel()
    elif outcome == "exception":
        future.set_exception(ValueError(n))
    else:
        future.set_result(n)


class Scenario:
    """Futures of random kinds, settled one by one, in a random order, by random threads."""

    def __init__(self, draw: Callable[..., Any]) -> None:
        size = draw(st.integers(min_value=1, max_value=6))
        kinds = draw(
            st.lists(st.sampled_from(["greenpool", "stdlib"]), min_size=size, max_size=size)
        )
        self.futures: list[concurrent.futures.Future[Any]] = [
            greenpool.Future() if kind == "greenpool" else concurrent.futures.Future()
            for kind in kinds
        ]
        self.how = draw(
            st.lists(
                st.tuples(st.sampled_from(COMPLETERS), st.sampled_from(OUTCOMES)),
                min_size=size,
                max_size=size,
            )
        )
        self.order = draw(st.permutations(range(size)))
        extra = draw(st.lists(st.sampled_from(range(size)), max_size=3))
        self.argument = self.futures + [self.futures[i] for i in extra]  # With duplicates.
        self.caller = draw(st.sampled_from(["green", "native"]))
        self._green = GreenThreadPoolExecutor(2)

    def settle(self, indexes: list[int]) -> threading.Thread:
        """Settle the given futures one after another, from a driver thread."""
        green = self._green
        pool = concurrent.futures.ThreadPoolExecutor(2)

        def drive() -> None:
            for i in indexes:
                completer, outcome = self.how[i]
                args = (self.futures[i], outcome, i)
                if completer == "green executor":
                    green.submit(settle, *args).result(LONG)  # Submitted across threads.
                elif completer == "stdlib pool":
                    pool.submit(settle, *args).result(LONG)
                else:
                    thread = threading.Thread(target=settle, args=args)
                    thread.start()
                    thread.join(LONG)
            pool.shutdown(wait=True)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        return driver

    def wait(self, wait: Callable[..., DoneAndNotDoneFutures]) -> tuple[Any, float]:
        def call() -> tuple[Any, float]:
            return timed(lambda: wait(self.argument, timeout=LONG))

        return call() if self.caller == "green" else run_native(call)

    def finish(self, driver: threading.Thread) -> None:
        eventually(lambda: not driver.is_alive())
        self._green.shutdown(wait=True)


@pytest.mark.core
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_wait_for_all_returns_everything_done(data: Any) -> None:
    scenario = Scenario(data.draw)
    driver = scenario.settle(list(scenario.order))
    (done, not_done), elapsed = scenario.wait(wait_for_all)
    scenario.finish(driver)
    assert done == set(scenario.futures)
    assert not_done == set()
    assert elapsed < WOKEN_BOUND


@pytest.mark.core
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_wait_for_any_returns_at_least_one_done(data: Any) -> None:
    scenario = Scenario(data.draw)
    settled = data.draw(st.integers(min_value=1, max_value=len(scenario.futures)))
    settled_futures = {scenario.futures[i] for i in scenario.order[:settled]}
    driver = scenario.settle(list(scenario.order[:settled]))
    (done, not_done), elapsed = scenario.wait(wait_for_any)
    scenario.finish(driver)
    assert done
    assert done <= settled_futures
    assert all(future.done() for future in done)
    assert done | not_done == set(scenario.futures)
    assert not done & not_done
    assert elapsed < WOKEN_BOUND


# -- after monkey patching (fresh interpreters) ------------------------------

PATCHED_PRELUDE = (
    """
import concurrent.futures, json, time
import eventlet
eventlet.monkey_patch()
import greenpool
from greenpool.waiters import wait_for_all, wait_for_any
from eventlet import patcher
"""
    + PATCHED_TICKER
    + """
waiting = {}  # "before": the tick count when the current in_green_thread started waiting.

def in_green_thread(fn):
    def run():
        before = waiting["before"] = ticks[0]
        started = time.monotonic()
        done, not_done = fn()
        return {
            "done": len(done),
            "not_done": len(not_done),
            "elapsed": time.monotonic() - started,
            "ticked": ticks[0] > before,
        }
    return eventlet.spawn(run).wait()
"""
)


def run_patched(python: Any, body: str) -> tuple[dict[str, Any], str]:
    proc = python(PATCHED_PRELUDE + textwrap.dedent(body), 30)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result, proc.stderr


@pytest.mark.core
@pytest.mark.timeout(40)
def test_monkey_patched_waits_on_green_and_patched_pool_futures(python: Any) -> None:
    out, stderr = run_patched(
        python,
        """
        green = greenpool.GreenThreadPoolExecutor(4)
        pool = concurrent.futures.ThreadPoolExecutor(2)  # Green threads, once patched.
        def call(delay, value):
            time.sleep(delay)
            return value
        fs = [green.submit(call, 0.03, 1), pool.submit(call, 0.03, 2), green.submit(call, 5, 3)]
        out = {"any": in_green_thread(lambda: wait_for_any(fs, timeout=10))}
        out["all"] = in_green_thread(lambda: wait_for_all(fs[:2], timeout=10))
        out["timeout"] = in_green_thread(lambda: wait_for_all(fs, timeout=0.05))
        print(json.dumps(out))
        """,
    )
    assert out["any"]["done"] >= 1
    assert out["any"]["not_done"] >= 1  # The 5 s call.
    assert (out["all"]["done"], out["all"]["not_done"]) == (2, 0)
    assert (out["timeout"]["done"], out["timeout"]["not_done"]) == (2, 1)
    for case in ("any", "all", "timeout"):
        assert out[case]["elapsed"] < 5
    # Those two waited (for the first call, for the 5 s one); the hub kept running.
    assert out["any"]["ticked"]
    assert out["timeout"]["ticked"]
    assert "Traceback" not in stderr, stderr


@pytest.mark.core
@pytest.mark.timeout(40)
def test_monkey_patched_green_wait_on_futures_completed_by_real_os_threads(python: Any) -> None:
    # Regression, as test_future's
    # test_monkey_patched_green_wait_on_future_completed_by_real_os_thread: a
    # hub pipe read through the green os.read lost the real thread's wake-up.
    out, stderr = run_patched(
        python,
        """
        out = {}
        for case, wait in (("any", wait_for_any), ("all", wait_for_all)):
            # Only greenpool futures are completed by the real thread: a stdlib
            # future made after monkey patching has a green lock, which eventlet
            # cannot share with a real thread. The stdlib one is completed green.
            ours, stdlib = greenpool.Future(), concurrent.futures.Future()
            waiting.clear()
            def complete(ours=ours):
                # Complete only once the hub has ticked while the green thread waits.
                deadline = time.monotonic() + 1.5
                while time.monotonic() < deadline and ticks[0] < waiting.get("before", 1e9) + 3:
                    real_sleep(0.001)
                ours.set_result(1)
            thread = RealThread(target=complete, daemon=True)
            thread.start()
            if case == "all":
                eventlet.spawn_after(0.02, stdlib.set_result, 2)
            out[case] = in_green_thread(lambda: wait([ours, stdlib], timeout=2))
            thread.join()
        print(json.dumps(out))
        """,
    )
    # Only the real thread's completion can end either wait (the last one, for "all").
    assert (out["any"]["done"], out["any"]["not_done"]) == (1, 1)
    assert (out["all"]["done"], out["all"]["not_done"]) == (2, 0)
    for case in ("any", "all"):
        assert out[case]["ticked"]
        assert out[case]["elapsed"] < 1, stderr  # Half its 2 s timeout: woken, not timed out.
    assert "Traceback" not in stderr, stderr
