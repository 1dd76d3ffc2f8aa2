"""matplotlib for the command line's ``--plot``, from the optional extra ``greenpool[plot]``.

The demo and the benchmarks draw charts only when asked, so matplotlib is an
optional extra: nothing imports it until :func:`pyplot` is called, and the
command line calls :func:`require` while it parses its arguments, so a run
that could not write its chart is refused before it starts rather than after
fifteen seconds of work.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: What to install for ``--plot``.
EXTRA = "greenpool[plot]"


class PlotUnavailable(ImportError):
    """matplotlib is not installed: ``--plot`` needs the ``greenpool[plot]`` extra."""


def require() -> None:
    """Raise :class:`PlotUnavailable` unless matplotlib can be imported."""
    pyplot()


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the file-only Agg backend (no display is needed or opened)."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as exc:
        raise PlotUnavailable(f"--plot needs matplotlib: pip install '{EXTRA}' ({exc})") from exc
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")
