"""``python -m greenpool demo``: a green service under rising load, its statistics live, and why.

The service (:mod:`greenpool.cli._demo_service`) runs in this process on
127.0.0.1: an eventlet WSGI server whose every request makes one downstream
call through a :class:`~greenpool.GreenThreadPoolExecutor` with a rejection
policy. The load generator (:mod:`greenpool.cli.loadgen`) runs in a process
of its own, so its CPU time does not slow the service, and sends open-loop
Poisson arrivals in four steps: half the service's capacity, its capacity,
twice and four times it. Each second a row of the executor's interval
statistics is drawn (:mod:`greenpool.cli._demo_screen`); once the clients
have their answers, a summary says for each step what limited throughput
(:func:`greenpool.cli._demo_figures.limiter`), and the clients' own counts
are checked against the executor's.

Nothing here reaches into the executor: it reads ``statistics``,
``num_workers``, ``backlog`` and ``max_workers``, as a service would.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, TextIO

from greenpool._executor import CheckAndReject, Executor
from greenpool._statistics import ExecutorStatistics
from greenpool.cli import loadgen
from greenpool.cli._demo_figures import Checkpoint, Interval, duration, limiter
from greenpool.cli._demo_screen import LiveTable, row

if TYPE_CHECKING:  # The service imports eventlet, which --help and usage errors never need.
    from greenpool.cli._demo_service import DemoService

#: The load steps, as multiples of the service's capacity: below, at, and well above.
LOADS = (0.5, 1.0, 2.0, 4.0)
#: The downstream: how many calls it serves at once, and how long each takes.
SLOTS = 20
BASE = 0.05
DEFAULT_WORKERS = 10
DEFAULT_SECONDS = 15.0
#: Arrivals above this many a second would make the CPU, not the service's
#: design, the limit on two cores; the steps are scaled down to stay below it.
MAX_RATE = 1600.0
#: Each step's summary leaves out its first part, while the queue adjusts to the new load.
SETTLE_SHARE = 0.25
SETTLE_MAX = 0.5
#: Seconds each request waits for its answer before the client gives up on it.
CLIENT_TIMEOUT = 30.0
#: Seconds the load generator may take to start.
START_TIMEOUT = 60.0
#: The summary's lines are wrapped to this width.
WIDTH = 100
#: How often a row is drawn.
TICK = 1.0


@dataclasses.dataclass(frozen=True)
class DemoPolicy:
    """A rejection policy the demo can run: a name, a description, and how to build it."""

    name: str
    describe: Callable[[int], str]
    build: Callable[[int], CheckAndReject | None]


def _cap(workers: int) -> int:
    """The backlog cap of ``reject`` and ``block``: half a round of the pool."""
    return max(1, workers // 2)


def _codel(workers: int) -> CheckAndReject:
    from greenpool.rejection import codel

    return codel()


def _adaptive(workers: int) -> CheckAndReject:
    from greenpool.rejection import AdaptiveLimit

    return AdaptiveLimit()


def _reject(workers: int) -> CheckAndReject:
    from greenpool.rejection import reject_when_reached

    return reject_when_reached(_cap(workers))


def _block(workers: int) -> CheckAndReject:
    from greenpool.rejection import block_when_reached

    return block_when_reached(_cap(workers), timeout=BASE)


#: The policies ``--policy`` takes, by name; the first is the default.
POLICIES = {
    policy.name: policy
    for policy in (
        DemoPolicy("codel", lambda workers: "codel()", _codel),
        DemoPolicy("adaptive", lambda workers: "AdaptiveLimit()", _adaptive),
        DemoPolicy("reject", lambda w: f"reject_when_reached({_cap(w)})", _reject),
        DemoPolicy("block", lambda w: f"block_when_reached({_cap(w)}, timeout={BASE:g})", _block),
        DemoPolicy("none", lambda workers: "", lambda workers: None),
    )
}


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """What to run: for how long, with which policy, and how many workers."""

    seconds: float = DEFAULT_SECONDS
    policy: str = "codel"
    workers: int = DEFAULT_WORKERS
    plot: str | None = None
    slots: int = SLOTS
    base: float = BASE

    @property
    def capacity(self) -> float:
        """Calls a second the service can serve: its workers', or its downstream's, if fewer."""
        return min(self.workers, self.slots) / self.base

    @property
    def loads(self) -> tuple[float, ...]:
        """The steps as multiples of capacity, scaled down if the top one exceeds MAX_RATE."""
        scale = min(1.0, MAX_RATE / (LOADS[-1] * self.capacity))
        return tuple(load * scale for load in LOADS)

    @property
    def steps(self) -> tuple[loadgen.Step, ...]:
        each = self.seconds / len(LOADS)
        return tuple(loadgen.Step(load * self.capacity, each) for load in self.loads)

    @property
    def policy_label(self) -> str:
        return POLICIES[self.policy].describe(self.workers)


def load_label(load: float) -> str:
    return f"{load:.2g}x"


def describe(config: DemoConfig, port: int) -> list[str]:
    """The lines that say what is about to run."""
    policy = config.policy_label or "None"
    limit = f"{config.workers} workers" if config.workers < config.slots else "the downstream"
    rates = ", ".join(f"{step.rate:,.0f}" for step in config.steps)
    loads = ", ".join(load_label(load) for load in config.loads)
    return [
        f"greenpool demo: an eventlet WSGI service on {loadgen.HOST}:{port}. Each request is"
        " one call",
        f"through GreenThreadPoolExecutor(max_workers={config.workers}, check_and_reject={policy})",
        f"to a downstream that serves {config.slots} calls at once, {duration(config.base)} each.",
        f"Capacity: {config.capacity:,.0f} requests/s ({limit}). Load: {rates} requests/s"
        f" ({loads}),",
        f"{config.seconds / len(LOADS):.3g} s each, open-loop Poisson arrivals from a load"
        " generator in a process of its own.",
        "",
    ]


def run_demo(config: DemoConfig, stream: TextIO | None = None) -> int:
    """Run the demo, drawing on ``stream`` (stdout).

    Returns 0 when the executor's statistics, the service's answers and the
    clients' counts all agree, 1 when they do not (each difference is
    printed). ``RuntimeError`` if the load generator fails.
    """
    import greenpool
    from greenpool.cli._demo_service import DemoService, Downstream, Server

    out = sys.stdout if stream is None else stream
    executor = greenpool.GreenThreadPoolExecutor(
        config.workers, check_and_reject=POLICIES[config.policy].build(config.workers), name="demo"
    )
    app = DemoService(executor, Downstream(config.slots, config.base))
    server = Server(app)
    try:
        out.write("\n".join(describe(config, server.port)) + "\n")
        out.flush()
        intervals, steps, report = _offer_load(config, executor, app, server.port, out)
    finally:
        server.stop()
        executor.shutdown(wait=True)
    problems = disagreements(report, app, executor.statistics)
    out.write("\n".join(summarise(config, steps, report, problems)) + "\n")
    if config.plot is not None:
        from greenpool.cli._demo_plot import write_plot

        starts = [start for start, _ in _spans(config)]
        labels = [load_label(load) for load in config.loads]
        write_plot(
            config.plot, intervals, list(zip(starts, labels, strict=True)), plot_title(config)
        )
        out.write(f"chart written to {config.plot}\n")
    out.flush()
    return 1 if problems else 0


def _offer_load(
    config: DemoConfig, executor: Executor, app: DemoService, port: int, out: TextIO
) -> tuple[list[Interval], list[Interval], loadgen.LoadReport]:
    """Run the load generator on ``port`` and watch the service until it has every answer."""
    import eventlet
    from eventlet.green import subprocess

    command = loadgen.command(
        port, steps=config.steps, client_timeout=CLIENT_TIMEOUT, announce=True
    )
    with tempfile.TemporaryFile() as errors:
        generator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        try:
            with eventlet.Timeout(START_TIMEOUT, RuntimeError("the load generator did not start")):
                first = generator.stdout.readline()
            if first.strip() != b"started":
                raise RuntimeError(f"the load generator did not start: {_tail(errors)}")
            started_at = time.monotonic()
            reader = eventlet.spawn(generator.stdout.read)
            table = LiveTable(out, live=out.isatty())
            intervals, steps = _watch(
                config, executor, app, started_at, lambda: bool(reader.dead), table
            )
            raw = reader.wait()
            if generator.wait() != 0:
                raise RuntimeError(f"the load generator failed: {_tail(errors)}")
        finally:
            if generator.poll() is None:
                generator.kill()
                generator.wait()
    return intervals, steps, loadgen.LoadReport.from_json(raw.decode())


def _tail(errors: IO[bytes]) -> str:
    """The end of what the load generator wrote to its standard error."""
    errors.seek(0)
    return errors.read().decode(errors="replace").strip()[-2000:]


def _spans(config: DemoConfig) -> list[tuple[float, float]]:
    """(start, end) of each step, in seconds since the load began."""
    spans, start = [], 0.0
    for step in config.steps:
        spans.append((start, start + step.seconds))
        start += step.seconds
    return spans


def _ticks(spans: Sequence[tuple[float, float]]) -> list[float]:
    """When rows are drawn: each second within a step, and at its end, so no row spans two."""
    ticks = []
    for start, end in spans:
        at = start + TICK
        while at < end - 0.2 * TICK:
            ticks.append(at)
            at += TICK
        ticks.append(end)
    return ticks


def _watch(
    config: DemoConfig,
    executor: Executor,
    app: DemoService,
    started_at: float,
    finished: Callable[[], bool],
    table: LiveTable,
) -> tuple[list[Interval], list[Interval]]:
    """Draw a row each second (:func:`_ticks`) until ``finished()``; return the rows' and the
    steps' intervals.

    Each step's interval runs from when it has settled (its first quarter,
    at most half a second, left out) to its end. The rows go on after the
    last step ("drain") until the load generator has every answer.
    """
    import eventlet

    spans = _spans(config)
    marks = sorted(
        [min(start + SETTLE_SHARE * (end - start), start + SETTLE_MAX) for start, end in spans]
        + [end for _, end in spans]
    )
    marked: list[Checkpoint] = []
    end_of_load = spans[-1][1]
    deadline = end_of_load + CLIENT_TIMEOUT + 10.0
    last = Checkpoint.take(executor, app, started_at)
    intervals: list[Interval] = []
    rows: list[str] = []
    ticks = _ticks(spans)
    next_tick = ticks.pop(0)

    def label(at: float) -> str:
        for (start, end), load in zip(spans, config.loads, strict=True):
            if start <= at < end:
                return load_label(load)
        return "drain"

    def tick() -> None:
        nonlocal last
        now = Checkpoint.take(executor, app, started_at)
        interval = Interval.between(last, now, config.slots)
        intervals.append(interval)
        rows.append(row(interval, label((interval.start + interval.end) / 2)))
        last = now
        step = label(now.at)
        status = (
            f"  {step} load, {now.at:.0f} of {end_of_load:.0f} s"
            if step != "drain"
            else f"  the load has ended; waiting for the last answers ({now.at:.0f} s)"
        )
        table.update(rows, status)

    while True:
        now = time.monotonic() - started_at
        while marks and marks[0] <= now:
            marked.append(Checkpoint.take(executor, app, started_at))
            marks.pop(0)
        if now >= next_tick:
            tick()
            next_tick = ticks.pop(0) if ticks else next_tick + TICK
        if (now >= end_of_load and not marks and finished()) or now >= deadline:
            break
        target = min(next_tick, marks[0] if marks else math.inf)
        if now >= end_of_load:
            target = min(target, now + 0.05)  # Poll for the load generator's exit.
        eventlet.sleep(max(0.0, target - (time.monotonic() - started_at)))
    if time.monotonic() - started_at - last.at >= 0.2:
        tick()
    else:
        table.update(rows)
    steps = [
        Interval.between(marked[2 * k], marked[2 * k + 1], config.slots) for k in range(len(spans))
    ]
    return intervals, steps


def disagreements(
    report: loadgen.LoadReport, app: DemoService, statistics: ExecutorStatistics
) -> list[str]:
    """Where the clients, the service and the executor's statistics differ; empty if nowhere."""
    problems = []
    got = {status: report.count(status) for status in (200, 503, 500)}
    if got != app.answered:
        problems.append(f"the clients got {got}, the service answered {app.answered}")
    if report.lost:
        problems.append(f"{report.lost} requests got no answer")
    bare = sum(1 for a in report.answers if a.status == 503 and not a.retry_after)
    if bare:
        problems.append(f"{bare} answers 503 without Retry-After")
    expected = (got[200] + got[500], got[503], got[200] + got[500], got[500])
    counted = (statistics.submitted, statistics.rejected, statistics.executed, statistics.failures)
    if counted != expected:
        problems.append(
            f"statistics say submitted, rejected, executed, failures = {counted};"
            f" the clients' answers say {expected}"
        )
    if statistics.pending or statistics.running:
        problems.append(f"calls left: {statistics.pending} pending, {statistics.running} running")
    return problems


def summarise(
    config: DemoConfig,
    steps: Sequence[Interval],
    report: loadgen.LoadReport,
    problems: Sequence[str],
) -> list[str]:
    """The closing lines: each step and what limited it, the clients' view, the cross-check."""
    lines = [
        "",
        "What limited throughput at each step (its first part, while it settled, left out):",
    ]
    for index, (interval, load) in enumerate(zip(steps, config.loads, strict=True)):
        ok = sorted(a.latency for a in report.answers if a.step == index and a.status == 200)
        statistics = interval.statistics
        figures = (
            f"{load_label(load):>5}  offered {interval.offered:,.0f}/s, served"
            f" {interval.rates.executed:,.0f}/s, refused {interval.refused_share:.0%}; p99: wait"
            f" {duration(statistics.wait_p99)}, run {duration(statistics.runtime_p99)}, at the"
            f" clients {duration(loadgen.percentile(ok, 0.99))}"
        )
        lines.extend(
            textwrap.wrap(figures, width=WIDTH, initial_indent="  ", subsequent_indent=" " * 9)
        )
        verdict = limiter(
            interval, slots=config.slots, base=config.base, policy=config.policy_label
        )
        lines.extend(
            textwrap.wrap(
                f"limited by {verdict}",
                width=WIDTH,
                initial_indent=" " * 9,
                subsequent_indent=" " * 11,
            )
        )
    statuses = report.statuses()
    clients = (
        f"Clients: {len(report.answers):,} requests: {statuses.get(200, 0):,} answered 200,"
        f" {statuses.get(503, 0):,} 503 with Retry-After, {report.lost:,} lost; the generator"
        f" used {report.cpu_share:.0%} of a core and fell at most {duration(report.max_lag)}"
        " behind its schedule."
    )
    lines.extend(textwrap.wrap(clients, width=WIDTH))
    if problems:
        lines.extend(f"DISAGREE: {problem}" for problem in problems)
    else:
        lines.extend(
            textwrap.wrap(
                "The executor's statistics agree with every client's answer: submitted = 200s,"
                " rejected = 503s, nothing left pending.",
                width=WIDTH,
            )
        )
    return lines


def plot_title(config: DemoConfig) -> str:
    policy = config.policy_label or "no policy"
    return (
        f"greenpool demo: GreenThreadPoolExecutor({config.workers} workers, {policy}),"
        f" downstream {config.slots} x {duration(config.base)}; capacity"
        f" {config.capacity:,.0f} requests/s"
    )
