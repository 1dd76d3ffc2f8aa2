"""greenpool on a dask cluster: :class:`DaskExecutor` (the optional extra ``greenpool[dask]``).

The same executor API, :class:`~greenpool.Future`, statistics and
``check_and_reject`` as every greenpool executor, with calls run by
``dask.distributed``: a service whose work outgrows one machine changes one
class. Importing :mod:`greenpool` never imports dask; this module does.

* :mod:`greenpool.dask._executor`: the executor.
* :mod:`greenpool.dask._connect`: where its client comes from.
* :mod:`greenpool.dask._session`: the calls on the dask client's event loop.
* :mod:`greenpool.dask._owner`: what each call's news does to its future.
* :mod:`greenpool.dask._remote`: what runs on a worker for each call.
* :mod:`greenpool.dask._bridge` and :mod:`greenpool.dask._helper`: under
  eventlet monkey patching, the client in a helper process.
"""

from __future__ import annotations

import importlib.util

# Found, not imported: a monkey-patched process never imports distributed (its
# helper process does), and the others import it when an executor is made.
if importlib.util.find_spec("distributed") is None:  # pragma: no cover - a subprocess test
    raise ImportError(
        "greenpool.DaskExecutor needs dask.distributed, the optional extra: "
        "pip install 'greenpool[dask]'"
    )

from greenpool.dask._executor import DaskExecutor

__all__ = ["DaskExecutor"]
