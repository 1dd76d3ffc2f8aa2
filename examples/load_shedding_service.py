"""A WSGI service that sheds load: 503 with Retry-After when its executor's policy refuses work.

Run ``python examples/load_shedding_service.py`` (``--help`` for a shorter
run). It starts the service in one process and the open-loop load generator
(:mod:`greenpool.cli.loadgen`, the one ``python -m greenpool demo`` uses) in
another, on 127.0.0.1, once per policy and load, and prints a summary table:
latency of accepted requests, goodput and the share refused, for each
backpressure policy at 1x, 2x and 4x the service's capacity, and without a
policy.

The service (:class:`Service`, run by :func:`serve`) answers ``GET /work``
by submitting one call of its downstream to a
:class:`~greenpool.GreenThreadPoolExecutor` and waiting for it: ``200`` when
it ran, ``503 Service Unavailable`` with ``Retry-After`` when the policy
refused the submission (:class:`~greenpool.RejectedSubmission`). ``GET
/stats`` serves the executor's statistics as JSON, with what the service
itself answered, its CPU time, how late its hub woke a 20 ms sleep (sampled
every 20 ms: what CPU load does to a green service) and, for
:class:`~greenpool.rejection.AdaptiveLimit`, its limit, sampled as often.

The downstream (:class:`Downstream`) stands for a database or a remote
service with a true capacity of ``C`` concurrent calls: an eventlet
``Semaphore(C)`` around ``eventlet.sleep(base)``. Up to ``C`` calls take
``base`` seconds; beyond that, calls queue inside it and take longer, the
more of them there are. So its capacity is ``C / base`` calls a second,
bounded by waiting, not by CPU: at 4x overload (800 requests a second with
the defaults) the service needs about a quarter of one core and the
generator less (the table's ``svc cpu`` column, and the line under it). No
policy is told ``C``; the fixed-size ones are configured as a service owner
would configure them for it (see :data:`POLICIES`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterable
from typing import Any

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # Before eventlet loads.

import eventlet  # noqa: E402
from eventlet import wsgi  # noqa: E402
from eventlet.semaphore import Semaphore  # noqa: E402

import greenpool  # noqa: E402
from greenpool.cli import loadgen  # noqa: E402
from greenpool.rejection import (  # noqa: E402
    AdaptiveLimit,
    block_when_reached,
    chain,
    codel,
    reject_when_reached,
)

HOST = loadgen.HOST
#: The downstream's unloaded call time, seconds. Long enough that the
#: fraction of a millisecond of HTTP handling per request, and the hub's
#: timer resolution, are noise beside it; short enough that a run of a few
#: seconds sees thousands of calls.
BASE = 0.05
#: The downstream's true capacity: concurrent calls it serves in ``BASE`` each.
CAPACITY = 10
#: Workers for the AdaptiveLimit rows: far more than any downstream here
#: takes, so that the policy alone bounds concurrency.
ADAPTIVE_WORKERS = 1000
#: How long ``block_when_reached`` lets a submitter wait for room: one
#: unloaded downstream call.
BLOCK_TIMEOUT = 0.05
#: The hard cap on the backlog in the chain row: a safety net, as in
#: ``chain``'s docstring; with ``ADAPTIVE_WORKERS`` workers it never binds here.
CHAIN_CAP = 100
#: How often the service samples its hub's lag and AdaptiveLimit's limit; how many it keeps.
SAMPLE_EVERY = 0.02
MAX_SAMPLES = 30_000
#: Requests due before this many seconds of a run are its warm-up, outside steady state.
STEADY_AFTER = 1.0
#: The settled limit is the median of the samples in the last 40 % of a run.
SETTLED_SHARE = 0.4
#: Concurrent connections the WSGI server takes (an unbounded queue holds thousands).
MAX_CONNECTIONS = 10_000
#: The service exits by itself after this long, or when its parent process is gone.
LIFETIME = 600.0


# -- the downstream and the policies -----------------------------------------


class Downstream:
    """A dependency with a true capacity of ``capacity`` concurrent calls of ``base`` seconds."""

    def __init__(self, capacity: int, base: float) -> None:
        self.capacity = capacity
        self.base = base
        self._slots = Semaphore(capacity)
        self.calls = 0
        self.callers = 0
        #: The most callers it had at once (served, and queued inside it).
        self.peak_callers = 0

    def call(self) -> None:
        """One call: ``base`` seconds once one of the ``capacity`` slots is free."""
        self.callers += 1
        if self.callers > self.peak_callers:
            self.peak_callers = self.callers
        try:
            with self._slots:
                eventlet.sleep(self.base)
            self.calls += 1
        finally:
            self.callers -= 1


Build = Callable[[int, int], tuple[Any, AdaptiveLimit | None]]


@dataclasses.dataclass(frozen=True)
class Policy:
    """One way to configure the service's executor: a label, and how to build it."""

    name: str
    #: What the report calls it; ``{cap}`` is replaced by :func:`cap` of the capacity.
    label: str
    #: ``build(capacity, max_workers)`` -> the executor, and the AdaptiveLimit to sample.
    build: Build
    #: True when the policy alone bounds concurrency (:data:`ADAPTIVE_WORKERS`
    #: workers); False when the pool does, with ``max_workers = C``.
    many_workers: bool = False
    library: str = "greenpool"

    def max_workers(self, capacity: int) -> int:
        return ADAPTIVE_WORKERS if self.many_workers else capacity


def cap(capacity: int) -> int:
    """The backlog cap of the fixed-cap rows: half a round of the downstream.

    With ``max_workers = C``, at most ``C / 2`` calls wait for a worker, so
    none waits more than about half a downstream call: p99 about 1.5 times
    the unloaded one, while the queue never runs dry between two arrivals.
    """
    return max(1, capacity // 2)


def label(policy: str, capacity: int = CAPACITY) -> str:
    """What the report calls ``policy`` for a downstream of ``capacity``."""
    return POLICIES[policy].label.format(cap=cap(capacity))


def _none(capacity: int, workers: int) -> tuple[Any, AdaptiveLimit | None]:
    return greenpool.GreenThreadPoolExecutor(workers), None


def _reject(capacity: int, workers: int) -> tuple[Any, AdaptiveLimit | None]:
    policy = reject_when_reached(cap(capacity))
    return greenpool.GreenThreadPoolExecutor(workers, check_and_reject=policy), None


def _block(capacity: int, workers: int) -> tuple[Any, AdaptiveLimit | None]:
    policy = block_when_reached(cap(capacity), timeout=BLOCK_TIMEOUT)
    return greenpool.GreenThreadPoolExecutor(workers, check_and_reject=policy), None


def _codel(capacity: int, workers: int) -> tuple[Any, AdaptiveLimit | None]:
    return greenpool.GreenThreadPoolExecutor(workers, check_and_reject=codel()), None


def _adaptive(capacity: int, workers: int) -> tuple[Any, AdaptiveLimit | None]:
    limit = AdaptiveLimit()
    return greenpool.GreenThreadPoolExecutor(workers, check_and_reject=limit), limit


def _chain(capacity: int, workers: int) -> tuple[Any, AdaptiveLimit | None]:
    limit = AdaptiveLimit()
    policy = chain(reject_when_reached(CHAIN_CAP), limit)
    return greenpool.GreenThreadPoolExecutor(workers, check_and_reject=policy), limit


def _futurist(capacity: int, workers: int) -> tuple[Any, AdaptiveLimit | None]:
    import futurist
    import futurist.rejection

    policy = futurist.rejection.reject_when_reached(cap(capacity))
    with warnings.catch_warnings():  # futurist 3 deprecates its green executor; we compare it.
        warnings.simplefilter("ignore", DeprecationWarning)
        executor = futurist.GreenThreadPoolExecutor(workers, check_and_reject=policy)
    return executor, None


#: Every configuration the example compares, by name, in report order. A
#: label's ``{cap}`` is :func:`cap` of the downstream's capacity.
POLICIES = {
    policy.name: policy
    for policy in (
        Policy("reject", "reject_when_reached({cap})", _reject),
        Policy("block", f"block_when_reached({{cap}}, {BLOCK_TIMEOUT:g} s)", _block),
        Policy("codel", "codel()", _codel),
        Policy("adaptive", "AdaptiveLimit()", _adaptive, many_workers=True),
        Policy("chain", f"chain(reject({CHAIN_CAP}), Adaptive)", _chain, many_workers=True),
        Policy("futurist", "futurist reject_when_reached({cap})", _futurist, library="futurist"),
        Policy("none", "no policy (unbounded queue)", _none),
    )
}


def refusals() -> tuple[type[BaseException], ...]:
    """The exceptions that mean a submission was refused: greenpool's, and futurist's."""
    kinds: list[type[BaseException]] = [greenpool.RejectedSubmission]
    try:
        import futurist
    except ImportError:
        pass
    else:
        kinds.append(futurist.RejectedSubmission)
    return tuple(kinds)


# -- the service -------------------------------------------------------------

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class Service:
    """The WSGI application: ``/work`` through the executor, ``/stats`` as JSON."""

    def __init__(self, policy: Policy, capacity: int = CAPACITY, base: float = BASE) -> None:
        self.policy = policy
        self.downstream = Downstream(capacity, base)
        self.max_workers = policy.max_workers(capacity)
        self.executor, self.adaptive = policy.build(capacity, self.max_workers)
        self._refusals = refusals()
        #: What the service answered to ``/work``, by status.
        self.answered = {200: 0, 503: 0, 500: 0}
        #: ``[seconds since the first /work request, limit, baseline run time]``
        #: every ``SAMPLE_EVERY``, for AdaptiveLimit.
        self.limit_samples: list[tuple[float, int, float | None]] = []
        #: ``[seconds since the first /work request, how late the hub woke a
        #: SAMPLE_EVERY sleep]``: the hub's lag, which every call's run time
        #: includes, and which is what CPU load does to a green service.
        self.hub_lags: list[tuple[float, float]] = []
        self._started_at: float | None = None
        self._cpu_at_start = 0.0
        self._sampler: Any = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/work":
            return self.work(start_response)
        if path == "/stats":
            body = json.dumps(self.stats(), indent=1).encode()
            return self._answer(start_response, "200 OK", body, "application/json")
        return self._answer(start_response, "404 Not Found", b"not found\n")

    def work(self, start_response: StartResponse) -> list[bytes]:
        """Submit one downstream call; 200 once it ran, 503 if refused."""
        if self._started_at is None:
            self._started_at = time.monotonic()
            self._cpu_at_start = time.process_time()
            self._sampler = eventlet.spawn(self._sample)
        try:
            future = self.executor.submit(self.downstream.call)
        except self._refusals:
            self.answered[503] += 1
            # Come back in a second: by then the overload may have passed.
            retry = [("Retry-After", "1")]
            return self._answer(start_response, "503 Service Unavailable", b"busy\n", headers=retry)
        try:
            future.result()
        except Exception:
            self.answered[500] += 1
            return self._answer(start_response, "500 Internal Server Error", b"failed\n")
        self.answered[200] += 1
        return self._answer(start_response, "200 OK", b"done\n")

    def close(self) -> None:
        """Stop sampling and shut the executor down (a served process just exits instead)."""
        if self._sampler is not None:
            self._sampler.kill()
        self.executor.shutdown()

    def stats(self) -> dict[str, Any]:
        """What ``/stats`` serves: the executor's statistics and what the service saw."""
        raw = self.executor.statistics
        if self.policy.library == "greenpool":
            executor_stats = raw.as_dict()
        else:  # futurist's statistics: four figures, no submitted or rejected count.
            executor_stats = {
                "failures": raw.failures,
                "executed": raw.executed,
                "runtime": raw.runtime,
                "cancelled": raw.cancelled,
            }
        return {
            "policy": self.policy.name,
            "label": label(self.policy.name, self.downstream.capacity),
            "library": self.policy.library,
            "capacity": self.downstream.capacity,
            "base": self.downstream.base,
            "max_workers": self.max_workers,
            "answered": {str(status): count for status, count in self.answered.items()},
            "statistics": executor_stats,
            "downstream": {
                "calls": self.downstream.calls,
                "peak_callers": self.downstream.peak_callers,
            },
            "limit_samples": self.limit_samples,
            "hub_lags": self.hub_lags,
            # The service's CPU time since the first /work request, as a share of
            # one core: far below 1, or CPU and not the downstream would bound it.
            "cpu_share": self._cpu_share(),
        }

    def _cpu_share(self) -> float:
        if self._started_at is None:
            return 0.0
        wall = time.monotonic() - self._started_at
        return (time.process_time() - self._cpu_at_start) / wall if wall > 0 else 0.0

    def _sample(self) -> None:
        """Every ``SAMPLE_EVERY``: how late the hub woke this sleep, and AdaptiveLimit's limit."""
        started_at = self._started_at
        assert started_at is not None
        clock = time.monotonic
        while len(self.hub_lags) < MAX_SAMPLES:
            due = clock() + SAMPLE_EVERY
            eventlet.sleep(SAMPLE_EVERY)
            woke = clock()
            self.hub_lags.append((woke - started_at, woke - due))
            if self.adaptive is not None:
                adaptive = self.adaptive
                self.limit_samples.append((woke - started_at, adaptive.limit, adaptive.baseline))

    @staticmethod
    def _answer(
        start_response: StartResponse,
        status: str,
        body: bytes,
        content_type: str = "text/plain",
        headers: Iterable[tuple[str, str]] = (),
    ) -> list[bytes]:
        start_response(
            status,
            [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers],
        )
        return [body]


def _watch_parent(parent: int, lifetime: float) -> None:
    """End this process if it outlives ``lifetime`` or its parent: no server is left behind."""
    deadline = time.monotonic() + lifetime
    while os.getppid() == parent and time.monotonic() < deadline:
        eventlet.sleep(0.5)
    os._exit(0)


def serve(policy: Policy, capacity: int = CAPACITY, base: float = BASE, port: int = 0) -> None:
    """Serve on 127.0.0.1 (port 0: any free one); print ``listening on PORT`` once ready."""
    service = Service(policy, capacity, base)
    listener = eventlet.listen((HOST, port), backlog=4096)
    eventlet.spawn_n(_watch_parent, os.getppid(), LIFETIME)
    print(f"listening on {listener.getsockname()[1]}", flush=True)
    wsgi.server(
        listener,
        service,
        log_output=False,
        max_size=MAX_CONNECTIONS,
        keepalive=False,
        debug=False,
    )


# -- one run: the service in one process, the load in another ----------------


@dataclasses.dataclass(frozen=True)
class Trial:
    """One run: a policy, a load (a multiple of capacity), for ``seconds`` of arrivals."""

    policy: str
    load: float
    seconds: float
    capacity: int = CAPACITY
    base: float = BASE
    seed: int | None = None

    @property
    def capacity_rate(self) -> float:
        """The downstream's capacity in calls a second, ``C / base``."""
        return self.capacity / self.base

    @property
    def rate(self) -> float:
        """The offered load, requests a second."""
        return self.load * self.capacity_rate


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """A trial, what its clients got, and the service's ``/stats`` at the end."""

    trial: Trial
    report: loadgen.LoadReport
    stats: dict[str, Any]

    @property
    def steady_after(self) -> float:
        """Where steady state begins: after :data:`STEADY_AFTER`; at once in a run under 2 s."""
        return STEADY_AFTER if self.trial.seconds >= 2 * STEADY_AFTER else 0.0

    def p(self, share: float) -> float:
        """A percentile of the accepted (200) requests' latency in steady state, seconds."""
        return loadgen.percentile(self.report.latencies(200, due_after=self.steady_after), share)

    @property
    def p99(self) -> float:
        return self.p(0.99)

    @property
    def goodput(self) -> float:
        """200s completed per second in steady state, as a share of the capacity."""
        start, end = self.steady_after, self.trial.seconds
        completed = self.report.completed_between(start, end)
        return completed / (end - start) / self.trial.capacity_rate

    @property
    def refused_share(self) -> float:
        """The share of all requests answered 503."""
        return self.report.count(503) / max(1, len(self.report.answers))

    @property
    def hub_lag_p99(self) -> float:
        """The p99 of how late the service's hub woke a sleep while requests arrived, seconds."""
        lags = sorted(lag for at, lag in self.stats["hub_lags"] if at <= self.trial.seconds)
        return loadgen.percentile(lags, 0.99)

    @property
    def settled_limit(self) -> float | None:
        """AdaptiveLimit's median limit over the last 40 % of the run, or None without one."""
        samples = self.stats.get("limit_samples") or []
        start = (1.0 - SETTLED_SHARE) * self.trial.seconds
        tail = [limit for at, limit, _ in samples if start <= at <= self.trial.seconds]
        return statistics.median(tail) if tail else None

    def unanswered(self) -> list[str]:
        """Why some request lacks a proper answer; empty when every one got 200 or 503.

        None may be lost (no answer within the client timeout, or a failed
        connection) or get any other status, and every 503 must carry
        ``Retry-After``.
        """
        problems = []
        statuses = self.report.statuses()
        lost = statuses.pop(0, 0)
        if lost:
            errors = sorted({a.error for a in self.report.answers if a.status == 0})
            problems.append(f"{lost} requests got no answer: {'; '.join(errors[:3])}")
        statuses.pop(200, None)
        statuses.pop(503, None)
        if statuses:
            problems.append(f"answers other than 200 or 503: {statuses}")
        bare = sum(1 for a in self.report.answers if a.status == 503 and not a.retry_after)
        if bare:
            problems.append(f"{bare} answers 503 without Retry-After")
        return problems

    def miscounted(self) -> list[str]:
        """Where ``/stats`` and the clients' counts differ; empty when they agree exactly.

        The service must have answered as many 200s and 503s as the clients
        got, and the executor's own statistics must say the same:
        ``submitted`` and ``executed`` the 200s, ``rejected`` the 503s, none
        failed or still queued. futurist counts neither submissions nor
        refusals, so for it ``executed`` must equal the 200s and the 503s rest
        on the service's own count.
        """
        ok, refused = self.report.count(200), self.report.count(503)
        problems = []
        answered = {int(status): count for status, count in self.stats["answered"].items()}
        if (answered[200], answered[503]) != (ok, refused):
            problems.append(
                f"the service answered {answered[200]} x 200 and {answered[503]} x 503,"
                f" the clients got {ok} and {refused}"
            )
        executor = self.stats["statistics"]
        if self.stats["library"] == "greenpool":
            counted = (executor["submitted"], executor["rejected"], executor["executed"])
            if counted != (ok, refused, ok):
                problems.append(
                    f"statistics say submitted {counted[0]}, rejected {counted[1]}, executed"
                    f" {counted[2]}; the clients got {ok} x 200 and {refused} x 503"
                )
            if executor["pending"] or executor["running"] or executor["failures"]:
                problems.append(f"calls left or failed: {executor}")
        elif executor["executed"] != ok or executor["failures"]:
            problems.append(f"statistics say executed {executor['executed']}, the clients {ok}")
        return problems

    def disagreements(self) -> list[str]:
        """Every problem :meth:`unanswered` and :meth:`miscounted` find."""
        return self.unanswered() + self.miscounted()


def _read_port(process: subprocess.Popen[str], timeout: float) -> int:
    """The port from the service's ``listening on PORT`` line; raise if none comes in time."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"the service did not start within {timeout:g} s")
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        raise RuntimeError(f"the service did not start: {line!r}")
    return int(line.split()[-1])


def fetch_stats(port: int) -> dict[str, Any]:
    """The service's ``/stats``."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/stats", timeout=10) as answer:
        stats: dict[str, Any] = json.loads(answer.read())
    return stats


def service_command(trial: Trial) -> list[str]:
    """The command line that serves ``trial``'s policy in a fresh interpreter."""
    arguments = [sys.executable, os.path.abspath(__file__), "--serve", trial.policy]
    return [*arguments, "--capacity", str(trial.capacity), "--base", repr(trial.base)]


def run_trial(trial: Trial, client_timeout: float = loadgen.CLIENT_TIMEOUT) -> TrialResult:
    """Start the service, offer it ``trial``'s load from a second process, read ``/stats``.

    The service is stopped before this returns, whatever happens.
    """
    service = subprocess.Popen(service_command(trial), stdout=subprocess.PIPE, text=True)
    try:
        port = _read_port(service, timeout=30.0)
        fetch_stats(port)  # Ready: answers HTTP. Counts nothing.
        report = loadgen.run_in_subprocess(
            port,
            rate=trial.rate,
            seconds=trial.seconds,
            client_timeout=client_timeout,
            seed=trial.seed,
        )
        stats = fetch_stats(port)
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        if service.stdout is not None:
            service.stdout.close()
    return TrialResult(trial, report, stats)


# -- the summary table -------------------------------------------------------

COLUMNS = (
    ("policy", 34),
    ("C", 4),
    ("base", 6),
    ("load", 7),
    ("requests", 9),
    ("200", 6),
    ("503", 6),
    ("lost", 5),
    ("p50 ms", 8),
    ("p99 ms", 8),
    ("p99/unl", 8),
    ("goodput", 8),
    ("503 share", 10),
    ("limit/C", 9),
    ("svc cpu", 8),
    ("hub lag", 8),
    ("stats", 7),
)


def table_header() -> str:
    return "".join(
        f"{name:<{width}}" if index == 0 else f"{name:>{width}}"
        for index, (name, width) in enumerate(COLUMNS)
    )


def table_row(result: TrialResult, unloaded: TrialResult | None) -> str:
    """One row: the latency of accepted requests, goodput, refusals, the limit, agreement.

    ``p99/unl`` compares with ``unloaded`` only for a downstream of the same
    base: a slower one has a slower unloaded p99.
    """
    trial = result.trial
    settled = result.settled_limit
    ratio = "-"
    if unloaded is not None and unloaded.trial.base == trial.base and unloaded.p99 > 0:
        ratio = f"{result.p99 / unloaded.p99:.2f}x"
    limit = "-" if settled is None else f"{settled:g}/{trial.capacity}"
    cells = (
        label(trial.policy, trial.capacity),
        str(trial.capacity),
        f"{trial.base * 1000:g}ms",
        f"{trial.load:g}x",
        str(len(result.report.answers)),
        str(result.report.count(200)),
        str(result.report.count(503)),
        str(result.report.lost),
        f"{result.p(0.5) * 1000:.1f}",
        f"{result.p99 * 1000:.1f}",
        ratio,
        f"{result.goodput:.0%}",
        f"{result.refused_share:.0%}",
        limit,
        f"{result.stats['cpu_share']:.0%}",
        f"{result.hub_lag_p99 * 1000:.1f}",
        "agree" if not result.disagreements() else "DIFFER",
    )
    return "".join(
        f"{cell:<{width}}" if index == 0 else f"{cell:>{width}}"
        for index, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def describe_setup(capacity: int = CAPACITY, base: float = BASE) -> list[str]:
    """The lines that say what the table measured."""
    return [
        f"downstream: Semaphore({capacity}) around eventlet.sleep({base:g}): capacity"
        f" C / base = {capacity / base:g} calls/s; loads are multiples of it",
        f"max_workers = C for the fixed policies and no policy, {ADAPTIVE_WORKERS} for"
        f" AdaptiveLimit and the chain, chain(reject_when_reached({CHAIN_CAP}), AdaptiveLimit());"
        f" the fixed caps are C/2 = {cap(capacity)}",
        f"p50/p99: latency of 200s due after {STEADY_AFTER:g} s (steady state), measured by the"
        " clients from each request's scheduled arrival",
        "p99/unl: over the p99 with no policy at 0.25x (unloaded); goodput: 200s completed per"
        " second in steady state / capacity; limit/C: AdaptiveLimit's median limit over the last"
        f" {SETTLED_SHARE:.0%} of the run; svc cpu: the service's CPU time / wall time; hub lag:"
        f" p99 ms of how late its hub woke a {SAMPLE_EVERY * 1000:g} ms sleep; stats: /stats"
        " agrees exactly with the clients' counts",
    ]


def describe_generator(results: Iterable[TrialResult]) -> str:
    """How well the load generator kept up, over every run: it must not be the bottleneck."""
    reports = [result.report for result in results]
    if not reports:
        return "load generator: no runs"
    return (
        f"load generator (a process of its own): at most {max(r.cpu_share for r in reports):.0%}"
        f" of a core, at most {max(r.max_lag for r in reports) * 1000:.1f} ms behind its schedule"
    )


# -- the command line --------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--policies",
        default=",".join(POLICIES),
        help="comma-separated, from: %(default)s",
    )
    parser.add_argument(
        "--loads", default="1,2,4", help="multiples of capacity (default: %(default)s)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        help="of arrivals per run; steady state (after 1 s) needs 2 or more (default: %(default)s)",
    )
    parser.add_argument(
        "--capacity", type=int, default=CAPACITY, help="the downstream's C (default: %(default)s)"
    )
    parser.add_argument(
        "--base", type=float, default=BASE, help="its call, seconds (default: %(default)s)"
    )
    parser.add_argument("--serve", metavar="POLICY", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(POLICIES[args.serve], args.capacity, args.base)
        return 0
    names = [name for name in args.policies.split(",") if name]
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        parser.error(f"unknown policies {unknown}; choose from {', '.join(POLICIES)}")
    loads = [float(load) for load in args.loads.split(",") if load]

    def run(policy: str, load: float) -> TrialResult:
        trial = Trial(policy, load, args.seconds, args.capacity, args.base)
        print(f"running {label(policy, args.capacity)} at {load:g}x", file=sys.stderr, flush=True)
        return run_trial(trial)

    unloaded = run("none", 0.25)
    results = [run(name, load) for name in names for load in loads]
    print("\n".join(describe_setup(args.capacity, args.base)))
    print(table_header())
    for result in [unloaded, *results]:
        print(table_row(result, unloaded))
    print(describe_generator([unloaded, *results]))
    problems = [
        f"{label(r.trial.policy, r.trial.capacity)} at {r.trial.load:g}x: {problem}"
        for r in [unloaded, *results]
        for problem in r.disagreements()
    ]
    for problem in problems:
        print(f"DIFFER: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
