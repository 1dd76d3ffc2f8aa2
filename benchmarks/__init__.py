"""Side-by-side benchmarks: greenpool against futurist, eventlet, the stdlib and multiprocessing.

Run ``python -m benchmarks`` (see :mod:`benchmarks.run` and ``benchmarks/README.md``).
Cases live in ``green_cases``, ``thread_cases`` and ``process_cases``, registered
through :mod:`benchmarks._registry`.
"""
