"""At interpreter exit, a synchronous executor's delayed call that had started finishes.

A synchronous executor runs each call inside ``submit``: call 0 has ended
before ``submit`` returns. A delayed call runs where the executor's alarm
goes off, in its alarm thread: call 1 falls due at once and is running
(0.3 s) when the main program returns; it must finish, not be frozen
mid-call as the interpreter finalizes. Call 2, an hour away, is cancelled
(``cancelled delayed``). Run by tests/test_exit_kinds.py.
"""

import os
import threading
import time

import greenpool


def say(text: str) -> None:
    os.write(1, (text + "\n").encode())  # One write: lines from two threads never mix.


started = threading.Event()


def call(i: int) -> None:
    say(f"started {i}")
    if i == 1:
        started.set()
    time.sleep(0.3)
    say(f"finished {i}")


executor = greenpool.SynchronousExecutor()
executor.submit(call, 0)
executor.submit_after(0, call, 1)
delayed = executor.submit_after(3600, call, 2)
delayed.add_done_callback(lambda f: say("cancelled delayed" if f.cancelled() else "delayed ran"))
# Until call 1 has said so: it counts as running a moment before it runs.
started.wait(10)
stats = executor.statistics
say(f"main done: running {stats.running}, pending {stats.pending}, scheduled {stats.scheduled}")
