"""Overload: the load-shedding example service at 1x, 2x and 4x its capacity, per policy.

``python -m benchmarks overload`` runs ``examples/load_shedding_service.py``
(an eventlet WSGI service on 127.0.0.1 whose handler submits one downstream
call per request to a ``GreenThreadPoolExecutor`` and answers 503 with
``Retry-After`` when the policy refuses it) against the open-loop load
generator :mod:`greenpool.cli.loadgen`: Poisson arrivals, one green client per
request over a real loopback socket, each with a 30 s timeout. For every
run the service and the generator are fresh processes of their own, so
the clients' CPU time does not distort the service's latency.

The downstream has a true capacity of ``C = 10`` concurrent calls of 50 ms
(``Semaphore(10)`` around ``eventlet.sleep(0.05)``): 200 calls a second.
Each policy of greenpool.rejection, futurist's own green executor with its
``reject_when_reached``, and no policy at all are offered 1x, 2x and 4x
that for 5 s; AdaptiveLimit also at 4x with ``C = 40`` calls of 0.2 s (the
same 200 calls a second, so the same request rate and CPU time: see
:data:`LEARNT`). *Unloaded* is no policy at 0.25x. Steady state is the
requests due after the first second.

The figures do not fit the one-float-per-implementation model of the other
cases, so this is a suite (:func:`greenpool.bench._registry.suite`): one table,
a row per policy and load, and the issue's targets judged on the rows:

* every request gets an answer, 200 or 503 (with ``Retry-After``), and the
  service's ``/stats`` agree exactly with what the clients counted;
* codel and AdaptiveLimit at 4x: p99 of accepted requests within 3x of the
  unloaded p99, and goodput at least 80 % of capacity;
* AdaptiveLimit's limit settles within 30 % of ``C`` (the median of its
  limit, sampled every 20 ms, over the last 40 % of the run), for ``C = 10``
  and ``C = 40``, without being told ``C``;
* with no policy, the p99 grows with the overload.

Each run happens once (``--rounds`` does not apply): its percentiles are
over hundreds to thousands of requests already. ``--quick`` runs 2.5 s each.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenpool.bench._registry import SuiteCheck, SuiteReport, suite

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

SECONDS = 5.0
QUICK_SECONDS = 2.5
LOADS = (1.0, 2.0, 4.0)
UNLOADED_LOAD = 0.25
#: The policies of the table, in its order (names of the example's POLICIES).
ROWS = ("reject", "block", "codel", "adaptive", "chain", "futurist", "none")
#: Policies that must keep latency and goodput at the highest load.
SHEDDING = ("codel", "adaptive")
HIGHEST = max(LOADS)
#: Downstream capacities AdaptiveLimit must learn, with the base of each
#: downstream: C = 40 calls of 0.2 s is the same 200 calls a second as C = 10 of
#: 0.05 s, so its 4x is the same 800 requests a second, which the service and
#: the generator handle in a quarter of a core each. C = 40 of 0.05 s at 4x
#: would be 3,200 a second: the service then needs two thirds of a core and
#: the generator half of one, and on two shared cores the CPU, not the
#: downstream, starts to bound the service.
LEARNT = {10: 0.05, 40: 0.2}
LATENCY_FACTOR = 3.0
MIN_GOODPUT = 0.8
LIMIT_TOLERANCE = 0.3


def example() -> Any:
    """The example's module (imports eventlet: only when the suite runs, never to list it)."""
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    import load_shedding_service

    return load_shedding_service


@dataclass(frozen=True)
class Key:
    """A row of the table: a policy, a load, a downstream (capacity and base)."""

    policy: str
    load: float
    capacity: int = 10
    base: float = 0.05


def _check(text: str, measured: str, bound: str, met: bool | None) -> SuiteCheck:
    result = "n/a" if met is None else "PASS" if met else "MISS"
    return SuiteCheck(text, measured, bound, result)


def judge(results: dict[Key, Any], unloaded: Any | None) -> list[SuiteCheck]:
    """The issue's targets, on the rows measured (n/a for a row that failed to run)."""
    service = example()
    checks = []
    rows = [unloaded, *results.values()] if unloaded is not None else list(results.values())
    unanswered = [f"{r.trial.policy} {r.trial.load:g}x: {p}" for r in rows for p in r.unanswered()]
    requests = sum(len(r.report.answers) for r in rows)
    checks.append(
        _check(
            "every request answered 200 or 503 (with Retry-After), none lost, in every row",
            f"{requests:,} requests in {len(rows)} rows, {len(unanswered)} problems"
            + (f": {unanswered[0]}" if unanswered else ""),
            "0 problems",
            not unanswered if rows else None,
        )
    )
    miscounted = [f"{r.trial.policy} {r.trial.load:g}x: {p}" for r in rows for p in r.miscounted()]
    checks.append(
        _check(
            "/stats agrees exactly with the clients: submitted == 200s, rejected == 503s"
            " (futurist: executed == 200s, it counts no refusals)",
            f"{len(rows)} rows, {len(miscounted)} differ"
            + (f": {miscounted[0]}" if miscounted else ""),
            "0 differ",
            not miscounted if rows else None,
        )
    )
    for policy in SHEDDING:
        name = service.label(policy)
        row = results.get(Key(policy, HIGHEST))
        ratio, measured = None, "n/a"
        if row is not None and unloaded is not None:
            ratio = row.p99 / unloaded.p99
            measured = f"{row.p99 * 1000:.1f} / {unloaded.p99 * 1000:.1f} ms = {ratio:.2f}x"
        checks.append(
            _check(
                f"{name} at {HIGHEST:g}x: p99 of accepted within {LATENCY_FACTOR:g}x of unloaded",
                measured,
                f"<= {LATENCY_FACTOR:g}x",
                None if ratio is None else ratio <= LATENCY_FACTOR,
            )
        )
        goodput = row.goodput if row is not None else None
        checks.append(
            _check(
                f"{name} at {HIGHEST:g}x: goodput at least {MIN_GOODPUT:.0%} of capacity",
                "n/a" if goodput is None else f"{goodput:.0%}",
                f">= {MIN_GOODPUT:.0%}",
                None if goodput is None else goodput >= MIN_GOODPUT,
            )
        )
    for capacity, base in LEARNT.items():
        row = results.get(Key("adaptive", HIGHEST, capacity, base))
        settled = row.settled_limit if row is not None else None
        error = None if settled is None else abs(settled - capacity) / capacity
        checks.append(
            _check(
                f"AdaptiveLimit at {HIGHEST:g}x settles within {LIMIT_TOLERANCE:.0%} of C = "
                f"{capacity} (base {base * 1000:g} ms), not told C",
                "n/a" if settled is None else f"median limit {settled:g}, off by {error:.0%}",
                f"<= {LIMIT_TOLERANCE:.0%} off",
                None if error is None else error <= LIMIT_TOLERANCE,
            )
        )
    growth = [unloaded, *(results.get(Key("none", load)) for load in LOADS)]
    p99s = [None if row is None else row.p99 for row in growth]
    grows = None
    if all(p99 is not None for p99 in p99s):
        grows = all(a < b for a, b in itertools.pairwise(p99s))  # type: ignore[operator]
    checks.append(
        _check(
            "no policy: p99 grows with the overload (unloaded, 1x, 2x, 4x)",
            " < ".join("n/a" if p99 is None else f"{p99 * 1000:,.0f}" for p99 in p99s) + " ms",
            "increasing",
            grows,
        )
    )
    return checks


def markdown(lines: list[str], checks: list[SuiteCheck]) -> str:
    """The table as printed (a code block), then the targets as a Markdown table."""
    out = ["**overload**", "", "```", *lines, "```", ""]
    out += ["| Target | Measured | Needs | Result |", "| --- | --- | --- | --- |"]
    out += [f"| {c.text} | {c.measured} | {c.bound} | {c.result} |" for c in checks]
    return "\n".join(out) + "\n"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(
    seconds: float, progress: Callable[[str], None] = _progress
) -> tuple[Any | None, dict[Key, Any], list[str]]:
    """Run every row once: (the unloaded result, the rows by key, errors)."""
    service = example()
    keys = [Key(policy, load) for policy in ROWS for load in LOADS]
    keys += [Key("adaptive", HIGHEST, c, base) for c, base in LEARNT.items() if c != 10]
    errors: list[str] = []

    def run(key: Key) -> Any | None:
        trial = service.Trial(key.policy, key.load, seconds, key.capacity, key.base)
        started = time.perf_counter()
        try:
            result = service.run_trial(trial)
        except Exception as exc:  # One failed row is reported; the others still run.
            errors.append(f"{key.policy} at {key.load:g}x, C={key.capacity}: {exc}")
            progress(f"[overload] {key.policy:<9} {key.load:g}x C={key.capacity}: error: {exc}")
            return None
        progress(
            f"[overload] {service.label(key.policy, key.capacity):<34} {key.load:>4g}x"
            f" C={key.capacity:<3} p99 {result.p99 * 1000:7.1f} ms, goodput"
            f" {result.goodput:4.0%}  ({time.perf_counter() - started:.1f} s)"
        )
        return result

    unloaded = run(Key("none", UNLOADED_LOAD))
    results = {key: result for key in keys if (result := run(key)) is not None}
    return unloaded, results, errors


@suite(
    "overload",
    title=(
        "the load-shedding example service (downstream C = 10 calls of 50 ms) offered 1x, 2x and"
        " 4x its capacity, per policy: latency of accepted requests, goodput, refusals"
    ),
)
def run_overload(quick: bool) -> SuiteReport:
    seconds = QUICK_SECONDS if quick else SECONDS
    service = example()
    unloaded, results, errors = measure(seconds)
    rows = [unloaded, *results.values()] if unloaded is not None else list(results.values())
    lines = [
        f"{seconds:g} s of Poisson arrivals per row; " + service.describe_setup()[0],
        *service.describe_setup()[1:],
        "the last row: C = 40 calls of 200 ms, the same 200 calls/s (so the same request rate"
        " and CPU time as the others), for AdaptiveLimit to learn a larger C",
        "",
        service.table_header(),
        *(service.table_row(row, unloaded) for row in rows),
        "",
        service.describe_generator(rows),
    ]
    checks = judge(results, unloaded)
    data = {
        "seconds": seconds,
        "rows": [summary(row, unloaded) for row in rows],
    }
    return SuiteReport(lines, checks, markdown(lines, checks), data, errors)


def summary(row: Any, unloaded: Any | None) -> dict[str, Any]:
    """A row's figures, for ``--json``."""
    trial = row.trial
    return {
        "policy": trial.policy,
        "label": example().label(trial.policy, trial.capacity),
        "load": trial.load,
        "capacity": trial.capacity,
        "base": trial.base,
        "seconds": trial.seconds,
        "requests": len(row.report.answers),
        "statuses": {str(k): v for k, v in row.report.statuses().items()},
        "p50": row.p(0.5),
        "p99": row.p99,
        "p99_vs_unloaded": (
            row.p99 / unloaded.p99
            if unloaded is not None and unloaded.trial.base == trial.base and unloaded.p99
            else None
        ),
        "goodput": row.goodput,
        "refused_share": row.refused_share,
        "settled_limit": row.settled_limit,
        "service_cpu_share": row.stats["cpu_share"],
        "generator_cpu_share": row.report.cpu_share,
        "generator_max_lag": row.report.max_lag,
        "disagreements": row.disagreements(),
        "statistics": row.stats["statistics"],
    }
