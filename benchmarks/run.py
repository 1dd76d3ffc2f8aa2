"""The repository's benchmark command: greenpool's shipped runner plus the repo-only suites.

    python -m benchmarks [NAME ...] [--case NAME ...] [--rounds N] [--quick]
                         [--json PATH] [--markdown PATH] [--plot FILE.png]
                         [--timeout SECONDS] [--list]
    python benchmarks/run.py ...      (the same)

The engine and the cases ship in :mod:`greenpool.bench` (``python -m greenpool
bench`` runs them from an installed wheel). This adds the cases and suites of
:data:`EXTRA_CASE_MODULES`, which need the repository itself: the ``overload``
suite runs ``examples/``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

if __package__ in (None, ""):  # Run as ``python benchmarks/run.py``.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from greenpool.bench import run

#: Case modules of the repository's own, after greenpool.bench's shipped ones.
EXTRA_CASE_MODULES = ("benchmarks.overload_cases",)


def main(argv: Sequence[str] | None = None) -> int:
    return run.main(argv, prog="python -m benchmarks", extra_case_modules=EXTRA_CASE_MODULES)


if __name__ == "__main__":
    sys.exit(main())
