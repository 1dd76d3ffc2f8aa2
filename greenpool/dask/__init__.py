"""greenpool on a dask cluster: :class:`DaskExecutor` (the optional extra ``greenpool[dask]``).

The same executor API, :class:`~greenpool.Future`, statistics and
``check_and_reject`` as every greenpool executor, with calls run by
``dask.distributed``: a service whose work outgrows one machine changes one
class. Importing :mod:`greenpool` never imports dask; this module does.

* :mod:`greenpool.dask._executor`: the executor, connecting to the cluster.
* :mod:`greenpool.dask._session`: the calls on the dask client's event loop.
* :mod:`greenpool.dask._remote`: what runs on a worker for each call.
"""

from __future__ import annotations

try:
    import distributed as _distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "greenpool.DaskExecutor needs dask.distributed, the optional extra: "
        "pip install 'greenpool[dask]'"
    ) from exc

from greenpool.dask._executor import DaskExecutor, refuse_if_monkey_patched

__all__ = ["DaskExecutor", "refuse_if_monkey_patched"]
