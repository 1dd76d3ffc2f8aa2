"""greenpool.report_every: a log line per live executor at an interval, in a green thread or a
native one, ended at once by stop()."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import eventlet
import pytest
from helpers import eventually, thread_idents

import greenpool

pytestmark = pytest.mark.timeout(30)


class Lines(logging.Handler):
    """Keeps every message logged to it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.levels: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.levels.append(record.levelno)

    def about(self, name: str) -> list[str]:
        return [message for message in self.messages if message.startswith(name + ":")]


def logger_with(lines: Lines, name: str) -> logging.Logger:
    logger = logging.getLogger(f"test.report.{name}")
    logger.handlers = [lines]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


@pytest.mark.core
def test_a_green_reporter_logs_each_interval_and_stops_at_once() -> None:
    lines = Lines()
    executor = greenpool.GreenThreadPoolExecutor(4, name="green-reported")
    reporter = greenpool.report_every(0.05, logger=logger_with(lines, "green"))
    try:
        for _ in range(10):
            executor.submit(eventlet.sleep, 0.001).result(timeout=5)
        eventually(lambda: len(lines.about("green-reported")) >= 2)
        assert any(" executed/s" in line for line in lines.about("green-reported"))
        assert "workers " in lines.about("green-reported")[0]
    finally:
        reporter.stop()
    eventually(lambda: not reporter.running, timeout=1.0)
    seen = len(lines.messages)
    eventlet.sleep(0.2)
    assert len(lines.messages) == seen  # Nothing after stop().
    executor.shutdown()


@pytest.mark.core
def test_a_native_reporter_is_a_daemon_os_thread_and_stop_ends_it_mid_interval() -> None:
    lines = Lines()
    executor = greenpool.ThreadPoolExecutor(2, name="native-reported")
    made: dict[str, Any] = {}

    def start() -> None:  # A native thread with no hub: the reporter gets an OS thread.
        made["reporter"] = greenpool.report_every(0.05, logger=logger_with(lines, "native"))

    before = set(threading.enumerate())
    starter = threading.Thread(target=start)
    starter.start()
    starter.join(5)
    reporter = made["reporter"]
    threads = [t for t in threading.enumerate() if t not in before and t.name == "greenpool-report"]
    assert len(threads) == 1 and threads[0].daemon
    executor.submit(time.sleep, 0.01).result(timeout=5)
    deadline = time.monotonic() + 10
    while len(lines.about("native-reported")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(lines.about("native-reported")) >= 2, lines.messages
    slow = greenpool.report_every(60, logger=logger_with(lines, "slow"))  # Mid-interval.
    reporter.stop()
    slow.stop()
    threads[0].join(2)
    assert not threads[0].is_alive()
    deadline = time.monotonic() + 2
    while slow.running and time.monotonic() < deadline:
        eventlet.sleep(0.01)
    assert not slow.running
    assert not reporter.running
    executor.shutdown()


@pytest.mark.core
def test_a_line_gives_the_intervals_rates_and_the_state_of_the_pool() -> None:
    lines = Lines()
    executor = greenpool.SynchronousExecutor(name="rated")
    reporter = greenpool.Reporter(1.0, logger_with(lines, "rated"), logging.WARNING)
    for _ in range(3):
        executor.submit(int, "1")
    time.sleep(0.05)
    reporter.report()
    (line,) = lines.about("rated")
    assert lines.levels[-1] == logging.WARNING
    submitted_per_second = float(line.split(": ")[1].split(" submitted/s")[0])
    assert 0 < submitted_per_second <= 3 / 0.05
    assert "workers 0/" in line and "backlog 0" in line
    reporter.report()  # The next interval saw nothing.
    assert lines.about("rated")[-1].split(": ")[1].startswith("0.0 submitted/s")


@pytest.mark.core
@pytest.mark.parametrize(
    ("arguments", "error"),
    [((0,), ValueError), ((-1,), ValueError), (("1",), TypeError),
     ((1, "logger"), TypeError), ((1, None, "INFO"), TypeError)],
)  # fmt: skip
def test_bad_arguments_are_refused_and_start_nothing(
    arguments: tuple[Any, ...], error: type[Exception]
) -> None:
    before = thread_idents()
    with pytest.raises(error):
        greenpool.report_every(*arguments)
    assert thread_idents() - before == set()  # No thread started.
