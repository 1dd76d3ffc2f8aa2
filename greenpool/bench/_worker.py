"""One measurement in a fresh interpreter.

    python -m greenpool.bench._worker [--modules MODULE[,MODULE...]] CASE IMPLEMENTATION N

The runner starts this once per (case, implementation, round), so no
measurement inherits a warm allocator, imported modules, a hub or garbage
from another. It looks the case up by name among the cases of
:data:`greenpool.bench._registry.CASE_MODULES` and of the extra modules that
``--modules`` names (comma-separated, imported after those: the runner passes
its own ``extra_case_modules``, e.g. ``benchmarks.overload_cases`` in a
checkout). It prints one line, ``RESULT_PREFIX`` followed by JSON: either
``{"value": ...}``, or ``{"unavailable": ...}`` when the implementation's
import failed (a backend not written yet). Any other failure is a traceback
on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence

from greenpool.bench import _registry

RESULT_PREFIX = "BENCHMARK-RESULT "
#: This module, as the runner starts it with ``python -m``.
MODULE = "greenpool.bench._worker"


def command(
    case: str, implementation: str, n: int, extra_case_modules: Sequence[str] = ()
) -> list[str]:
    """The command line that measures ``implementation`` of ``case`` once, at size ``n``."""
    modules = ["--modules", ",".join(extra_case_modules)] if extra_case_modules else []
    return [sys.executable, "-m", MODULE, *modules, case, implementation, str(n)]


def _emit(payload: dict[str, object]) -> None:
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}", description="one benchmark measurement (run by the runner)"
    )
    parser.add_argument("--modules", default="", help="extra case modules, comma-separated")
    parser.add_argument("case")
    parser.add_argument("implementation")
    parser.add_argument("n", type=int)
    args = parser.parse_args(argv)
    # eventlet warns on import that it is deprecated; the report must stay readable.
    # Worker processes forked by the process cases inherit this filter.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    extra = [module for module in args.modules.split(",") if module]
    implementation = _registry.all_cases(extra)[args.case].implementations[args.implementation]
    try:
        value = implementation.measure(args.n)
    except ImportError as exc:
        _emit({"unavailable": f"{type(exc).__name__}: {exc}"})
        return 0
    _emit({"value": value})
    return 0


if __name__ == "__main__":
    sys.exit(main())
