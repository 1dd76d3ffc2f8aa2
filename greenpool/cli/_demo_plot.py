"""The demo's chart (``--plot FILE.png``): load, refusals and latency over the run.

Two panels sharing the time axis, drawn from the same one-second intervals
as the table: requests a second (offered, served, refused) above, and the
p99 wait and run time below on a log scale (a queue's wait spans four
orders of magnitude between a calm pool and an overloaded one without a
policy). Dotted lines mark where each load step began. matplotlib comes
from the ``greenpool[plot]`` extra (:mod:`greenpool._plotting`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from greenpool import _plotting
from greenpool.cli._demo_figures import Interval

#: Latencies below this are drawn at it: a log axis has no zero.
FLOOR = 1e-5


def write_plot(
    path: str,
    intervals: Sequence[Interval],
    steps: Sequence[tuple[float, str]],
    title: str,
) -> None:
    """Draw ``intervals`` to ``path``; ``steps`` are (start time, label) of each load step."""
    plt = _plotting.pyplot()
    # Each figure holds over its whole interval: drawn as steps from its start.
    times = [interval.start for interval in intervals] + [intervals[-1].end]

    def held(values: list[float]) -> list[float]:
        return [*values, values[-1]]

    figure, (load, latency) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5), dpi=100)
    for values, label, colour, width in (
        ([i.offered for i in intervals], "offered", "black", 2.0),
        ([i.rates.executed for i in intervals], "served (200)", "tab:green", 1.5),
        ([i.rates.rejected for i in intervals], "refused (503)", "tab:red", 1.5),
    ):
        load.plot(times, held(values), label=label, color=colour, lw=width, drawstyle="steps-post")
    load.set_ylabel("requests / s")
    load.legend(loc="center left")
    load.grid(alpha=0.3)
    for key, label, colour in (
        ("wait_p99", "wait p99", "tab:orange"),
        ("runtime_p99", "run p99", "tab:blue"),
    ):
        values = [max(FLOOR, getattr(i.statistics, key)) * 1000 for i in intervals]
        latency.plot(times, held(values), label=label, color=colour, drawstyle="steps-post")
    latency.set_yscale("log")
    ticker = importlib.import_module("matplotlib.ticker")  # Importable once pyplot is.
    latency.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    latency.yaxis.set_minor_formatter(ticker.NullFormatter())
    latency.set_ylabel("ms (log)")
    latency.set_xlabel("seconds since the load began")
    latency.legend(loc="upper left")
    latency.grid(alpha=0.3, which="both")
    for axes in (load, latency):
        for start, _ in steps:
            axes.axvline(start, color="grey", linestyle=":", lw=1)
    for start, label in steps:
        load.text(
            start,
            0.97,
            f" {label}",
            va="top",
            ha="left",
            color="grey",
            transform=load.get_xaxis_transform(),
        )
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
