"""At interpreter exit, green executors finish before thread pools are joined.

A thread pool's call waits for a green call, which only runs while the hub
runs. Joining the thread pool first would wait for ever (here: for the
call's 30 s timeout); the green phase runs the hub first, so the thread
pool's call sees the green call finish and the program exits at once.
"""

import eventlet

import greenpool

green = greenpool.GreenThreadPoolExecutor(1)
threads = greenpool.ThreadPoolExecutor(1)
green_call = green.submit(eventlet.sleep, 0.1)


def wait_for_the_green_call() -> None:
    green_call.result(timeout=30)
    print("the thread pool's call saw the green call finish", flush=True)


threads.submit(wait_for_the_green_call)
print("main done", flush=True)
