"""Parking a caller, green or native, until woken from anywhere: waiters, Lock, ParkingLot."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import eventlet
import eventlet.event
import eventlet.hubs
import pytest
from helpers import (
    LONG,
    WOKEN_BOUND,
    Ticker,
    assert_no_stray_switch,
    eventually,
    run_native,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from greenpool._parking import (
    GreenWaiter,
    Lock,
    NativeWaiter,
    ParkingLot,
    current_hub,
    new_waiter,
)

pytestmark = pytest.mark.timeout(20)


def start_native(fn: Callable[..., Any], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


@pytest.fixture(autouse=True)
def hub() -> Iterator[Any]:
    """Every test here runs with a hub in the main thread, as a green service would."""
    hub = eventlet.hubs.get_hub()
    yield hub
    eventlet.sleep(0)  # Let stale wake-ups scheduled by the test run before the next test.


# -- choosing a waiter --------------------------------------------------------


@pytest.mark.core
def test_native_thread_without_hub_gets_native_waiter() -> None:
    def probe() -> tuple[Any, Any]:
        return current_hub(), new_waiter()

    hub, waiter = run_native(probe)
    assert hub is None
    assert isinstance(waiter, NativeWaiter)


@pytest.mark.core
def test_green_threads_get_green_waiters(hub: Any) -> None:
    assert current_hub() is hub
    assert isinstance(new_waiter(), GreenWaiter)
    spawned = eventlet.spawn(lambda: (current_hub(), new_waiter())).wait()
    assert spawned[0] is hub
    assert isinstance(spawned[1], GreenWaiter)


@pytest.mark.core
def test_hub_greenlet_itself_gets_native_waiter(hub: Any) -> None:
    seen: list[Any] = []
    hub.schedule_call_global(0, lambda: seen.append((current_hub(), new_waiter())))
    eventually(lambda: bool(seen))
    assert seen[0][0] is None
    assert isinstance(seen[0][1], NativeWaiter)


@pytest.mark.core
@pytest.mark.timeout(40)
def test_without_eventlet_waits_are_native_and_never_import_eventlet(python: Any) -> None:
    proc = python(
        """
        import sys, threading
        import greenpool
        from greenpool._parking import NativeWaiter, ParkingLot, current_hub, new_waiter

        assert current_hub() is None
        assert isinstance(new_waiter(), NativeWaiter)
        future = greenpool.Future()
        threading.Timer(0.02, future.set_result, ("done",)).start()
        assert future.result(timeout=10) == "done"
        lot, state = ParkingLot(), []
        def change():
            state.append(1)
            lot.unpark_all()
        threading.Timer(0.02, change).start()
        assert lot.park_until(lambda: bool(state), timeout=10)
        print("eventlet" in sys.modules)
        """,
        30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# -- NativeWaiter -------------------------------------------------------------


@pytest.mark.core
def test_native_waiter_woken_before_wait_returns_at_once() -> None:
    waiter = NativeWaiter()
    waiter.wake()
    started = time.monotonic()
    assert waiter.wait(LONG) is True
    assert time.monotonic() - started < WOKEN_BOUND


@pytest.mark.core
def test_native_waiter_double_wake_is_harmless() -> None:
    waiter = NativeWaiter()
    waiter.wake()
    waiter.wake()
    assert waiter.wait(LONG) is True
    waiter.wake()  # After the wait, too.
    assert waiter.woken


@pytest.mark.core
def test_native_waiter_times_out_unwoken_and_accepts_a_late_wake() -> None:
    waiter = NativeWaiter()
    assert waiter.wait(0.05) is False
    assert waiter.wait(0) is False
    assert waiter.wait(-1) is False
    assert not waiter.woken
    waiter.wake()  # A wake that lost the race with the timeout must not raise.
    assert waiter.woken
    assert waiter.wait(0) is True


@pytest.mark.core
def test_native_waiter_woken_from_another_thread_while_blocked() -> None:
    waiter = NativeWaiter()
    started = time.monotonic()
    threading.Timer(0.02, waiter.wake).start()
    assert waiter.wait(LONG) is True
    assert time.monotonic() - started < WOKEN_BOUND


@pytest.mark.core
def test_native_waiter_woken_by_a_green_thread() -> None:
    def wait_natively() -> tuple[bool, float]:
        waiter = NativeWaiter()
        holder.append(waiter)
        started = time.monotonic()
        return waiter.wait(LONG), time.monotonic() - started

    holder: list[NativeWaiter] = []

    def wake_when_ready() -> None:
        eventually(lambda: bool(holder))
        eventlet.sleep(0.02)
        holder[0].wake()

    waker = eventlet.spawn(wake_when_ready)
    woken, elapsed = run_native(wait_natively)
    waker.wait()
    assert woken is True
    assert elapsed < WOKEN_BOUND


# -- GreenWaiter --------------------------------------------------------------


@pytest.mark.core
def test_green_waiter_woken_before_wait_returns_at_once(hub: Any) -> None:
    waiter = GreenWaiter(hub)
    waiter.wake()
    assert waiter.wait() is True
    assert_no_stray_switch()


@pytest.mark.core
def test_green_waiter_woken_by_another_green_thread_keeps_hub_running(hub: Any) -> None:
    with Ticker() as ticker:
        waiter = GreenWaiter(hub)
        waker = eventlet.spawn_after(0.02, waiter.wake)
        before = ticker.ticks
        assert waiter.wait(LONG) is True
        assert ticker.ticks > before
        waker.wait()


@pytest.mark.core
def test_green_waiter_double_wake_resumes_once(hub: Any) -> None:
    waiter = GreenWaiter(hub)

    def wake_twice() -> None:
        waiter.wake()
        waiter.wake()

    eventlet.spawn_after(0.01, wake_twice)
    assert waiter.wait(LONG) is True
    # The second wake's resume is still scheduled: it must not switch into us.
    assert_no_stray_switch()


@pytest.mark.core
def test_green_waiter_times_out_and_ignores_a_late_wake(hub: Any) -> None:
    with Ticker() as ticker:
        waiter = GreenWaiter(hub)
        before = ticker.ticks
        assert waiter.wait(0.05) is False
        assert ticker.ticks > before
    assert not waiter.woken
    waiter.wake()
    assert_no_stray_switch()
    assert waiter.wait(0) is True


@pytest.mark.core
def test_green_waiter_zero_or_negative_timeout_returns_unwoken(hub: Any) -> None:
    assert GreenWaiter(hub).wait(0) is False
    assert GreenWaiter(hub).wait(-1) is False


@pytest.mark.core
def test_green_waiter_woken_from_native_thread_through_the_hub_pipe(hub: Any) -> None:
    seen: list[int] = []

    def wake_twice_once_the_hub_has_ticked() -> None:
        seen.append(ticker.wait_from_native(before + 3))
        waiter.wake()
        waiter.wake()

    with Ticker() as ticker:
        waiter = GreenWaiter(hub)
        started = time.monotonic()
        before = ticker.ticks
        native = start_native(wake_twice_once_the_hub_has_ticked)
        assert waiter.wait(LONG) is True
        assert time.monotonic() - started < WOKEN_BOUND
        assert seen[0] >= before + 3  # The hub ran while the green thread waited.
        eventually(lambda: not native.is_alive())
    assert_no_stray_switch()


def wake_a_burst(hub: Any, parked: int, wakers: int) -> None:
    """Park green threads, then wake them all from several OS threads at once."""
    waiters: list[GreenWaiter] = []
    woken: list[bool] = []

    def park() -> None:
        waiter = GreenWaiter(hub)  # Made by the green thread that parks on it.
        waiters.append(waiter)
        woken.append(waiter.wait(LONG))

    def wake_all(part: list[GreenWaiter]) -> None:
        for waiter in part:
            waiter.wake()

    greens = [eventlet.spawn(park) for _ in range(parked)]
    eventually(lambda: len(waiters) == parked)
    threads = [start_native(wake_all, waiters[i::wakers]) for i in range(wakers)]
    started = time.monotonic()
    for green in greens:
        green.wait()
    assert woken == [True] * parked
    assert time.monotonic() - started < WOKEN_BOUND
    eventually(lambda: not any(thread.is_alive() for thread in threads))


@pytest.mark.core
def test_burst_of_native_wakes_reaches_every_green_waiter(hub: Any) -> None:
    """Many wake-ups from several OS threads at once share the pipe; none is lost."""
    for _round in range(10):
        wake_a_burst(hub, parked=20, wakers=4)


@pytest.mark.core
def test_green_waiter_in_a_second_hub_woken_from_the_main_hub() -> None:
    """A native thread running its own hub parks green; the main thread's hub wakes it."""
    ready = threading.Event()
    holder: list[GreenWaiter] = []

    def other_hub() -> tuple[bool, float]:
        own_hub = eventlet.hubs.get_hub()
        waiter = new_waiter()
        assert isinstance(waiter, GreenWaiter)
        assert current_hub() is own_hub
        holder.append(waiter)
        ready.set()
        started = time.monotonic()
        return waiter.wait(LONG), time.monotonic() - started

    def wake_from_main_hub() -> None:
        eventually(ready.is_set)
        eventlet.sleep(0.02)
        holder[0].wake()

    waker = eventlet.spawn(wake_from_main_hub)
    woken, elapsed = run_native(other_hub)
    waker.wait()
    assert woken is True
    assert elapsed < WOKEN_BOUND


# -- the hub's pipe -------------------------------------------------------------

# Each in a fresh interpreter: the hub of this one has watched the pipe for long.
_PIPE_PRELUDE = """
import threading, time, warnings
warnings.simplefilter("ignore")
import eventlet, eventlet.hubs
import greenpool
from greenpool._parking import hub_state

hub = eventlet.hubs.get_hub()

def watched():
    return dict(hub.listeners[hub.READ]), dict(hub.listeners[hub.WRITE])
"""


def run_in_a_fresh_hub(python: Any, code: str) -> None:
    """Run ``code`` after :data:`_PIPE_PRELUDE` in a new interpreter; it must print ok."""
    proc = python(_PIPE_PRELUDE + code + '\nprint("ok")\n', 30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.core
@pytest.mark.parametrize("first_contact", ["submit", "wake", "shutdown"])
def test_the_hub_pipe_is_watched_only_once_another_thread_reaches_for_it(
    python: Any, first_contact: str
) -> None:
    # A hub that watches no descriptor times its sleeps to the microsecond;
    # watching the pipe would round each up to the millisecond. So greenpool
    # leaves it unwatched until another OS thread sends something through
    # it, and that first thing still arrives (the hub polls for it).
    run_in_a_fresh_hub(
        python,
        f"first_contact = {first_contact!r}\n"
        + """
executor = greenpool.GreenThreadPoolExecutor(4)
futures = [executor.submit(eventlet.sleep, 0.01) for _ in range(8)]
assert [f.result(timeout=10) for f in futures] == [None] * 8
eventlet.sleep(0.05)  # Five polls of the hub: none finds a reason to watch.
channel = hub_state(hub).channel
assert not channel.watched and watched() == ({}, {}), watched()

if first_contact == "submit":  # A native thread submits to the green pool.
    submitted = []
    native = threading.Thread(target=lambda: submitted.append(executor.submit(pow, 3, 2)))
    native.start()
    native.join()
    assert submitted[0].result(timeout=10) == 9
elif first_contact == "wake":  # A native thread completes what a green thread waits on.
    future = greenpool.Future()
    threading.Timer(0.02, future.set_result, ("done",)).start()
    assert future.result(timeout=10) == "done"
else:  # A native thread shuts the green pool down, releasing its idle workers.
    native = threading.Thread(target=executor.shutdown)
    native.start()
    while native.is_alive():
        eventlet.sleep(0.005)
    assert executor.num_workers == 0
assert channel.watched and list(watched()[0]) == [channel.read_fd], watched()

# From now on the hub is woken through the pipe.
future = greenpool.Future()
threading.Timer(0.02, future.set_result, ("again",)).start()
assert future.result(timeout=10) == "again"
""",
    )


@pytest.mark.core
def test_the_hub_pipe_is_watched_at_once_by_a_hub_that_watches_a_descriptor(
    python: Any,
) -> None:
    # Nothing to lose then: the hub waits in epoll already.
    run_in_a_fresh_hub(
        python,
        """
import os
read_fd, _ = os.pipe()
hub.add(hub.READ, read_fd, lambda fd: None, lambda *args: None, None)
executor = greenpool.GreenThreadPoolExecutor(1)
channel = hub_state(hub).channel
assert channel.watched and sorted(watched()[0]) == sorted([read_fd, channel.read_fd])
""",
    )


@pytest.mark.core
def test_the_hub_pipe_is_watched_once_the_hub_starts_watching_a_descriptor(
    python: Any,
) -> None:
    run_in_a_fresh_hub(
        python,
        """
import socket
executor = greenpool.GreenThreadPoolExecutor(1)
channel = hub_state(hub).channel
assert not channel.watched
server = eventlet.listen(("127.0.0.1", 0))
accepting = eventlet.spawn(server.accept)  # The hub now watches the socket.
eventlet.sleep(0.05)
assert channel.watched and channel.read_fd in watched()[0], watched()
client = socket.create_connection(server.getsockname())
conn, _ = accepting.wait()
conn.close(), client.close(), server.close()
""",
    )


# -- Lock ---------------------------------------------------------------------


@pytest.mark.core
def test_lock_basics() -> None:
    lock = Lock()
    assert not lock.locked()
    assert lock.acquire() is True
    assert lock.locked()
    lock.release()
    assert not lock.locked()
    with lock as acquired:
        assert acquired is True
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


@pytest.mark.core
def test_lock_excludes_green_threads_that_yield_while_holding_it() -> None:
    lock = Lock()
    inside: list[int] = []
    overlaps: list[list[int]] = []
    requested: list[int] = []
    acquired: list[int] = []

    def worker(n: int) -> None:
        requested.append(n)
        with lock:
            acquired.append(n)
            inside.append(n)
            if len(inside) > 1:
                overlaps.append(list(inside))
            for _ in range(3):
                eventlet.sleep(0.001)  # Yield to the hub while holding the lock.
            inside.remove(n)

    with Ticker() as ticker:
        before = ticker.ticks
        threads = [eventlet.spawn(worker, n) for n in range(8)]
        for green in threads:
            green.wait()
        assert ticker.ticks > before
    assert overlaps == []
    assert requested == list(range(8))
    # Every contender got in once. No order is promised: release is a bare C
    # call (it guards every submit), so there is no hand-off queue.
    assert sorted(acquired) == requested
    assert not lock.locked()


@pytest.mark.core
def test_lock_excludes_native_threads() -> None:
    lock = Lock()
    state = {"count": 0, "inside": 0, "max_inside": 0}

    def worker() -> None:
        for _ in range(200):
            with lock:
                state["inside"] += 1
                state["max_inside"] = max(state["max_inside"], state["inside"])
                count = state["count"]
                time.sleep(0)  # Invite a thread switch inside the critical section.
                state["count"] = count + 1
                state["inside"] -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LONG)
    assert not any(thread.is_alive() for thread in threads)
    assert state["count"] == 800
    assert state["max_inside"] == 1
    assert not lock.locked()


@pytest.mark.core
def test_lock_contended_by_green_and_native_threads_does_not_block_the_hub() -> None:
    lock = Lock()
    events: list[str] = []
    native_has_it = threading.Event()
    native_may_release = threading.Event()

    def native() -> None:
        with lock:  # Parks on a real lock while a green thread holds it.
            events.append("native acquired")
            native_has_it.set()
            native_may_release.wait(LONG)
            events.append("native releases")

    with Ticker() as ticker:
        lock.acquire()
        thread = start_native(native)
        before = ticker.ticks
        eventlet.sleep(0.02)  # Hold it while yielding: the native thread must wait.
        assert events == []
        assert ticker.ticks > before
        lock.release()
        eventually(native_has_it.is_set)

        def green() -> None:
            with lock:  # Parks in the hub while a native thread holds it.
                events.append("green acquired")

        contender = eventlet.spawn(green)
        before = ticker.ticks
        eventlet.sleep(0.02)
        assert ticker.ticks > before
        assert "green acquired" not in events
        native_may_release.set()  # Released from the native thread: a cross-thread hand-off.
        contender.wait()
        eventually(lambda: not thread.is_alive())
    assert events == ["native acquired", "native releases", "green acquired"]
    assert not lock.locked()


@pytest.mark.core
def test_a_green_contender_gives_up_the_gil_to_a_native_holder_that_needs_it() -> None:
    # A native thread holding the lock gives up the GIL (a system call) and
    # needs it back to release. A green contender that only yielded to its
    # hub kept the GIL in its own thread, so the holder waited for a forced
    # switch: one switch interval each time, here made 5 s so that the
    # difference cannot be missed. The contender must block on the lock
    # instead, giving the GIL up, so the holder finishes at once.
    lock = Lock()
    holding = threading.Event()
    outcome: dict[str, float] = {}

    def holder() -> None:
        with lock:
            holding.set()
            time.sleep(0.01)  # Gives up the GIL while holding the lock.

    def green_contender() -> None:
        eventlet.hubs.get_hub()  # This thread's own hub, which watches nothing.
        assert current_hub() is not None  # A green waiter, not a native one.
        assert holding.wait(LONG)
        started = time.monotonic()
        lock.acquire()
        outcome["waited"] = time.monotonic() - started
        lock.release()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        threads = [start_native(holder)]
        assert holding.wait(LONG)
        threads.append(start_native(green_contender))
        for thread in threads:
            thread.join(3 * LONG)
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads)
    assert outcome["waited"] < WOKEN_BOUND / 4  # Not a 5 s switch interval.
    assert not lock.locked()


@pytest.mark.core
@settings(max_examples=25, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["green", "native"]), min_size=1, max_size=8),
    rounds=st.integers(min_value=1, max_value=5),
)
def test_lock_mutual_exclusion_holds_for_any_mix_of_contenders(
    kinds: list[str], rounds: int
) -> None:
    lock = Lock()
    state = {"count": 0, "inside": 0, "max_inside": 0}

    def critical(pause: Callable[[], None]) -> None:
        for _ in range(rounds):
            with lock:
                state["inside"] += 1
                state["max_inside"] = max(state["max_inside"], state["inside"])
                count = state["count"]
                pause()
                state["count"] = count + 1
                state["inside"] -= 1

    natives: list[threading.Thread] = []
    greens: list[Any] = []
    for kind in kinds:
        if kind == "green":
            greens.append(eventlet.spawn(critical, lambda: eventlet.sleep(0)))
        else:
            natives.append(start_native(critical, lambda: time.sleep(0)))
    for green in greens:
        green.wait()
    eventually(lambda: not any(thread.is_alive() for thread in natives))
    assert state["count"] == rounds * len(kinds)
    assert state["max_inside"] == 1
    assert not lock.locked()


@pytest.mark.core
def test_green_contender_given_up_by_a_timeout_leaves_lock_usable_and_no_stray_switch() -> None:
    """A contender that an eventlet.Timeout interrupts must not own the lock, or be resumed."""
    lock = Lock()
    lock.acquire()  # Held by this green thread while the contender gives up.
    outcome: list[str] = []

    def contender() -> None:
        try:
            with eventlet.Timeout(0.02):
                lock.acquire()
            outcome.append("acquired")
        except eventlet.Timeout:
            outcome.append("timed out")
        assert_no_stray_switch()
        outcome.append("no stray switch")

    green = eventlet.spawn(contender)
    eventually(lambda: bool(outcome))
    lock.release()
    green.wait()
    assert outcome == ["timed out", "no stray switch"]
    later = eventlet.spawn(lambda: (lock.acquire(), lock.release()))
    try:
        # An uncontended lock: this is a deadlock check, not a speed check.
        eventually(lambda: later.dead, timeout=2)
    finally:
        later.kill()
    assert not lock.locked()


@pytest.mark.core
def test_park_until_given_up_by_a_timeout_leaves_no_stray_switch() -> None:
    lot = ParkingLot()
    with pytest.raises(eventlet.Timeout), eventlet.Timeout(0.02):
        lot.park_until(lambda: False)
    lot.unpark_all()  # Wakes the abandoned waiter, if it was left registered.
    assert_no_stray_switch()
    assert lot.park_until(lambda: True, timeout=0) is True


# -- ParkingLot ---------------------------------------------------------------


@pytest.mark.core
def test_park_until_true_predicate_returns_at_once() -> None:
    lot = ParkingLot()
    assert lot.park_until(lambda: True) is True
    assert lot.park_until(lambda: True, timeout=0) is True
    assert lot.park_until(lambda: False, timeout=0) is False
    assert lot.park_until(lambda: False, timeout=-1) is False


@pytest.mark.core
def test_park_until_green_woken_by_green_state_change() -> None:
    lot = ParkingLot()
    state: list[int] = []

    def change() -> None:
        state.append(1)
        lot.unpark_all()

    with Ticker() as ticker:
        before = ticker.ticks
        eventlet.spawn_after(0.02, change)
        assert lot.park_until(lambda: bool(state), timeout=LONG) is True
        assert ticker.ticks > before


@pytest.mark.core
def test_park_until_keeps_waiting_through_spurious_unparks_then_times_out() -> None:
    """Each spurious unpark makes the parker re-check and park again; only the timeout ends it.

    The unparks are paced by the parker's own checks of its predicate, not by
    a clock: a green thread runs only once the parker has parked, so an
    unpark sent after the n-th check always finds it parked again. (Unparks
    every 5 ms raced the 100 ms timeout: a process descheduled for about
    0.1 s before its hub first ran would see the timeout first, and none.)
    """
    lot = ParkingLot()
    state: list[int] = []
    checks = [0]

    def predicate() -> bool:
        checks[0] += 1
        return bool(state)

    def three_spurious_then_a_real_change() -> None:
        for n in (1, 2, 3):
            eventually(lambda n=n: checks[0] >= n)  # Checked n times, so parked again.
            lot.unpark_all()  # Spurious: the predicate still does not hold.
        eventually(lambda: checks[0] >= 4)
        state.append(1)
        lot.unpark_all()

    waker = eventlet.spawn(three_spurious_then_a_real_change)
    assert lot.park_until(predicate, timeout=LONG) is True
    assert checks[0] == 5  # Re-checked after each spurious unpark, not returned.
    waker.wait()

    def unpark_whenever_parked_again() -> None:
        while True:
            seen = checks[0]
            eventually(lambda seen=seen: checks[0] > seen)
            lot.unpark_all()

    state.clear()
    noise = eventlet.spawn(unpark_whenever_parked_again)
    try:
        started = time.monotonic()
        assert lot.park_until(predicate, timeout=0.1) is False
        assert time.monotonic() - started >= 0.1  # Never returns False before its timeout.
    finally:
        noise.kill()


@pytest.mark.core
def test_park_until_rechecks_predicate_at_timeout() -> None:
    """A change nobody announced is still seen when the timeout expires."""
    lot = ParkingLot()
    state: list[int] = []
    eventlet.spawn_after(0.01, state.append, 1)  # No unpark_all.
    assert lot.park_until(lambda: bool(state), timeout=0.1) is True


@pytest.mark.core
def test_park_until_native_parker_green_waker() -> None:
    lot = ParkingLot()
    state: list[int] = []

    def park() -> tuple[bool, float]:
        started = time.monotonic()
        return lot.park_until(lambda: bool(state), timeout=LONG), time.monotonic() - started

    def change() -> None:
        state.append(1)
        lot.unpark_all()

    eventlet.spawn_after(0.02, change)
    woken, elapsed = run_native(park)
    assert woken is True
    assert elapsed < WOKEN_BOUND


@pytest.mark.core
def test_park_until_green_parker_native_waker() -> None:
    lot = ParkingLot()
    state: list[int] = []

    seen: list[int] = []

    def change_once_the_hub_has_ticked() -> None:
        seen.append(ticker.wait_from_native(before + 3))
        state.append(1)
        lot.unpark_all()

    with Ticker() as ticker:
        before = ticker.ticks
        started = time.monotonic()
        thread = start_native(change_once_the_hub_has_ticked)
        assert lot.park_until(lambda: bool(state), timeout=LONG) is True
        assert time.monotonic() - started < WOKEN_BOUND
        assert seen[0] >= before + 3  # The hub ran while the green thread waited.
        eventually(lambda: not thread.is_alive())


@pytest.mark.core
def test_unpark_all_wakes_every_parked_caller_of_both_kinds() -> None:
    lot = ParkingLot()
    state = {"level": 0}
    results: list[bool] = []

    def park(level: int) -> None:
        results.append(lot.park_until(lambda: state["level"] >= level, timeout=LONG))

    greens = [eventlet.spawn(park, level) for level in (1, 2, 2)]
    natives = [start_native(park, level) for level in (1, 2)]
    eventlet.sleep(0.01)
    state["level"] = 1
    lot.unpark_all()
    eventually(lambda: len(results) == 2)  # Only the level-1 parkers are satisfied.
    eventlet.sleep(0.01)
    assert len(results) == 2
    state["level"] = 2
    lot.unpark_all()
    for green in greens:
        green.wait()
    eventually(lambda: not any(thread.is_alive() for thread in natives))
    assert results == [True] * 5
