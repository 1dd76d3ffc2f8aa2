"""greenpool's benchmarks, shipped so that ``python -m greenpool bench`` runs from a wheel.

Side-by-side measurements of greenpool against futurist, eventlet's
``GreenPool``, the stdlib's ``concurrent.futures`` and ``multiprocessing``:
speed and memory per call, each measurement in a fresh interpreter, medians
over rounds, ratios against greenpool and the targets from the issues.

* :mod:`greenpool.bench.run`: the runner and its command line
  (:func:`~greenpool.bench.run.add_arguments`, :func:`~greenpool.bench.run.run`,
  :func:`~greenpool.bench.run.main`; also ``python -m greenpool.bench.run``);
* :mod:`greenpool.bench._registry`: what a case, a target and a suite are;
* ``*_cases``: the cases (:data:`~greenpool.bench._registry.CASE_MODULES`);
* :mod:`greenpool.bench._worker`: one measurement in a fresh interpreter;
* :mod:`greenpool.bench._plot`: ``--plot``'s bar chart (the ``greenpool[plot]`` extra).

Importing this package or listing the cases imports no eventlet, futurist or
matplotlib: each implementation imports its library when it runs. The
repository's ``benchmarks/`` adds its repo-only suites (``overload``) and runs
this same runner as ``python -m benchmarks``.
"""
