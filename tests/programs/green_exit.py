"""At interpreter exit, a green pool's calls finish: started ones, and queued ones too.

Two workers, four calls of 0.1 s: when the main program returns two have
started (suspended in ``eventlet.sleep``) and two are queued. Each prints a
line when it finishes; all four lines must appear, after ``main done``.
"""

import eventlet

import greenpool

executor = greenpool.GreenThreadPoolExecutor(2)


def call(i: int) -> None:
    eventlet.sleep(0.1)
    print("finished", i, flush=True)


for i in range(4):
    executor.submit(call, i)
eventlet.sleep(0.02)  # The first two have started.
print("main done", flush=True)
