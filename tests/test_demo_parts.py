"""The demo's parts on their own: what limited an interval, the downstream's usage, load steps.

:func:`limiter` is tested on made-up intervals, one per verdict, so each
rule is pinned down whatever a real run's figures happen to be; the
downstream's usage integrals run on a real eventlet hub.
"""

from __future__ import annotations

import eventlet
import pytest

from greenpool import ExecutorStatistics
from greenpool.cli import loadgen
from greenpool.cli._demo import DemoConfig, disagreements
from greenpool.cli._demo_figures import Interval, duration, limiter
from greenpool.cli._demo_service import DemoService, Downstream

pytestmark = pytest.mark.core

SLOTS, BASE = 20, 0.05


def interval(
    *,
    offered: float = 100.0,
    executed: int = 100,
    rejected: int = 0,
    runtime: float = 5.0,
    occupancy: float = 0.25,
    cpu_share: float = 0.1,
    backlog: int = 0,
    max_workers: int = 10,
    wait_p99: float = 0.002,
) -> Interval:
    """One second of made-up figures (``runtime / max_workers`` is the utilisation)."""
    statistics = ExecutorStatistics(
        executed=executed,
        submitted=executed,
        rejected=rejected,
        runtime=runtime,
        started=executed,
        runtime_p50=BASE,
        wait_p99=wait_p99,
        max_workers=max_workers,
    )
    return Interval(
        start=0.0,
        end=1.0,
        statistics=statistics,
        rates=statistics.rates(1.0),
        offered=offered,
        occupancy=occupancy,
        cpu_share=cpu_share,
        num_workers=max_workers,
        max_workers=max_workers,
        backlog=backlog,
    )


def verdict(item: Interval, policy: str = "codel()") -> str:
    return limiter(item, slots=SLOTS, base=BASE, policy=policy)


def test_all_served_and_nothing_refused_is_no_limit() -> None:
    assert verdict(interval()).startswith("nothing: it served what it was offered")


def test_all_served_at_a_full_resource_says_it_was_at_capacity() -> None:
    text = verdict(
        interval(offered=380, executed=381, runtime=26.0, occupancy=0.96, max_workers=40)
    )
    assert text.startswith("nothing: it served what it was offered, at the downstream's capacity")
    text = verdict(interval(offered=190, executed=190, runtime=9.0))
    assert text.startswith("nothing: it served what it was offered, at the pool's capacity")


def test_busy_workers_with_refusals_is_the_pool() -> None:
    text = verdict(interval(offered=400, executed=198, rejected=200, runtime=9.9, occupancy=0.5))
    assert text.startswith("the pool's max_workers=10: offered 200% of what its workers can run;")
    assert "workers 99% busy, downstream 50%" in text
    assert "--workers 20 would serve up to 400/s" in text
    assert "codel() refused 50%, and the wait p99 stayed at 2.0ms" in text


def test_a_pool_as_big_as_the_downstream_suggests_no_more_workers() -> None:
    text = verdict(interval(executed=150, rejected=50, runtime=19.0, max_workers=20, offered=200))
    assert text.startswith("the pool's max_workers=20") and "--workers" not in text


def test_full_downstream_slots_is_the_downstream_even_with_busy_workers() -> None:
    text = verdict(
        interval(
            offered=800, executed=400, rejected=400, runtime=39.0, occupancy=0.97, max_workers=40
        )
    )
    assert text.startswith("the downstream: its 20 slots were 97% in use")
    assert "more workers would only queue inside it" in text


def test_a_busy_core_is_the_cpu_first() -> None:
    text = verdict(interval(offered=800, executed=300, rejected=500, runtime=9.5, cpu_share=0.95))
    assert text.startswith("the CPU: the service used 95% of a core")


def test_offered_at_capacity_is_the_pool_though_workers_idle_at_times() -> None:
    """At 1x, Poisson arrivals leave workers idle now and then while codel refuses bursts."""
    text = verdict(interval(offered=190, executed=170, rejected=20, runtime=8.4, occupancy=0.42))
    assert text.startswith("the pool's max_workers=10: offered 94% of what its workers can run;")
    assert "workers 84% busy" in text


def test_refusals_with_room_to_spare_are_the_policy() -> None:
    text = verdict(interval(offered=200, executed=150, rejected=50, runtime=5.0, occupancy=0.4))
    assert text.startswith("the policy, codel(): it refused 25% while there was room")


def test_no_policy_with_a_growing_queue_says_so() -> None:
    text = verdict(
        interval(offered=400, executed=200, runtime=10.0, backlog=600, wait_p99=2.5), policy=""
    )
    assert text.startswith("the pool's max_workers=10")
    assert "with no policy 600 calls queued and the wait p99 reached 2.50s" in text


def test_calls_still_in_flight_at_a_short_intervals_end_are_no_limit() -> None:
    """0.56 s of 89 arrivals a second: the last 50 ms of them finish after the interval."""
    assert verdict(interval(offered=89, executed=84, runtime=4.2)).startswith("nothing")


def test_a_queue_standing_without_refusals_or_a_full_resource_is_unclear() -> None:
    text = verdict(interval(offered=100, executed=100, runtime=5.0, backlog=30))
    assert text.startswith("unclear: served 100 of 100 offered/s")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.00012, "0.12ms"), (0.0512, "51.2ms"), (0.312, "312ms"), (1.25, "1.25s")],
)
def test_durations_read_at_a_glance(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


@pytest.mark.timeout(30)
def test_downstream_integrates_served_and_waiting_calls() -> None:
    downstream = Downstream(slots=2, base=0.02)
    before = downstream.usage()
    pool = eventlet.GreenPool()
    for _ in range(4):
        pool.spawn_n(downstream.call)
    pool.waitall()
    after = downstream.usage()
    assert after.calls == 4
    # Four calls of at least 20 ms each were served; two waited at least one call for a slot.
    assert after.busy - before.busy >= 4 * 0.02
    assert after.waiting - before.waiting >= 2 * 0.02
    assert 0.0 < after.occupancy(before, slots=2) <= 1.0


def serve_one(app: DemoService, environ: dict[str, str]) -> tuple[str, dict[str, str]]:
    answers = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answers.append((status, dict(headers)))

    app(environ, start_response)
    return answers[0]


def test_the_service_counts_answers_by_status_and_requests_by_step() -> None:
    from greenpool import SynchronousExecutor
    from greenpool.rejection import reject_when_reached

    accepting = DemoService(SynchronousExecutor(), Downstream(slots=1, base=0.0))
    assert serve_one(accepting, {"PATH_INFO": "/work", "QUERY_STRING": "step=2"})[0] == "200 OK"
    assert serve_one(accepting, {"PATH_INFO": "/elsewhere"})[0] == "404 Not Found"
    assert (accepting.arrived, accepting.arrived_by_step) == (1, {2: 1})
    assert accepting.answered == {200: 1, 503: 0, 500: 0}

    refusing = DemoService(
        SynchronousExecutor(check_and_reject=reject_when_reached(0)), Downstream(1, 0.0)
    )
    status, headers = serve_one(refusing, {"PATH_INFO": "/work"})
    assert (status, headers["Retry-After"]) == ("503 Service Unavailable", "1")
    assert refusing.answered == {200: 0, 503: 1, 500: 0}
    assert refusing.arrived_by_step == {0: 1}


def test_disagreements_name_every_difference() -> None:
    from greenpool import SynchronousExecutor

    answers = (loadgen.Answer(0.1, 0.05, 200, step=0), loadgen.Answer(0.2, 0.01, 503, step=1))
    report = loadgen.LoadReport((loadgen.Step(10.0, 1.0),), 5.0, answers, max_lag=0.0)
    app = DemoService(SynchronousExecutor(), Downstream(1, 0.0))
    app.answered.update({200: 1, 503: 1})
    agreeing = ExecutorStatistics(submitted=1, rejected=1, executed=1)
    assert disagreements(report, app, agreeing) == ["1 answers 503 without Retry-After"]
    off = ExecutorStatistics(submitted=2, rejected=1, executed=1, pending=1)
    problems = disagreements(report, app, off)
    assert any("statistics say" in problem for problem in problems)
    assert any("1 pending" in problem for problem in problems)
    app.answered[200] = 2
    assert any("the service answered" in p for p in disagreements(report, app, agreeing))


def test_steps_rise_from_half_to_four_times_capacity() -> None:
    config = DemoConfig(seconds=8.0, workers=10)
    assert config.capacity == 200.0
    assert [step.rate for step in config.steps] == [100.0, 200.0, 400.0, 800.0]
    assert [step.seconds for step in config.steps] == [2.0] * 4
    # Past the generator's ceiling the steps keep their proportions, scaled down.
    big = DemoConfig(workers=1000)
    assert big.capacity == SLOTS / BASE
    assert big.steps[-1].rate == 1600.0 and big.steps[0].rate == 200.0


@pytest.mark.parametrize("text", ["100x3", "2.5x0.5"])
def test_a_step_parses_rate_x_seconds(text: str) -> None:
    rate, seconds = (float(part) for part in text.split("x"))
    assert loadgen.Step.parse(text) == loadgen.Step(rate, seconds)


@pytest.mark.parametrize("text", ["100", "x3", "0x3", "100x0", "-1x2", "nanx1", "100xinf"])
def test_a_bad_step_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        loadgen.Step.parse(text)
