"""Where a DaskExecutor's client comes from, and whether this process can hold one.

:func:`connect` makes or takes the ``distributed.Client`` (in the executor's
process, or in its helper under monkey patching: see
:mod:`greenpool.dask._bridge`); :func:`monkey_patched` says whether eventlet
has patched what ``distributed`` needs in this process.
"""

from __future__ import annotations

import sys
from typing import Any

#: The modules whose patching breaks ``distributed`` (its event loop runs in a
#: native thread on real sockets, selectors and locks).
BREAKING_PATCHES = ("socket", "select", "thread", "time")


def monkey_patched() -> list[str]:
    """Which of the modules ``distributed`` needs eventlet has patched here (none: [])."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None:
        return []
    return [name for name in BREAKING_PATCHES if patcher.is_monkey_patched(name)]


def connect(client_or_address: Any) -> tuple[Any, Any, bool]:
    """The client to drive, the cluster to close with it (if ours), and whether it is ours."""
    import distributed

    Client: Any = distributed.Client
    LocalCluster: Any = distributed.LocalCluster

    if client_or_address is None:
        cluster = LocalCluster(host="127.0.0.1", dashboard_address=None)
        try:
            return Client(cluster), cluster, True
        except BaseException:
            cluster.close()
            raise
    if isinstance(client_or_address, str):
        return Client(client_or_address), None, True
    if isinstance(client_or_address, Client):
        if client_or_address.asynchronous:
            raise ValueError("DaskExecutor needs a synchronous distributed.Client")
        if client_or_address.status not in ("running", "connecting", "newly-created"):
            raise ValueError(f"the dask client is {client_or_address.status}, not running")
        return client_or_address, None, False
    raise TypeError(
        "client_or_address must be a distributed.Client, a scheduler address or None, "
        f"not {type(client_or_address).__name__}"
    )
