"""The load-shedding example under real overload (issue 10): answers, counts, latency, limits.

Each run starts the real service (``examples/load_shedding_service.py``: an
eventlet WSGI server on 127.0.0.1, an ephemeral port) and the real load
generator (:mod:`greenpool.cli.loadgen`: open-loop Poisson arrivals, one green
client per request over a loopback socket, each with a timeout) in two
processes of their own, then reads the service's ``/stats``. The downstream
serves ``C`` concurrent calls of 50 ms (of 0.2 s for ``C = 40``, so that its
4x is the same request rate), so its capacity is ``C / 0.05`` calls a
second; *unloaded* is no policy at a quarter of that, ``C = 10``.

These assert behaviour, not speed: that a policy keeps the latency of
accepted requests and the goodput under 4x overload, that AdaptiveLimit
learns ``C`` without being told, that nothing is lost and the statistics
count exactly what the clients saw. The runs are short (3 s, and 5 s where
the issue asks for a 5 s run) so the file takes well under a minute; the
benchmark (``python -m benchmarks overload``) runs every policy for longer.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import eventlet
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)

import load_shedding_service as service  # noqa: E402

from greenpool.cli import loadgen  # noqa: E402

# Each test is bounded by its own runs (every client has a timeout, the
# generator and the service are killed when their time is up), and by this.
# Marked serial: they judge latency and goodput under an overload the test makes
# itself, which tests running beside them on the same cores would add to.
pytestmark = [pytest.mark.timeout(60), pytest.mark.serial]

#: The issue's targets: they are fixed, not tuned to what was measured.
LATENCY_FACTOR = 3.0
MIN_GOODPUT = 0.8
LIMIT_TOLERANCE = 0.3


def run(policy: str, load: float, seconds: float, capacity: int = 10, base: float = 0.05) -> Any:
    """Run one trial; print its row (shown when a test fails); check every request's answer."""
    result = service.run_trial(service.Trial(policy, load, seconds, capacity, base))
    print(explain(result))
    assert result.unanswered() == [], result.unanswered()
    assert result.miscounted() == [], result.miscounted()
    return result


def explain(result: Any, unloaded: Any = None) -> str:
    """A trial's row of the example's table, and how busy the machine was, for a failure."""
    return (
        f"\n{service.table_header()}\n{service.table_row(result, unloaded)}\n"
        f"service hub lag p99 {result.hub_lag_p99 * 1000:.1f} ms (a few ms on a quiet machine;"
        " far more means other processes held the CPU), generator at most"
        f" {result.report.max_lag * 1000:.1f} ms behind its schedule"
    )


@pytest.fixture(scope="module")
def unloaded() -> Any:
    """No policy at 0.25x capacity: the latency every policy is held to, within 3x."""
    return run("none", 0.25, 3.0)


def test_codel_at_4x_keeps_latency_and_goodput(unloaded: Any) -> None:
    result = run("codel", 4.0, 3.0)
    assert result.report.count(503) > 0  # It did refuse: the load was too much.
    assert result.p99 <= LATENCY_FACTOR * unloaded.p99, explain(result, unloaded)
    assert result.goodput >= MIN_GOODPUT, explain(result, unloaded)


def test_adaptive_limit_at_4x_keeps_latency_and_goodput_and_learns_c(unloaded: Any) -> None:
    result = run("adaptive", 4.0, 5.0)
    assert result.p99 <= LATENCY_FACTOR * unloaded.p99, explain(result, unloaded)
    assert result.goodput >= MIN_GOODPUT, explain(result, unloaded)
    assert abs(result.settled_limit - 10) <= LIMIT_TOLERANCE * 10, explain(result, unloaded)


def test_adaptive_limit_learns_a_larger_c() -> None:
    # 40 calls of 0.2 s: the same 200 calls a second as 10 of 0.05 s, so 4x is
    # the same 800 requests a second and the CPU stays out of the way (at
    # 3,200 a second the service's hub lags, and that looks like queueing).
    result = run("adaptive", 4.0, 5.0, capacity=40, base=0.2)
    assert abs(result.settled_limit - 40) <= LIMIT_TOLERANCE * 40, explain(result)


def test_no_policy_latency_grows_with_the_overload(unloaded: Any) -> None:
    # Short runs: without a policy the queue drains at capacity after the
    # arrivals stop, three times as long as they lasted at 4x.
    p99s = [unloaded.p99] + [run("none", load, 1.5).p99 for load in (1.0, 2.0, 4.0)]
    assert p99s == sorted(p99s) and len(set(p99s)) == len(p99s), p99s
    assert p99s[-1] > LATENCY_FACTOR * unloaded.p99, p99s  # What the policies prevent.


# -- the parts, without sockets ----------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 0.99) == 99.0
    assert loadgen.percentile(values, 0.5) == 50.0
    assert loadgen.percentile([7.0], 0.99) == 7.0
    assert loadgen.percentile([], 0.99) == 0.0


def test_parse_answer_reads_status_and_retry_after() -> None:
    answer = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\nbusy\n"
    assert loadgen.parse_answer(answer) == (503, True)
    assert loadgen.parse_answer(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == (200, False)
    with pytest.raises(ValueError):
        loadgen.parse_answer(b"garbage\r\n\r\n")


def test_report_round_trips_through_json() -> None:
    answers = (loadgen.Answer(0.1, 0.05, 200), loadgen.Answer(0.2, 5.0, 0, error="timeout"))
    steps = (loadgen.Step(10.0, 1.0), loadgen.Step(30.0, 1.0))
    report = loadgen.LoadReport(steps, 5.0, answers, max_lag=0.0)
    assert loadgen.LoadReport.from_json(report.to_json()) == report
    assert (report.lost, report.statuses()) == (1, {0: 1, 200: 1})
    assert (report.seconds, report.rate) == (2.0, 20.0)


def test_service_refuses_with_retry_after_and_counts_it() -> None:
    """In process, no sockets: a refused submission is a 503 with Retry-After, in /stats."""
    # Two workers (max_workers = C) and a cap of C // 2 = 1 call waiting for one.
    app = service.Service(service.POLICIES["reject"], capacity=2)
    answers: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answers.append((status, headers))

    # Two calls take the two workers, one waits (the cap is 1), the fourth is refused.
    threads = [eventlet.spawn(app, {"PATH_INFO": "/work"}, start_response) for _ in range(3)]
    eventlet.sleep(0)
    assert app({"PATH_INFO": "/work"}, start_response) == [b"busy\n"]
    status, headers = answers[-1]
    assert status.startswith("503") and ("Retry-After", "1") in headers
    for thread in threads:
        assert thread.wait() == [b"done\n"]
    stats = json.loads(app({"PATH_INFO": "/stats"}, start_response)[0])
    assert stats["answered"] == {"200": 3, "503": 1, "500": 0}
    assert (stats["statistics"]["submitted"], stats["statistics"]["rejected"]) == (3, 1)
    assert app({"PATH_INFO": "/elsewhere"}, start_response) == [b"not found\n"]
    app.close()
