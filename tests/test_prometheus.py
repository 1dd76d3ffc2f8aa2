"""greenpool.prometheus: every live executor scraped over real HTTP from prometheus_client's
own server on 127.0.0.1, parsed with prometheus_client's parser, matching the statistics."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_python

import greenpool

prometheus_client = pytest.importorskip("prometheus_client")  # The test extra installs it.
from prometheus_client import CollectorRegistry  # noqa: E402
from prometheus_client.exposition import start_http_server  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import greenpool.prometheus  # noqa: E402

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def scrape() -> Iterator[Any]:
    """A registry with greenpool's collector, served on 127.0.0.1; scrape() parses /metrics."""
    registry = CollectorRegistry()
    collector = greenpool.prometheus.register(registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = server.server_address[1]

    def get() -> dict[tuple[str, str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = dict(sample.labels)
                executor = labels.pop("executor", "")
                samples[(sample.name, executor, tuple(sorted(labels.items())))] = sample.value
        return samples

    yield get
    server.shutdown()
    server.server_close()
    thread.join(5)
    greenpool.prometheus.unregister(collector, registry)


def fail() -> None:
    raise ValueError("planned")


@pytest.mark.core
def test_a_scrape_shows_every_executor_with_its_statistics(scrape: Any) -> None:
    executor = greenpool.ThreadPoolExecutor(
        2, check_and_reject=greenpool.rejection.reject_when_reached(0), name="scraped-refusing"
    )
    other = greenpool.ThreadPoolExecutor(3, name="scraped-working")
    with pytest.raises(greenpool.RejectedSubmission):
        executor.submit(int, "1")
    for _ in range(4):
        other.submit(int, "1").result(timeout=5)
    other.submit(fail).exception(timeout=5)
    gate = threading.Event()
    held = other.submit(gate.wait, 10)
    deadline = time.monotonic() + 10
    while not held.running() and time.monotonic() < deadline:  # A worker thread takes it.
        time.sleep(0.001)
    samples = scrape()
    stats = other.statistics
    for name in ("submitted", "executed", "failures", "cancelled", "rejected"):
        assert samples[(f"greenpool_{name}_total", "scraped-working", ())] == getattr(stats, name)
    assert samples[("greenpool_rejected_total", "scraped-refusing", ())] == 1
    assert samples[("greenpool_submitted_total", "scraped-refusing", ())] == 0
    assert samples[("greenpool_running", "scraped-working", ())] == 1
    assert samples[("greenpool_pending", "scraped-working", ())] == 0
    assert samples[("greenpool_workers", "scraped-working", ())] == other.num_workers
    assert samples[("greenpool_backlog", "scraped-working", ())] == 0
    # Histograms: count, sum and the cumulative buckets of the statistics' own histograms.
    assert samples[("greenpool_runtime_seconds_count", "scraped-working", ())] == stats.executed
    assert samples[("greenpool_runtime_seconds_sum", "scraped-working", ())] == pytest.approx(
        stats.runtime
    )
    assert samples[("greenpool_wait_seconds_count", "scraped-working", ())] == stats.started
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, executor_name, labels), value in samples.items()
        if name == "greenpool_runtime_seconds_bucket" and executor_name == "scraped-working"
    )
    assert buckets[-1] == (float("inf"), stats.executed)
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)
    assert 2.0**-17 in [bound for bound, _ in buckets] and 2.0**12 in [b for b, _ in buckets]
    gate.set()
    held.result(timeout=5)
    executor.shutdown()
    other.shutdown()


@pytest.mark.core
def test_the_buckets_are_exact_counts_at_powers_of_two() -> None:
    from greenpool import _histogram

    histogram = _histogram.LatencyHistogram()
    for seconds in (0.001, 0.0015, 0.003, 0.3, 2.0):
        histogram.record(seconds)
    cumulative = dict(greenpool.prometheus.buckets(tuple(histogram.counts)))
    assert cumulative[repr(2.0**-10)] == 0  # 0.977 ms: nothing is below it.
    assert cumulative[repr(2.0**-9)] == 2  # 1.95 ms: 0.001 and 0.0015.
    assert cumulative[repr(2.0**-8)] == 3
    assert cumulative[repr(2.0**-1)] == 4
    assert cumulative[repr(2.0**1)] == 4  # 2.0 itself counts above its edge.
    assert cumulative[repr(2.0**2)] == 5
    assert cumulative["+Inf"] == 5


@pytest.mark.core
def test_a_collected_executor_leaves_the_scrape(scrape: Any) -> None:
    import gc

    executor = greenpool.SynchronousExecutor(name="short-lived")
    executor.submit(int, "1")
    assert ("greenpool_executed_total", "short-lived", ()) in scrape()
    del executor
    gc.collect()
    assert ("greenpool_executed_total", "short-lived", ()) not in scrape()


@pytest.mark.core
def test_registering_twice_in_one_registry_or_a_wrong_registry_is_refused() -> None:
    registry = CollectorRegistry()
    collector = greenpool.prometheus.register(registry)
    with pytest.raises(ValueError):
        greenpool.prometheus.register(registry)
    with pytest.raises(TypeError):
        greenpool.prometheus.register("registry")  # type: ignore[arg-type]
    greenpool.prometheus.unregister(collector, registry)
    greenpool.prometheus.unregister(greenpool.prometheus.register(registry), registry)


@pytest.mark.core
def test_greenpool_never_imports_prometheus_client_and_says_which_extra_is_missing() -> None:
    result = run_python(
        """
        import sys
        import greenpool
        greenpool.GreenThreadPoolExecutor(2)
        assert "prometheus_client" not in sys.modules
        sys.modules["prometheus_client"] = None  # As if the extra were not installed.
        try:
            greenpool.prometheus
        except ImportError as error:
            print(error)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "greenpool[prometheus]" in result.stdout
