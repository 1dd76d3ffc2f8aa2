"""Interpreter exit: one hook that finishes every kind of executor, in a fixed order.

What each kind promises at exit (the README's "At interpreter exit" says the
same for users):

* **Delayed calls** (``submit_after``) not yet due, on every executor, are
  cancelled first: waiting for them could take hours.
* **Green executors** whose hub belongs to the exiting thread (the main
  thread, nearly always) are shut down and waited for *by running that
  hub*: calls that had started (suspended in ``eventlet.sleep`` or a green
  socket) finish, and queued calls run, as with threads. Nothing else runs
  a hub once the main program has returned, so without this they would be
  dropped silently. A green executor of another thread's hub cannot be run
  from here: it is shut down without waiting; if its thread has ended, its
  unfinished calls can never run, and a warning says how many.
* **Thread pools** stop taking calls, let queued ones run and join their
  threads, as the stdlib's do. With them, the alarm threads of delayed
  calls (every executor's but the green one's) are joined: a synchronous
  executor runs a call that fell due in that thread, and without the join
  the interpreter would freeze it mid-call as it finalized (measured: its
  ``finally`` and the rest of it never ran). A synchronous executor has
  nothing else to finish: its calls run inside ``submit``.
* **Dask executors** (:class:`~greenpool.DaskExecutor`): each one's link
  to its cluster (the client here, or under monkey patching the helper
  process) is stopped and waited for, an executor collected without
  ``shutdown()`` included: calls that had started on a worker finish and
  their futures get their results, queued ones (on the scheduler, or held
  back by ``max_in_flight``) are handed over and run, then what the
  executor made (client and ``LocalCluster``, or helper) is closed. A call
  submitted after that is refused with ``RuntimeError``. See
  :mod:`greenpool.dask._executor`.
* **Process pools** run what was accepted, then stop their workers and
  join their manager threads, as the stdlib's do.

The order is that list's: a green call may wait for a thread pool's, a dask
or a process pool's call, which must still be running for it, and a thread
pool's call may wait for a green call, which only runs while the hub is
run, in the first phase. Dask comes after the thread pools and not with
the green executors because a thread pool's call may wait for a dask call,
or submit one, while its phase finishes; nothing that finishes later can
be waited for by a dask call, which runs on a cluster worker, in another
process, with nothing of this one (an executor cannot be pickled), and is
resolved by the client's own loop thread, which needs no phase to run.
Dask and process pools wait on nothing of each other's (the calls of both
run in other processes, and run there whatever this hook does), so their
order only decides whose done-callbacks may still submit to the other;
dask goes first, beside the other kinds whose calls may submit to a process
pool at exit.

Each backend registers its phase when it is imported (dask: each time an
executor is made, see below); one ``atexit`` hook runs them, so the order
does not depend on which module happened to be imported first (``atexit``
runs hooks last registered first; see :func:`at_exit`). That matters most
for dask: ``distributed``, imported when the first executor makes its
client, registers hooks that close every client and ``LocalCluster`` at
exit, which cancels their running calls (measured: every call then failed
with ``the dask cluster ended this call: cancelled``); the executor
registers its phase after that import, so this hook runs first. A call that
never returns keeps the interpreter from exiting, as a thread pool's does
with the stdlib.
"""

from __future__ import annotations

import atexit
import logging
import weakref
from collections.abc import Callable
from typing import Protocol

LOGGER = logging.getLogger("greenpool")

#: The phases, in the order they run.
DELAYED = -1
GREEN = 0
THREADS = 1
DASK = 2
PROCESSES = 3

_phases: dict[int, Callable[[], object]] = {}


def at_exit(phase: int, action: Callable[[], object]) -> None:
    """Have ``action()`` run at interpreter exit, in ``phase`` (DELAYED ... PROCESSES).

    One action a phase: registering a phase again replaces its action.

    The hook is registered again each time, so that it runs before the exit
    hooks of every module imported before this call: ``atexit`` runs the
    last registered first, and :mod:`multiprocessing`'s own hook, registered
    when the process pool imports it, joins every child process, which
    would wait for ever for workers that only this hook tells to stop.
    """
    _phases[phase] = action
    atexit.unregister(_run_phases)
    atexit.register(_run_phases)


class Pool(Protocol):
    """What :func:`track` needs of a pool: stop taking calls, then wait for its workers."""

    def stop(self) -> None: ...

    def join_at_exit(self) -> None: ...


#: The phases the exit hook has begun: once a pool's phase has, it starts no
#: new call, as with the stdlib (earlier phases still may: a green call that
#: finishes at exit may submit to a thread pool).
finishing: set[int] = set()
_pools: dict[int, weakref.WeakSet[Pool]] = {}


def track(phase: int, pool: Pool) -> None:
    """Finish ``pool`` at exit in ``phase``: every such pool stopped, then each joined.

    The one registry of the thread and process pools (held weakly: tracking
    keeps nothing alive). Stopping them all before joining any lets their
    last calls run at the same time.
    """
    pools = _pools.get(phase)
    if pools is None:
        pools = _pools[phase] = weakref.WeakSet()
        at_exit(phase, lambda: _finish(pools))
    pools.add(pool)


def _finish(pools: weakref.WeakSet[Pool]) -> None:
    tracked = list(pools)
    for pool in tracked:
        pool.stop()
    for pool in tracked:
        pool.join_at_exit()


def _run_phases() -> None:
    for phase in sorted(_phases):
        finishing.add(phase)
        try:
            _phases[phase]()
        except Exception:  # One kind failing must not keep the others from finishing.
            LOGGER.exception("greenpool: error while finishing executors at exit")
