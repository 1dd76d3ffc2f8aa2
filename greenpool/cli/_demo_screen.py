"""The demo's live table: redrawn in place on a terminal, a line per second when piped.

A terminal gets the whole table rewritten each second (cursor up over what
was drawn, clear to the end, draw again), with a status line under it; a
pipe or file gets the header once and then each new row as it comes, with
no control characters, so a log of the demo reads like the table. Lines are
cut to the terminal's width, since a wrapped line would throw off the count
of lines to move up over.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import TextIO

from greenpool.cli._demo_figures import Interval, duration

#: (heading, width) of each column; the first is left-aligned.
COLUMNS = (
    ("time", 6),
    ("load", 6),
    ("offered/s", 10),
    ("submit/s", 9),
    ("reject/s", 9),
    ("running", 8),
    ("backlog", 8),
    ("wait p50", 9),
    ("wait p99", 9),
    ("run p50", 9),
    ("run p99", 9),
    ("workers", 9),
    ("busy", 6),
)


def _line(cells: Sequence[str]) -> str:
    return "".join(
        f"{cell:<{width}}" if index == 0 else f"{cell:>{width}}"
        for index, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def header() -> str:
    return _line([name for name, _ in COLUMNS])


def row(interval: Interval, load: str) -> str:
    """One row: the interval ending at ``interval.end``, in load step ``load`` ("2x", "drain")."""
    rates, statistics = interval.rates, interval.statistics
    return _line(
        [
            f"{interval.end:.1f}s",
            load,
            f"{interval.offered:,.0f}",
            f"{rates.submitted:,.0f}",
            f"{rates.rejected:,.0f}",
            str(rates.running),
            f"{interval.backlog:,}",
            duration(statistics.wait_p50),
            duration(statistics.wait_p99),
            duration(statistics.runtime_p50),
            duration(statistics.runtime_p99),
            f"{interval.num_workers}/{interval.max_workers}",
            f"{rates.utilisation:.0%}",
        ]
    )


class LiveTable:
    """Shows the table's rows as they come, on ``stream``; ``live`` when it is a terminal."""

    def __init__(self, stream: TextIO, live: bool) -> None:
        self._stream = stream
        self._live = live
        self._drawn = 0
        self._printed = 0

    def update(self, rows: Sequence[str], status: str = "") -> None:
        """Show every row so far; on a terminal also ``status`` under them."""
        if self._live:
            width = max(20, shutil.get_terminal_size().columns - 1)
            lines = [line[:width] for line in [header(), *rows, status]]
            up = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
            self._stream.write(up + "\n".join(lines) + "\n")
            self._drawn = len(lines)
        else:
            if not self._printed:
                self._stream.write(header() + "\n")
            for line in rows[self._printed :]:
                self._stream.write(line + "\n")
            self._printed = len(rows)
        self._stream.flush()
