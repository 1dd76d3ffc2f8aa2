"""The demo's figures: checkpoints of the service, intervals between them, and what limited each.

Everything the demo shows is the difference of two :class:`Checkpoint`: the
executor's public statistics (``later - earlier`` and ``.rates()``, as a
service would read them), the downstream's exact occupancy, what arrived,
and the process's CPU time. A table row is the interval of the last second;
a load step's summary is the interval over that step once it has settled.
:func:`limiter` then says, from those figures alone, what bounded
throughput, in the order an operator would check: was there a limit at all,
the CPU (a green service is one thread), the downstream, the pool's
``max_workers`` (asked for as much as its workers can run, or busy all the
time), and last the rejection policy itself.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from greenpool._statistics import ExecutorStatistics, StatisticsRates

if TYPE_CHECKING:  # The service imports eventlet; these figures are read without it.
    from greenpool._executor import Executor
    from greenpool.cli._demo_service import DemoService, DownstreamUsage

#: A share at or above this is "full": workers all busy, downstream slots all in use, a core.
FULL = 0.85
#: Below this share of refusals, a policy did not shape the interval.
FEW_REFUSED = 0.01


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """The service's state at one moment (``at``: seconds since the load began)."""

    at: float
    statistics: ExecutorStatistics
    downstream: DownstreamUsage
    arrived: int
    cpu: float
    num_workers: int
    backlog: int

    @classmethod
    def take(cls, executor: Executor, app: DemoService, started_at: float) -> Checkpoint:
        return cls(
            at=time.monotonic() - started_at,
            statistics=executor.statistics,
            downstream=app.downstream.usage(),
            arrived=app.arrived,
            cpu=time.process_time(),
            num_workers=executor.num_workers,
            backlog=executor.backlog,
        )


@dataclasses.dataclass(frozen=True)
class Interval:
    """What happened between two checkpoints."""

    start: float
    end: float
    #: The executor's statistics over the interval (``later - earlier``).
    statistics: ExecutorStatistics
    rates: StatisticsRates
    #: Requests that arrived per second.
    offered: float
    #: The share of the downstream's slots in use.
    occupancy: float
    #: The service process's CPU time per second (1.0: one core, all the time).
    cpu_share: float
    #: As of the end of the interval.
    num_workers: int
    max_workers: int
    backlog: int

    @classmethod
    def between(cls, earlier: Checkpoint, later: Checkpoint, slots: int) -> Interval:
        span = later.at - earlier.at
        statistics = later.statistics - earlier.statistics
        return cls(
            start=earlier.at,
            end=later.at,
            statistics=statistics,
            rates=statistics.rates(span),
            offered=(later.arrived - earlier.arrived) / span,
            occupancy=later.downstream.occupancy(earlier.downstream, slots),
            cpu_share=(later.cpu - earlier.cpu) / span,
            num_workers=later.num_workers,
            max_workers=statistics.max_workers,
            backlog=later.backlog,
        )

    @property
    def refused_share(self) -> float:
        """Refused submissions over all submissions of the interval."""
        offered = self.statistics.submitted + self.statistics.rejected
        return self.statistics.rejected / offered if offered else 0.0


def limiter(interval: Interval, *, slots: int, base: float, policy: str) -> str:
    """What bounded throughput over ``interval``, said from its figures.

    ``slots`` and ``base`` describe the downstream, ``policy`` names the
    rejection policy (``""`` for none).
    """
    rates = interval.rates
    busy = f"workers {rates.utilisation:.0%} busy, downstream {interval.occupancy:.0%}"
    refused = interval.refused_share
    shaped = ""
    if refused >= FEW_REFUSED and policy:
        shaped = (
            f"; {policy} refused {refused:.0%}, and the wait p99 stayed at"
            f" {duration(interval.statistics.wait_p99)}"
        )
    elif not policy and interval.backlog > interval.max_workers:
        shaped = (
            f"; with no policy {interval.backlog:,} calls queued and the wait p99 reached"
            f" {duration(interval.statistics.wait_p99)}"
        )
    # Accepted all (the calls still in flight at the end are served a moment
    # later: a short interval's executed/s lags its offered/s by them) and no
    # queue stood at the end.
    if refused < FEW_REFUSED and interval.backlog <= interval.max_workers and not shaped:
        edge = ""
        if interval.occupancy >= FULL:
            edge = ", at the downstream's capacity"
        elif rates.utilisation >= FULL:
            edge = ", at the pool's capacity"
        return f"nothing: it served what it was offered{edge} ({busy})"
    if interval.cpu_share >= FULL:
        return (
            f"the CPU: the service used {interval.cpu_share:.0%} of a core, and a green"
            f" service runs on one ({busy}){shaped}"
        )
    if interval.occupancy >= FULL:
        return (
            f"the downstream: its {slots} slots were {interval.occupancy:.0%} in use (run time"
            f" p50 {duration(interval.statistics.runtime_p50)}, {duration(base)} unloaded);"
            f" more workers would only queue inside it{shaped}"
        )
    # What was asked of the pool: calls offered a second times their run time, per
    # worker. Busy workers alone miss a step right at capacity, where Poisson
    # arrivals leave workers idle now and then while a policy refuses the bursts.
    # Demand counts only where the pool pushed back (refusals, or calls queued).
    demand = interval.offered * interval.statistics.average_runtime / interval.max_workers
    pushed_back = refused >= FEW_REFUSED or interval.backlog > 0
    if rates.utilisation >= FULL or (demand >= FULL and pushed_back):
        more = ""
        if interval.max_workers < slots:
            more = f"; --workers {slots} would serve up to {slots / base:,.0f}/s"
        return (
            f"the pool's max_workers={interval.max_workers}: offered {demand:.0%} of what its"
            f" workers can run; {busy}{more}{shaped}"
        )
    if refused >= FEW_REFUSED:
        return f"the policy, {policy}: it refused {refused:.0%} while there was room ({busy})"
    return f"unclear: served {rates.executed:,.0f} of {interval.offered:,.0f} offered/s ({busy})"


def duration(seconds: float) -> str:
    """A duration for a table: ``0.12ms``, ``51.2ms``, ``312ms``, ``1.25s``."""
    if seconds < 0.001:
        return f"{seconds * 1000:.2f}ms"
    if seconds < 0.1:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 1.0:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"
