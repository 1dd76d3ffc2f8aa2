"""WakePipe: one byte per burst of wake-ups, drained by the sleeper, safe to close."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Iterator

import pytest

from greenpool._wakeup import WakePipe

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def pipe() -> Iterator[WakePipe]:
    made = WakePipe()
    yield made
    made.close()


def readable(pipe: WakePipe) -> bool:
    return bool(select.select([pipe.read_fd], [], [], 0)[0])


def unread_bytes(pipe: WakePipe) -> int:
    count = 0
    try:
        while os.read(pipe.read_fd, 1):
            count += 1
    except BlockingIOError:
        pass
    return count


@pytest.mark.core
def test_a_burst_of_wakes_writes_one_byte_until_the_sleeper_drains(pipe: WakePipe) -> None:
    assert not pipe.signalled and not readable(pipe)
    for _ in range(100):
        pipe.wake()
    assert pipe.signalled
    assert unread_bytes(pipe) == 1
    pipe.drain()
    assert not pipe.signalled
    pipe.wake()  # After the drain, the next wake writes again.
    assert readable(pipe)
    pipe.drain()
    assert not readable(pipe)


@pytest.mark.core
def test_signal_writes_even_when_a_wake_is_unread(pipe: WakePipe) -> None:
    pipe.wake()
    pipe.signal()
    assert unread_bytes(pipe) == 2


@pytest.mark.core
def test_wakes_from_many_threads_at_once_leave_it_readable_and_never_block(
    pipe: WakePipe,
) -> None:
    threads = [
        threading.Thread(target=lambda: [pipe.signal() for _ in range(20_000)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)  # A full pipe never blocked.
    assert readable(pipe)
    pipe.drain()
    assert not readable(pipe)


@pytest.mark.core
def test_a_wake_after_close_writes_nowhere_even_if_the_numbers_are_reused() -> None:
    pipe = WakePipe()
    pipe.close()
    pipe.close()  # Twice is harmless.
    read_fd, write_fd = os.pipe()  # Very likely the numbers just freed.
    try:
        os.set_blocking(read_fd, False)
        pipe.wake()
        pipe.signal()
        with pytest.raises(BlockingIOError):
            os.read(read_fd, 1)
    finally:
        os.close(read_fd)
        os.close(write_fd)
