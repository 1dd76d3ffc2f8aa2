"""ProcessPoolExecutor: calls run in worker processes; a dead worker fails only its own calls.

Data flows as in the stdlib's ``concurrent/futures/process.py``, with one pipe
pair and one small shared board per worker instead of two shared queues::

    |=================== parent process ===================|=== worker processes ===|

     submit()      +---------+     +------------------+  calls pipe  +-----------+
    +---------+    | pending | ==> | manager thread   | =[n, call]=> | worker #1 |
    | base:   | => | deque   |     |                  |  (per worker)|           |
    | reject, |    +---------+     | dispatch: policy,|              | starts    |
    | count   | -- wake byte --->  | pickle, frame    |              | each call |
    +---------+                    |                  | answers pipe | unless    |
                                   | poll(): answers, | <=[n,STARTED | withdrawn,|
    Future <== start/succeed   <== | wake, sentinels, |   / outcome] | in order  |
                                   | deadlines        |              +-----------+
                                   +------------------+ <- board (shared memory:
                                                           last started/finished,
                                                           withdrawn marks, a lock)

One module per concern:

* :mod:`._pool`: :class:`ProcessPoolExecutor`, what a user holds; ``map``'s chunks.
* :mod:`._manager`: the manager thread: its poll loop, starting and replacing
  workers, timeouts, the broken state.
* :mod:`._dispatch`: the dispatch policy (idle workers first, prefetch
  under a backlog, calls with a timeout alone, taking calls back for an
  idle worker), plain code; the prefetch policy is described there.
* :mod:`._placement`: where each accepted call is, and whether a cancel
  can still stop it; each call's holder.
* :mod:`._handle`: the parent's view of one worker: the calls it holds, its
  answers, what is lost when it dies.
* :mod:`._channel`: what the parent shares with one worker (pipes, buffers,
  board, lock) and the start-or-withdraw handshake.
* :mod:`._wire`: frames, answer kinds, error encoding; :mod:`._worker`: the
  worker process's loop.

**submit.** The executor base checks shutdown, runs ``check_and_reject`` and
counts the call; the manager installs the call's holder and appends it to
the *pending* deque and, once the submit lock is released, is woken through
its :class:`~greenpool._wakeup.WakePipe` (one byte, only if none is unread,
so a burst costs one system call). Nothing is pickled yet.

**dispatch.** The manager, one real OS thread even under
``eventlet.monkey_patch()``, hands pending calls to workers as the policy
says, pickling each once, framed with its number on that worker. A call a
worker holds stays *pending*, and cancellable, until that worker starts it:
``statistics.running`` counts only calls a worker has started. A call that
cannot be pickled fails alone with the pickling error.

**workers.** Each starts its calls in order, telling the parent (``STARTED``)
before running each, and writes each outcome with its run time. A remote
exception keeps its remote traceback as ``__cause__``, as in the stdlib.
Done callbacks run in the manager thread, as with the stdlib.

**a worker dies** (SIGKILL, ``os._exit``, a segfault, the OOM killer). Its
sentinel wakes the manager, which first reads whatever the worker wrote,
then its board: calls it had started fail with :class:`WorkerLostError`
(with the pid and exit code), calls it had not started go to other
workers, and a new worker replaces it. The stdlib marks the whole pool
broken instead; pebble, whose workers acknowledge each call on a shared
channel, also fails only the call.

**timeouts.** :meth:`ProcessPoolExecutor.submit_with_timeout` sends a call
that runs alone; if no outcome has come ``timeout`` seconds after its
worker started it, the worker is killed and replaced and the future fails
with :class:`greenpool.CallTimeoutError`.

**shutdown.** Pending calls still run (unless ``cancel_futures``: then every
call no worker has started is withdrawn, held ones included); once nothing
is pending or held every worker is told to stop, and the manager exits
when the last one has. A pool that is garbage collected without
``shutdown`` stops the same way, and one still running at interpreter exit
is shut down and waited for, as in the stdlib.

**start method.** The default is ``forkserver`` where the platform has it,
otherwise ``spawn``. ``fork`` copies a process that has a manager thread,
perhaps an eventlet hub with its epoll descriptor, and locks held by other
threads, into every worker (CPython issue 84559; Python 3.14 moves the
default to ``forkserver`` for the same reason). ``forkserver`` forks each
worker from a small single-threaded server process, so replacing a worker
after a crash or a timeout is much cheaper than starting an interpreter
with ``spawn``. Workers import the parent's ``__main__`` module with
either method, as with the stdlib. An ``mp_context`` passed explicitly is
honoured.

POSIX only: the manager waits with ``select.poll``.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

from greenpool.process._errors import WorkerLostError
from greenpool.process._pool import ProcessPoolExecutor

__all__ = ["BrokenProcessPool", "ProcessPoolExecutor", "WorkerLostError"]
