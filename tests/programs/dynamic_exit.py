"""At interpreter exit, a dynamic thread pool finishes its calls: started ones and queued ones.

Two threads at most, four calls of 0.2 s: when the main program returns,
calls 0 and 1 have started (each said so) and 2 and 3 are queued; a
delayed call an hour away is pending as well. Each call writes ``started
i`` and ``finished i``; the delayed call's future writes ``cancelled
delayed`` when the exit hook cancels it. Run by tests/test_exit_kinds.py.
"""

import os
import threading
import time

import greenpool


def say(text: str) -> None:
    os.write(1, (text + "\n").encode())  # One write: lines from two threads never mix.


#: Set by calls 0 and 1 once they have said they started.
started = [threading.Event(), threading.Event()]


def call(i: int) -> None:
    say(f"started {i}")
    if i < 2:
        started[i].set()
    time.sleep(0.2)
    say(f"finished {i}")


executor = greenpool.DynamicThreadPoolExecutor(2)
for i in range(4):
    executor.submit(call, i)
delayed = executor.submit_after(3600, call, 99)
delayed.add_done_callback(lambda f: say("cancelled delayed" if f.cancelled() else "delayed ran"))
# Until both running calls have said so: a call counts as running a moment before it runs.
for event in started:
    event.wait(10)
stats = executor.statistics
say(f"main done: running {stats.running}, pending {stats.pending}, scheduled {stats.scheduled}")
