"""Periodic workers under ``eventlet.monkey_patch()``, started in native and in green threads.

* ``native``: ``start()`` in a real OS thread, default executor (synchronous
  there), callables that use patched ``time.sleep``;
* ``green``: ``start()`` in a thread of the patched ``threading`` module (a
  green thread), default executor (a green pool);
* ``native-on-green``: ``start()`` in a real OS thread, running its callables
  on a green executor of the main hub.

All three are stopped from the main green thread, whose hub must keep
running throughout (a ticker counts its turns). Prints one line per worker,
then ``ok``.
"""

import eventlet

eventlet.monkey_patch()

import threading  # noqa: E402  (patched: threading.Thread is a green thread)
import time  # noqa: E402

from eventlet import patcher  # noqa: E402

import greenpool  # noqa: E402
from greenpool import periodics  # noqa: E402

RealThread = patcher.original("threading").Thread
ticks = [0]


def ticker() -> None:
    while True:
        ticks[0] += 1
        eventlet.sleep(0.001)


eventlet.spawn(ticker)


def make_worker(executor_factory=None):
    calls = []

    @periodics.periodic(0.01, run_immediately=True)
    def job():
        time.sleep(0.001)  # Patched: green in a green thread, a hub of its own in a native one.
        calls.append(1)

    @periodics.periodic(3 * 3600)
    def far():
        raise AssertionError("hours away")

    worker = periodics.PeriodicWorker(
        [(job, None, None), (far, None, None)], executor_factory=executor_factory
    )
    return worker, calls


main_pool = greenpool.GreenThreadPoolExecutor(4)
runs = {
    "native": (make_worker(), RealThread),
    "green": (make_worker(), threading.Thread),
    "native-on-green": (make_worker(periodics.ExistingExecutor(main_pool)), RealThread),
}
threads = {}
for name, ((worker, _calls), thread_class) in runs.items():
    threads[name] = thread_class(target=worker.start, daemon=True)
    threads[name].start()

deadline = time.monotonic() + 20
while time.monotonic() < deadline and not (
    ticks[0] >= 100 and all(len(c) >= 5 for (_w, c), _t in runs.values())
):
    eventlet.sleep(0.01)
ticks_before_stop = ticks[0]
for name, ((worker, _calls), _t) in runs.items():
    worker.stop()
    assert worker.wait(10), f"{name}: start() did not return after stop()"
    watcher = next(worker.iter_watchers())
    assert watcher.runs >= 5 and watcher.failures == 0, (name, watcher)
    stats = watcher.executor_statistics
    print(name, type(worker.executor).__name__, watcher.runs, stats.executed, flush=True)
assert ticks_before_stop >= 100, f"the hub barely ran: {ticks_before_stop} ticks"
assert type(runs["native"][0][0].executor).__name__ == "SynchronousExecutor"
assert type(runs["green"][0][0].executor).__name__ == "GreenThreadPoolExecutor"
assert main_pool.alive
main_pool.shutdown()
print("ok", flush=True)
