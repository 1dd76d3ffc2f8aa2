"""``python -m benchmarks``: greenpool.bench plus the repo-only suites (:mod:`benchmarks.run`)."""

from __future__ import annotations

import sys

from benchmarks.run import main

sys.exit(main())
