"""At interpreter exit, a green pool whose hub's thread has ended cannot run its calls.

Its call was started (suspended in ``eventlet.sleep``) by a thread that then
ended; nothing can ever resume it. Exit must not hang, and must say so
rather than drop the call silently: a warning on the ``greenpool`` logger.
"""

import threading

import eventlet

import greenpool

made: list[greenpool.GreenThreadPoolExecutor] = []


def in_a_thread() -> None:
    executor = greenpool.GreenThreadPoolExecutor(2, name="orphan")
    executor.submit(eventlet.sleep, 60)
    eventlet.sleep(0)  # The call starts, then this thread (and its hub) ends.
    made.append(executor)


thread = threading.Thread(target=in_a_thread)
thread.start()
thread.join()
print("main done", flush=True)
