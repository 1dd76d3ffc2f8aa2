"""``--plot FILE.png``: the run's ratios against greenpool as a bar chart.

One group of bars per case, one bar per other implementation, its height
``other / greenpool`` of the medians, the same ratio the table prints. The y
axis is logarithmic with a line at 1: a bar rises from the line when greenpool
is faster (or smaller) by that factor and falls below it when greenpool is
slower, so 5x better and 5x worse are the same length. Each implementation
keeps its colour in every case (futurist is the same colour throughout), the
legend names them, and every bar is labelled with its ratio.

matplotlib comes from the optional extra ``greenpool[plot]`` and is imported
only when a chart is drawn (:func:`greenpool._plotting.pyplot`); the runner
calls :func:`greenpool._plotting.require` while it checks its arguments, so a
run that could not draw its chart is refused before it measures anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from greenpool import _plotting
from greenpool.bench._outcomes import CaseResult

#: A case's bars: (implementation, ratio to the reference), in the table's order.
Bars = Sequence[tuple[str, float]]


def _ratio(value: float) -> str:
    return f"{value:.3g}x"


def unsupported(path: str) -> str | None:
    """Why matplotlib cannot write ``path`` (an unknown extension), or None if it can."""
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    if not extension:
        return None  # matplotlib writes its default format, PNG.
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if extension in formats:
        return None
    return f"matplotlib cannot write .{extension} files (it writes {', '.join(sorted(formats))})"


def draw(
    path: str,
    groups: Sequence[tuple[str, Bars]],
    *,
    title: str,
    subtitle: str = "",
    reference: str = "greenpool",
    label: Callable[[float], str] = _ratio,
) -> None:
    """Write the bar chart of ``groups`` (case name, its bars) to ``path``.

    Cases without a bar (nothing measured beside the reference) are left out;
    with none at all the chart says so rather than being empty.
    """
    plt = _plotting.pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    shown = [(case, list(bars)) for case, bars in groups if bars]
    implementations = list(dict.fromkeys(name for _, bars in shown for name, _ in bars))
    colour = {name: _colour(plt, index) for index, name in enumerate(implementations)}

    slots = sum(len(bars) for _, bars in shown) + len(shown)  # A gap after every case.
    figure, axes = plt.subplots(figsize=(max(8.0, 0.42 * slots + 2.0), 5.5))
    try:
        figure.suptitle(title, fontsize=12)
        axes.set_title(subtitle, fontsize=9, color="0.3")
        if not shown:
            axes.text(
                0.5,
                0.5,
                f"no ratios to draw: nothing was measured beside {reference}",
                ha="center",
                va="center",
                transform=axes.transAxes,
            )
            axes.set_axis_off()
        else:
            _bars(axes, shown, colour, label)
            axes.set_yscale("log")
            ratios = [ratio for _, bars in shown for _, ratio in bars]
            axes.set_ylim(min(*ratios, 1.0) / 1.8, max(*ratios, 1.0) * 1.8)
            axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
            axes.yaxis.set_minor_formatter(NullFormatter())
            axes.axhline(1.0, color="black", linewidth=1.0)
            axes.set_ylabel(
                f"other / {reference} (medians, log scale)\n"
                f"above 1: {reference} faster or smaller by that factor",
                fontsize=9,
            )
            axes.grid(axis="y", which="major", color="0.88", linewidth=0.6)
            axes.set_axisbelow(True)
            for side in ("top", "right"):
                axes.spines[side].set_visible(False)
            handles: list[Any] = [Patch(color=colour[name], label=name) for name in colour]
            axes.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.22),
                ncol=min(4, len(handles)),
                fontsize=8,
                frameon=False,
            )
        figure.savefig(path, dpi=150, bbox_inches="tight")
    finally:
        plt.close(figure)


def _colour(plt: Any, index: int) -> Any:
    """The ``index``-th implementation's colour: tab20's ten dark hues, then its light ones."""
    return plt.get_cmap("tab20")((2 * index + index // 10 % 2) % 20)


def _bars(
    axes: Any,
    shown: Sequence[tuple[str, Bars]],
    colour: dict[str, Any],
    label: Callable[[float], str],
) -> None:
    """The bars from 1 to each ratio, their labels, and the case names under each group."""
    x = 0.0
    centres, names = [], []
    for case, bars in shown:
        start = x
        for name, ratio in bars:
            axes.bar(x, ratio - 1.0, bottom=1.0, width=0.8, color=colour[name])
            above = ratio >= 1.0
            axes.annotate(
                label(ratio),
                (x, ratio),
                xytext=(0, 2 if above else -2),
                textcoords="offset points",
                ha="center",
                va="bottom" if above else "top",
                fontsize=7,
            )
            x += 1.0
        centres.append((start + x - 1.0) / 2)
        names.append(case)
        axes.axvline(x, color="0.9", linewidth=0.6)  # Between this case and the next.
        x += 1.0
    axes.set_xticks(centres)
    axes.set_xticklabels(names, rotation=30, ha="right", rotation_mode="anchor", fontsize=9)
    axes.tick_params(axis="x", length=0)
    axes.set_xlim(-0.8, x - 1.2)


def plot_title(env: dict[str, object], rounds: int, quick: bool) -> tuple[str, str]:
    """The chart's title (Python, greenpool and its commit, as the header) and subtitle."""
    versions = env["versions"]
    assert isinstance(versions, dict)
    greenpool = f"greenpool {versions['greenpool']}"
    if env["commit"]:
        greenpool += f" ({env['commit']})"
    title = f"greenpool benchmarks: {env['python_implementation']} {env['python']}, {greenpool}"
    subtitle = (
        f"median of {rounds} round{'s' if rounds != 1 else ''}, {env['cpus']} CPUs, {env['date']}"
        + ("; QUICK run (smaller n: not for comparison)" if quick else "")
    )
    return title, subtitle


def plot_groups(results: Sequence[CaseResult]) -> list[tuple[str, list[tuple[str, float]]]]:
    """Per case, every other implementation's ratio to the reference (those that exist)."""
    groups = []
    for result in results:
        reference = result.by_name(result.case.reference)
        bars = [
            (outcome.name, ratio)
            for outcome in result.outcomes
            if outcome is not reference and (ratio := result.ratio(outcome)) is not None
        ]
        groups.append((result.case.name, bars))
    return groups
