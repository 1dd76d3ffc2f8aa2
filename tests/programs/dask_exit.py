"""At interpreter exit, a DaskExecutor on a LocalCluster of its own finishes its calls.

As many calls of 0.5 s as the cluster has worker threads have started on
a worker when the main program returns, and two more wait on the
scheduler; a delayed call an hour away is pending as well. Without monkey
patching, a second executor shares the first one's client with
``max_in_flight=1``: its first call waits on the scheduler, its second in
the executor, and the client it does not own must stay open until it has
drained. Both executors are locals of ``main()``, collected when it
returns, without ``shutdown()``.

Each call's future writes ``finished NAME`` (its result came back),
``cancelled NAME`` or ``failed NAME: error`` when it resolves; the main
program writes which calls had started and which had not, then ``main
done``. Run by tests/test_exit_kinds.py, as it is and under monkey
patching (dask_exit_patched.py, which calls :func:`main`).
"""

import functools
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dask_tasks

import greenpool


def say(text: str) -> None:
    os.write(1, (text + "\n").encode())  # One write: lines from two threads never mix.


def report(name: str, future: Any) -> None:
    if future.cancelled():
        say(f"cancelled {name}")
    elif future.exception() is not None:
        say(f"failed {name}: {future.exception()!r}")
    else:
        say(f"finished {future.result()}")


def main() -> None:
    executor = greenpool.DaskExecutor()
    threads = executor.max_workers
    names = [str(i) for i in range(threads + 2)]
    futures = {name: executor.submit(dask_tasks.nap, 0.5, name) for name in names}
    if executor.client is not None:  # Not under monkey patching: the client is here.
        sharing = greenpool.DaskExecutor(executor.client, max_in_flight=1)
        for name in ["shared-0", "shared-1"]:
            futures[name] = sharing.submit(dask_tasks.nap, 0.5, name)
    for name, future in futures.items():
        future.add_done_callback(functools.partial(report, name))
    delayed = executor.submit_after(3600, dask_tasks.nap, 0, "delayed")
    delayed.add_done_callback(functools.partial(report, "delayed"))
    deadline = time.monotonic() + 30
    while executor.statistics.running < threads and time.monotonic() < deadline:
        time.sleep(0.01)
    started = [name for name, future in futures.items() if future.running()]
    queued = [name for name, future in futures.items() if not future.done() and name not in started]
    say("started " + " ".join(started))
    say("queued " + " ".join(queued))
    say("main done")


if __name__ == "__main__":
    main()
