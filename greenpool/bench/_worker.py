"""One measurement in a fresh interpreter: ``python -m benchmarks._worker CASE IMPL N``.

The runner starts this once per (case, implementation, round), so no
measurement inherits a warm allocator, imported modules, a hub or garbage
from another. It prints one line, ``RESULT_PREFIX`` followed by JSON: either
``{"value": ...}``, or ``{"unavailable": ...}`` when the implementation's
import failed (a backend not written yet). Any other failure is a traceback
on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import sys
import warnings

from benchmarks import _registry

RESULT_PREFIX = "BENCHMARK-RESULT "


def _emit(payload: dict[str, object]) -> None:
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m benchmarks._worker CASE IMPLEMENTATION N", file=sys.stderr)
        return 2
    case_name, implementation_name, size = args
    # eventlet warns on import that it is deprecated; the report must stay readable.
    # Worker processes forked by the process cases inherit this filter.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    implementation = _registry.all_cases()[case_name].implementations[implementation_name]
    try:
        value = implementation.measure(int(size))
    except ImportError as exc:
        _emit({"unavailable": f"{type(exc).__name__}: {exc}"})
        return 0
    _emit({"value": value})
    return 0


if __name__ == "__main__":
    sys.exit(main())
