"""An oslo.messaging RPC server and client over the in-memory ``fake`` transport.

Usage: ``python oslo_messaging_rpc.py {greenpool|futurist} {eventlet|threading}``

oslo.messaging loads its executor through the ``oslo.messaging.executors``
entry points, ``futurist:GreenThreadPoolExecutor`` (``eventlet``) and
``futurist:ThreadPoolExecutor`` (``threading``), so with the alias in place
the server runs every request on greenpool's executor. ``eventlet`` monkey
patches first, as every eventlet service does (the server's poll loop is then
a green thread submitting to the green executor). The fake transport is a
queue in this process: nothing touches the network. Prints a report.
"""

from __future__ import annotations

import sys

target, executor_name = sys.argv[1], sys.argv[2]
if executor_name == "eventlet":
    import eventlet

    eventlet.monkey_patch()

import _downstream  # noqa: E402

_downstream.use(target)

import threading  # noqa: E402

import oslo_messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402
from stevedore import driver  # noqa: E402

WAIT = 10.0

cfg.CONF([], project="greenpool-downstream")
transport = oslo_messaging.get_rpc_transport(cfg.CONF, url="fake:/")
cast_values: list[int] = []
cast_arrived = threading.Event()


class Endpoint:
    def add(self, ctxt: object, a: int, b: int) -> int:
        return a + b

    def fail(self, ctxt: object) -> None:
        raise ValueError("remote boom")

    def record(self, ctxt: object, value: int) -> None:
        cast_values.append(value)
        cast_arrived.set()


server = oslo_messaging.get_rpc_server(
    transport,
    oslo_messaging.Target(topic="greenpool-compat", server="server-1"),
    [Endpoint()],
    executor=executor_name,
)
server.start()
client = oslo_messaging.get_rpc_client(
    transport, oslo_messaging.Target(topic="greenpool-compat"), timeout=WAIT
)
found: dict[str, object] = {}
try:
    found["call"] = client.call({}, "add", a=2, b=3)
    found["calls"] = [client.call({}, "add", a=n, b=n) for n in range(5)]
    try:
        client.call({}, "fail")
    except ValueError as exc:  # The remote exception, re-raised in the client.
        found["error"] = str(exc).splitlines()[0]
    client.cast({}, "record", value=7)
    found["cast_arrived"] = cast_arrived.wait(WAIT)
    found["cast_values"] = cast_values
finally:
    server.stop()
    server.wait()  # Shuts the executor down, waiting for its calls.
    transport.cleanup()
executor_cls = driver.DriverManager("oslo.messaging.executors", executor_name).driver
found["executor"] = f"{executor_cls.__module__}.{executor_cls.__qualname__}"
_downstream.report(found)
