"""Every live executor as Prometheus metrics: ``greenpool.prometheus.register()``.

Needs the optional extra ``greenpool[prometheus]`` (``prometheus_client``);
importing :mod:`greenpool` never imports it. One collector serves every
executor of the process (``greenpool.executors()``), each under an
``executor`` label (its ``name``), and reads them only when scraped: it
adds nothing to any submit or call. The run and wait time histograms are
the statistics' own fixed-memory histograms, published at every power of
two from 2**-17 s (7.6 µs) to 2**12 s (68 minutes): those are edges of the
histograms' own buckets, so each published count is exact, not
re-estimated. (A duration exactly on an edge counts in the bucket above
it: ``le`` here is "below", a difference no clock can show.)

Metrics (counters get prometheus_client's ``_total``; histograms ``_bucket``,
``_sum`` and ``_count``):

===============================  =========  =====================================
``greenpool_submitted_total``    counter    calls accepted
``greenpool_rejected_total``     counter    calls refused by ``check_and_reject``
``greenpool_executed_total``     counter    calls finished, successfully or not
``greenpool_failures_total``     counter    calls finished by raising
``greenpool_cancelled_total``    counter    calls cancelled before they started
``greenpool_pending``            gauge      calls waiting to start
``greenpool_running``            gauge      calls running
``greenpool_workers``            gauge      workers that exist (busy or idle)
``greenpool_backlog``            gauge      calls no worker can take now
``greenpool_runtime_seconds``    histogram  run time of finished calls
``greenpool_wait_seconds``       histogram  time from acceptance to start
===============================  =========  =====================================
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

try:
    from prometheus_client.core import (
        REGISTRY,
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector, CollectorRegistry
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "greenpool.prometheus needs prometheus_client: install the extra,"
        " pip install 'greenpool[prometheus]'"
    ) from exc

from greenpool import _histogram, _live

#: The bucket indices published, and their ``le`` bounds: every power of two
#: in range. Bucket ``16k + 15`` of the histogram ends at exactly 2**(k - 23).
_PUBLISHED = [
    (index, _histogram.upper_bound(index))
    for index in range(15, _histogram.NUM_BUCKETS, 16)
    if 2.0**-17 <= _histogram.upper_bound(index) <= 2.0**12
]

_COUNTERS = (
    ("submitted", "Calls accepted by submit."),
    ("rejected", "Calls refused by check_and_reject."),
    ("executed", "Calls that finished, successfully or not."),
    ("failures", "Calls that finished by raising an exception."),
    ("cancelled", "Calls cancelled before they started."),
)


def buckets(counts: tuple[int, ...]) -> list[tuple[str, float]]:
    """A histogram's bucket counts as Prometheus cumulative buckets, ``+Inf`` last."""
    cumulative: list[tuple[str, float]] = []
    seen = 0
    start = 0
    for index, bound in _PUBLISHED:
        seen += sum(counts[start : index + 1])
        start = index + 1
        cumulative.append((repr(bound), float(seen)))
    cumulative.append(("+Inf", float(sum(counts))))
    return cumulative


class ExecutorCollector(Collector):
    """The collector :func:`register` adds: every live executor, read at each scrape."""

    def describe(self) -> list[Metric]:
        # Nothing to describe ahead of a scrape (executors come and go), and an
        # empty description keeps registration from collecting.
        return []

    def collect(self) -> Iterator[Metric]:
        labels = ["executor"]
        counters = {
            name: CounterMetricFamily(f"greenpool_{name}", text, labels=labels)
            for name, text in _COUNTERS
        }
        pending = GaugeMetricFamily("greenpool_pending", "Calls waiting to start.", labels=labels)
        running = GaugeMetricFamily("greenpool_running", "Calls running now.", labels=labels)
        workers = GaugeMetricFamily("greenpool_workers", "Workers that exist.", labels=labels)
        backlog = GaugeMetricFamily(
            "greenpool_backlog", "Accepted calls no worker can take now.", labels=labels
        )
        runtime = HistogramMetricFamily(
            "greenpool_runtime_seconds", "Run time of finished calls.", labels=labels
        )
        wait = HistogramMetricFamily(
            "greenpool_wait_seconds", "Time from acceptance until a worker started the call.",
            labels=labels,
        )  # fmt: skip
        for executor in _live.executors():
            name = [executor.name]
            statistics = executor.statistics
            for counter_name, family in counters.items():
                family.add_metric(name, getattr(statistics, counter_name))
            pending.add_metric(name, statistics.pending)
            running.add_metric(name, statistics.running)
            workers.add_metric(name, executor.num_workers)
            backlog.add_metric(name, executor.backlog)
            runtime.add_metric(name, buckets(statistics.runtime_counts), statistics.runtime)
            wait.add_metric(name, buckets(statistics.wait_counts), statistics.wait_time)
        yield from counters.values()
        yield from (pending, running, workers, backlog, runtime, wait)


#: Registries that have a collector of ours: a second would publish every
#: series twice, which the registry cannot tell (nothing is described).
_registered: weakref.WeakSet[Any] = weakref.WeakSet()


def register(registry: CollectorRegistry | None = None) -> ExecutorCollector:
    """Add one collector of every live executor to ``registry`` (the default one if None).

    Returns the collector. ``ValueError`` if that registry has one already;
    :func:`unregister` removes it.
    """
    target: Any = REGISTRY if registry is None else registry
    if not isinstance(target, CollectorRegistry):
        raise TypeError(f"registry must be a prometheus_client CollectorRegistry, got {registry!r}")
    if target in _registered:
        raise ValueError("this registry has greenpool's collector already")
    collector = ExecutorCollector()
    target.register(collector)
    _registered.add(target)
    return collector


def unregister(collector: ExecutorCollector, registry: CollectorRegistry | None = None) -> None:
    """Remove ``collector`` (what :func:`register` returned) from ``registry``."""
    target: Any = REGISTRY if registry is None else registry
    target.unregister(collector)
    _registered.discard(target)
