"""``multiprocessing.Pool``'s interface over any greenpool executor (``greenpool.Pool``).

Code written for ``multiprocessing.Pool`` (or for the ``processing.pool``
module it began as: ``applyAsync``, ``mapAsync``, ``imapUnordered``) runs
on green threads, native threads or worker processes by choosing the
executor, and gains the executor's statistics, rejection policy and worker
crash isolation. See :mod:`greenpool.pool._pool` for where each piece of
work runs, and the README for every difference from the stdlib.

Imported on first use of ``greenpool.Pool``: it needs ``multiprocessing``.
"""

from greenpool.pool._feed import IMapIterator
from greenpool.pool._pool import Pool
from greenpool.pool._results import (
    ApplyResult,
    AsyncResult,
    MapResult,
    PoolTerminated,
    TimeoutError,
)

__all__ = [
    "ApplyResult",
    "AsyncResult",
    "IMapIterator",
    "MapResult",
    "Pool",
    "PoolTerminated",
    "TimeoutError",
]
