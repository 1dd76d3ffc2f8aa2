"""The repository's benchmark entry point: greenpool's shipped benchmarks plus the repo-only ones.

The engine and the cases live in :mod:`greenpool.bench`, so that ``python -m
greenpool bench`` runs them from an installed wheel. ``python -m benchmarks``
(see :mod:`benchmarks.run` and ``benchmarks/README.md``) runs the same runner
from a checkout, adding ``overload_cases`` (the ``overload`` suite, which runs
the repository's ``examples/``).
"""
