"""ProcessPoolExecutor: calls run in worker processes; a dead worker fails only its own call.

Data flows as in the stdlib's ``concurrent/futures/process.py``, with one pipe
pair per worker instead of two shared queues::

    |=================== parent process ===================|=== worker processes ===|

     submit()      +---------+     +------------------+  calls pipe  +-----------+
    +---------+    | pending | ==> | manager thread   | =[id,call]=> | worker #1 |
    | base:   | => | deque   |     |                  |  (per worker)|           |
    | reject, |    +---------+     | dispatch: pick a |              | runs its  |
    | count   | -- wake byte --->  | worker, pickle,  |              | calls in  |
    +---------+                    | batch            |              | order     |
                                   |                  | results pipe |           |
    Future <== item._succeed   <== | poll(): results, | <=[id,secs,= | worker #2 |
                                   | wake, sentinels, |    result]   | ...       |
                                   | deadlines        |              +-----------+
                                   +------------------+ <- progress slots (shared
                                                           memory: last started,
                                                           last finished call id)

**submit.** The executor base checks shutdown, runs ``check_and_reject`` and
counts the call, then :meth:`ProcessPoolExecutor._start` appends the work item
to the *pending* deque and, once the submit lock is released
(``_after_start``), wakes the manager through its
:class:`~greenpool._wakeup.WakePipe` (one byte, only if none is unread, so
a burst costs one system call). Nothing is pickled yet, so a pending call
can still be cancelled and costs nothing if it is.

**dispatch.** The manager, one real OS thread even under
``eventlet.monkey_patch()``, takes pending calls in order and assigns each
to one worker: the future becomes running (it can no longer be cancelled, as
with the stdlib's call queue), the wait time is recorded, and ``(fn, args,
kwargs)`` is pickled, once, and framed with a call id. As with the stdlib, a
call never waits for a busy worker while the pool could run it at once: it
goes to an idle worker, or to a new one while there are fewer than
``max_workers``; workers are started on demand that way, and replaced when
they exit. Only under a real backlog, ``max_workers`` workers started and
none idle, is a worker given calls ahead of the one it runs, the least
loaded first and several in one write, up to about ``PREFETCH_SECONDS`` of
work at the average measured run time (at most ``1 + MAX_PREFETCH`` calls,
one when calls are long or before any run time is known); so
``statistics.running`` counts calls handed to a worker process, including
those queued in its pipe. A call queued on a worker waits for that worker
even if another becomes free first, where the stdlib's shared queue would
hand it to the first free one: under a backlog, calls that wait for one
another can deadlock. A call that cannot be pickled fails alone with the
pickling error.

**workers.** Each runs its calls in order (:mod:`greenpool._process_worker`),
measures each call's run time, and writes each result back as soon as the
call returns. Before and after each call it stores the call's id in its
progress slots: shared memory, no system call.

**results.** The manager waits in one ``poll`` on every worker's results pipe,
every worker's process sentinel, the wake pipe, and the calls pipes that are
backed up (calls are written without blocking, so a worker busy writing
large results can never deadlock with a parent writing large arguments).
One read takes every result waiting in a pipe, so a busy manager pays one
system call for many. Each result belongs to the oldest unanswered call of
its worker; the manager records the run time and outcome in the statistics,
then resolves the future. A remote exception keeps its remote traceback as
``__cause__``, as in the stdlib. Done callbacks run in this thread, as with
the stdlib.

**a worker dies** (SIGKILL, ``os._exit``, a segfault, the OOM killer). Its
sentinel wakes the manager, which first reads whatever results the worker
wrote, then reads its progress slots: calls it had started fail with
:class:`WorkerLostError` (with the pid and exit code), calls it had not
started go to other workers, and a new worker replaces it. The stdlib marks
the whole pool broken instead, failing every pending call and refusing new
ones; pebble, whose workers acknowledge each call on a shared channel, also
fails only the call. Only an initializer that raises (the worker logs it
first, as the stdlib's does), workers that keep dying before they finish
starting, or a worker process that cannot be started break the pool; so
does a manager thread that cannot be started (as during interpreter
finalization, gh-109047), and the ``submit`` that tried raises
:class:`BrokenProcessPool`.

**timeouts.** :meth:`ProcessPoolExecutor.submit_with_timeout` sends a call
that runs alone on an idle worker and asks it to say when the call starts;
if no result has come ``timeout`` seconds later, the worker is killed and
replaced and the future fails with :class:`greenpool.CallTimeoutError`.

**shutdown.** Pending calls still run (unless ``cancel_futures``); once
nothing is pending or in flight every worker is told to stop, and the
manager exits when the last one has. A pool that is garbage collected
without ``shutdown`` stops the same way, and one still running at
interpreter exit is shut down and waited for, as in the stdlib.

**start method.** The default is ``forkserver`` where the platform has it,
otherwise ``spawn``. ``fork`` copies a process that has a manager thread,
perhaps an eventlet hub with its epoll descriptor, and locks held by other
threads, into every worker (CPython issue 84559; Python 3.14 moves the
default to ``forkserver`` for the same reason). ``forkserver`` forks each
worker from a small single-threaded server process, so replacing a worker
after a crash or a timeout takes a millisecond or two instead of the
hundreds of milliseconds a ``spawn`` interpreter start takes. Workers import
the parent's ``__main__`` module with either method, as with the stdlib.
An ``mp_context`` passed explicitly is honoured.

POSIX only: the manager waits with ``select.poll``.
"""

from __future__ import annotations

import functools
import itertools
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ParamSpec, TypeVar

from greenpool import _exit, _native, _parking
from greenpool import _process_worker as _wire
from greenpool._errors import CallTimeoutError
from greenpool._executor import CheckAndReject, Executor, check_map_arguments
from greenpool._parking import ParkingLot
from greenpool._timeouts import os_wait
from greenpool._wakeup import WakePipe
from greenpool._workitem import WorkItem, fail, now, peek_call, refuse, start, succeed, take_call

__all__ = ["BrokenProcessPool", "ProcessPoolExecutor", "WorkerLostError"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Never eventlet's green versions: the manager is a real thread with no hub.
# Captured now: monkey patching later deletes ``select.poll``.
_select = _native.original("select")
_new_poll: Callable[[], Any] | None = getattr(_select, "poll", None)
_read = _wire.read
_write = _wire.write

#: A worker is given calls ahead of the one it runs, up to about this much work.
PREFETCH_SECONDS = 0.002
#: ... and at most this many calls ahead.
MAX_PREFETCH = 256
#: A rough cost of a call in a worker beyond its run time (unpickling, pickling).
CALL_OVERHEAD = 5e-6
#: ``map`` with ``chunksize=None`` aims at chunks of about this much work.
CHUNK_SECONDS = 0.005
#: ... and at most this many items per chunk.
MAX_CHUNKSIZE = 1024
#: Workers dying before they finish starting, in a row, that break the pool.
MAX_STARTUP_FAILURES = 3

_PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
_NOTIFY_START = _wire.NOTIFY_START
_RESULT = _wire.RESULT
_ERROR = _wire.ERROR
_POLLIN = _select.POLLIN
_POLLOUT = _select.POLLOUT

# What a polled descriptor is, for the manager.
_RESULTS = 0
_SENTINEL = 1
_CALLS = 2


class WorkerLostError(BrokenProcessPool):
    """The worker process running this call died before it sent the call's result.

    Only the calls that process had started fail with this error: the pool
    replaced the process, gave the calls it had not started to another one,
    and keeps working. ``pid`` is the process that died and ``exitcode`` how
    it ended (negative: the number of the signal that killed it, as in
    :mod:`multiprocessing`). A subclass of the stdlib's ``BrokenProcessPool``,
    so code written for the stdlib's pool still catches it.
    """

    def __init__(
        self, message: str, *, pid: int | None = None, exitcode: int | None = None
    ) -> None:
        super().__init__(message)
        self.pid = pid
        self.exitcode = exitcode


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _default_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class _TimedCall:
    """Marks a submission from ``submit_with_timeout``; the manager unwraps it."""

    __slots__ = ("fn", "timeout")

    def __init__(self, timeout: float, fn: Callable[..., Any]) -> None:
        self.timeout = timeout
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class _Call:
    """A work item handed to a worker: the pickled call and its id on that worker."""

    __slots__ = (
        "deadline",
        "dispatched_at",
        "id",
        "item",
        "payload",
        "started_at",
        "timed_out",
        "timeout",
    )

    def __init__(
        self, item: WorkItem, payload: bytes, timeout: float | None, dispatched_at: float
    ) -> None:
        self.id = 0
        self.item = item
        self.payload = payload
        self.timeout = timeout
        self.dispatched_at = dispatched_at
        self.started_at: float | None = None  # Known for calls with a timeout only.
        self.deadline: float | None = None
        self.timed_out = False


class _Worker:
    """The parent's view of one worker process; owned by the manager thread."""

    __slots__ = (
        "calls",
        "calls_left",
        "in_flight",
        "last_answer_at",
        "outgoing",
        "pid",
        "process",
        "received",
        "results",
        "slot",
        "stop_sent",
        "watching_calls",
    )

    def __init__(
        self, process: Any, slot: int, calls: Any, results: Any, calls_left: int | None
    ) -> None:
        self.process = process
        self.pid: int = process.pid
        self.slot = slot
        self.calls = calls  # The parent's ends of the two pipes.
        self.results = results
        self.calls_left = calls_left  # None: no max_tasks_per_child.
        self.in_flight: deque[_Call] = deque()  # Sent, not answered; in the order sent.
        self.outgoing = bytearray()  # Framed calls not yet written to the pipe.
        self.received = bytearray()  # The start of a result frame not yet complete.
        self.last_answer_at = now()
        self.stop_sent = False
        self.watching_calls = False

    def takes_calls(self) -> bool:
        if self.stop_sent or self.calls_left == 0:
            return False
        # A call with a timeout runs alone: a kill must not hit another call.
        return not (self.in_flight and self.in_flight[-1].timeout is not None)


# Managers whose thread is running; interpreter exit shuts them down and waits.
_running: set[_Manager] = set()


class _Manager:
    """The parent's side of the pool: the state and loop of the one manager thread.

    Only ``submit``, ``take_pending``, ``stop``, ``join``, ``join_thread``,
    ``broken_error`` and the properties may be used from other threads;
    everything else runs in the manager thread.
    """

    def __init__(
        self,
        name: str,
        max_workers: int,
        context: Any,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        max_tasks: int | None,
        submit_lock: _parking.Lock,
    ) -> None:
        self._name = name
        self._max_workers = max_workers
        self._context = context
        self._initializer = initializer
        self._initargs = initargs
        self._max_tasks = max_tasks
        # What the manager needs of the executor, not the executor itself:
        # an executor nobody references any more can then be collected.
        self._submit_lock = submit_lock
        self._pending: deque[WorkItem] = deque()
        self._thread: Any = None
        self._wakeup: WakePipe | None = None  # Made with the thread.
        self._stopping = False
        self._broken: str | None = None
        self._broken_cause: BaseException | None = None
        self._done = False
        self._exited = ParkingLot()
        # Owned by the manager thread.
        self._poll: Any = None
        self._workers: dict[int, _Worker] = {}  # By pid.
        self._fds: dict[int, tuple[int, _Worker]] = {}
        self._redispatch: deque[_Call] = deque()
        self._timed: dict[_Call, _Worker] = {}
        self._progress: Any = None
        self._free_slots = list(range(max_workers - 1, -1, -1))
        self._call_ids = itertools.count(1)
        self._worker_numbers = itertools.count(1)
        self._average_runtime: float | None = None
        self._startup_failures = 0

    # -- from any thread ---------------------------------------------------

    @property
    def num_workers(self) -> int:
        return len(self._workers)

    @property
    def broken(self) -> str | None:
        """Why the pool takes no more calls, or None."""
        return self._broken

    @property
    def stopping(self) -> bool:
        return self._stopping

    def submit(self, item: WorkItem) -> None:
        """Queue ``item`` for the manager; called under the executor's submit lock.

        Raises :class:`BrokenProcessPool`, without queueing ``item``, if the
        manager thread cannot be started. The caller then calls :meth:`wake`,
        once it has released the lock: the wake is a system call.
        """
        if self._thread is None:
            self._start_thread()
        self._pending.append(item)

    def wake(self) -> None:
        """Have the manager look at the pending calls (one byte, only if none is unread)."""
        if self._wakeup is not None:
            self._wakeup.wake()

    def take_pending(self) -> list[WorkItem]:
        """Remove every call not yet handed to a worker."""
        taken: list[WorkItem] = []
        while True:
            try:
                taken.append(self._pending.popleft())  # Atomic: each item goes one way.
            except IndexError:
                return taken

    def stop(self) -> None:
        """Finish the calls accepted so far, then stop every worker; do not wait."""
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.signal()  # Whether or not one is unread: a stop must be seen.

    def in_manager_thread(self) -> bool:
        return self._thread is not None and self._thread.ident == _native.get_ident()

    def join(self) -> None:
        """Wait until the manager has stopped every worker and exited (green-safe)."""
        self._exited.park_until(lambda: self._thread is None or self._done)

    def join_thread(self) -> None:
        """Wait as :meth:`join`, blocking the OS thread (for interpreter exit)."""
        if self._thread is not None:
            self._thread.join()

    def _start_thread(self) -> None:
        """Start the manager thread (under the submit lock); if it cannot, break the pool."""
        self._wakeup = wakeup = WakePipe()
        # Closed when the manager is collected rather than when its thread
        # ends: nothing can wake a collected manager any more.
        weakref.finalize(self, wakeup.close).atexit = False
        # A real OS thread even after monkey patching: it blocks in poll().
        thread = _native.threading_module().Thread(
            target=self._run, name=f"{self._name}-manager", daemon=True
        )
        self._thread = thread
        _running.add(self)
        try:
            thread.start()
        except BaseException as exc:
            # Such as RuntimeError("can't create new thread at interpreter
            # shutdown") (gh-109047). No thread means no worker and nothing
            # to wait for: the pool is broken, and shutdown and the exit hook
            # have nothing to join.
            _running.discard(self)
            self._thread = None
            # As _break does; the submit lock is held already.
            self._broken_cause = exc
            self._broken = f"could not start the process pool's manager thread: {exc!r}"
            raise self.broken_error() from exc

    # -- the manager thread ------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            # A bug here must fail the calls, not leave their callers waiting.
            self._break(f"the process pool's manager thread failed: {exc!r}", exc)
            self._fail_unsent()
            for worker in list(self._workers.values()):
                self._fail_calls(worker.in_flight, self.broken_error)
                worker.in_flight.clear()
                worker.process.kill()
                worker.process.join()
                self._forget(worker)
            raise
        finally:
            self._done = True
            _running.discard(self)
            self._exited.unpark_all()

    def _loop(self) -> None:
        assert _new_poll is not None
        self._poll = poll = _new_poll()
        wakeup = self._wakeup
        assert wakeup is not None
        wake_fd = wakeup.read_fd
        poll.register(wake_fd, _POLLIN)
        fds = self._fds
        while True:
            self._dispatch()
            if self._finished():
                return
            for fd, _event in poll.poll(self._poll_timeout()):
                if fd == wake_fd:
                    # Drained (and its flag cleared) before the loop looks at
                    # the deque again: a submission after this writes a byte.
                    wakeup.drain()
                    continue
                watched = fds.get(fd)
                if watched is None:
                    continue  # Closed by an earlier event of this round.
                role, worker = watched
                if role == _RESULTS:
                    self._receive(worker)
                elif role == _SENTINEL:
                    self._worker_exited(worker)
                else:
                    self._send(worker)
            if self._timed:
                self._expire_timeouts()

    def _poll_timeout(self) -> int | None:
        """Milliseconds until the next call's deadline, at most ``LONGEST_OS_WAIT``.

        ``poll()`` takes a C int of milliseconds: a deadline weeks away is
        waited for in steps, each round of the loop checking it again.
        """
        if not self._timed:
            return None
        deadline = min(call.deadline for call in self._timed if call.deadline is not None)
        return max(0, math.ceil(os_wait(deadline - now()) * 1000.0))

    def _finished(self) -> bool:
        """Stop idle workers once stopping with nothing left; True when all are gone."""
        if not (self._stopping or self._broken is not None):
            return False
        if self._pending or self._redispatch:
            return False
        for worker in self._workers.values():
            if worker.in_flight:
                return False
        for worker in self._workers.values():
            if not worker.stop_sent:
                worker.stop_sent = True
                worker.outgoing += _wire.CALL_HEADER.pack(0, 0, _wire.STOP)
                self._send(worker)
        return not self._workers

    # -- dispatch ----------------------------------------------------------

    def _dispatch(self) -> None:
        """Hand out pending calls: one to each idle or new worker, more only under a backlog."""
        pending = self._pending
        redispatch = self._redispatch
        if not (pending or redispatch):
            return
        if self._broken is None:
            self._start_workers_as_needed()
        if self._broken is not None:  # Perhaps just now, by a worker that failed to start.
            self._fail_unsent()
            return
        written: list[_Worker] = []
        # A call never waits behind another while a worker is idle or can be
        # started: each idle worker, new ones included, gets one call.
        for worker in self._workers.values():
            if not (pending or redispatch):
                break
            if not worker.in_flight and worker.takes_calls() and self._fill(worker, 1):
                written.append(worker)
        # Calls left now wait for a busy worker whatever happens: a real
        # backlog, once every worker the pool may have exists. Only then are
        # workers handed calls ahead of the one they run.
        if (pending or redispatch) and len(self._workers) >= self._max_workers:
            self._prefetch(written)
        for worker in dict.fromkeys(written):
            self._send(worker)

    def _prefetch(self, written: list[_Worker]) -> None:
        """Queue backlogged calls behind the running ones, least loaded workers first."""
        depth = self._depth()
        pending = self._pending
        redispatch = self._redispatch
        while depth > 1 and (pending or redispatch):
            targets = [
                worker
                for worker in self._workers.values()
                if len(worker.in_flight) < depth and worker.takes_calls()
            ]
            if not targets:
                return
            targets.sort(key=lambda worker: len(worker.in_flight))
            share = -(-(len(pending) + len(redispatch)) // len(targets))
            progressed = False
            for worker in targets:
                room = min(share, depth - len(worker.in_flight))
                if worker.calls_left is not None:
                    room = min(room, worker.calls_left)
                if self._fill(worker, room):
                    progressed = True
                    written.append(worker)
            if not progressed:
                return

    def _depth(self) -> int:
        """How many calls a busy worker may hold under a backlog, the one it runs included.

        About ``PREFETCH_SECONDS`` of work at the average measured run time, at
        most ``1 + MAX_PREFETCH``; one (no call queued ahead) until a run time
        has been measured.
        """
        average = self._average_runtime
        if average is None:
            return 1
        return 1 + min(MAX_PREFETCH, int(PREFETCH_SECONDS / (average + CALL_OVERHEAD)))

    def _fill(self, worker: _Worker, room: int) -> int:
        """Hand ``worker`` up to ``room`` calls, in order; return how many it got.

        Each pending call is marked running (or dropped if it was cancelled),
        its wait time recorded, and pickled; one that cannot be pickled fails
        alone. Ids increase along each worker's ``in_flight``, which is what
        lets the progress slots tell started calls from the others after a
        death.
        """
        pending = self._pending
        redispatch = self._redispatch
        in_flight = worker.in_flight
        dumps = pickle.dumps
        pack = _wire.CALL_HEADER.pack
        ids = self._call_ids
        frames: list[bytes] = []
        given = 0
        while given < room:
            if redispatch:
                call = redispatch[0]
                if call.timeout is not None and in_flight:
                    break
                redispatch.popleft()
            else:
                try:
                    item = pending[0]
                except IndexError:
                    break
                fn = peek_call(item)[0]
                timeout = None
                if type(fn) is _TimedCall:
                    if in_flight:
                        break  # It waits for an idle worker, and so does what follows.
                    timeout = fn.timeout
                    fn = fn.fn
                try:
                    pending.popleft()
                except IndexError:
                    break  # Taken by shutdown(cancel_futures=True) meanwhile.
                dispatched_at = now()
                _, args, kwargs = take_call(item)  # fn is unwrapped above.
                if not start(item, dispatched_at):
                    continue
                try:
                    payload = dumps((fn, args, kwargs), _PICKLE_PROTOCOL)
                except BaseException as exc:
                    fail(item, 0.0, exc)
                    del exc
                    continue
                call = _Call(item, payload, timeout, dispatched_at)
            call.id = call_id = next(ids)
            in_flight.append(call)
            payload = call.payload
            given += 1
            if call.timeout is None:
                frames += (pack(len(payload), call_id, 0), payload)
            else:
                frames += (pack(len(payload), call_id, _NOTIFY_START), payload)
                break  # A call with a timeout runs alone.
        if given:
            worker.outgoing += b"".join(frames)
            if worker.calls_left is not None:
                worker.calls_left -= given
        return given

    def _send(self, worker: _Worker) -> None:
        """Write what the pipe takes now; watch it for room if some is left."""
        outgoing = worker.outgoing
        if outgoing:
            try:
                written = _write(worker.calls.fileno(), outgoing)
            except BlockingIOError:
                written = 0
            except OSError:
                written = len(outgoing)  # The worker is gone; its sentinel will say so.
            del outgoing[:written]
        fd = worker.calls.fileno()
        if outgoing and not worker.watching_calls:
            self._poll.register(fd, _POLLOUT)
            self._fds[fd] = (_CALLS, worker)
            worker.watching_calls = True
        elif not outgoing and worker.watching_calls:
            self._poll.unregister(fd)
            del self._fds[fd]
            worker.watching_calls = False

    # -- workers -----------------------------------------------------------

    def _start_workers_as_needed(self) -> None:
        idle = sum(1 for w in self._workers.values() if not w.in_flight and w.takes_calls())
        wanted = len(self._pending) + len(self._redispatch) - idle
        for _ in range(min(wanted, self._max_workers - len(self._workers))):
            if not self._start_worker():
                return

    def _start_worker(self) -> bool:
        if self._progress is None:
            self._progress = self._context.RawArray("q", 2 * self._max_workers)
        slot = self._free_slots.pop()
        self._progress[2 * slot] = self._progress[2 * slot + 1] = _wire.NOT_READY
        calls_reader, calls = multiprocessing.connection.Pipe(duplex=False)
        results, results_writer = multiprocessing.connection.Pipe(duplex=False)
        process = self._context.Process(
            target=_wire.run,
            args=(
                calls_reader,
                results_writer,
                self._progress,
                slot,
                self._initializer,
                self._initargs,
                self._max_tasks,
            ),
            name=f"{self._name}-worker-{next(self._worker_numbers)}",
        )
        try:
            process.start()
        except BaseException as exc:
            calls.close()
            results.close()
            self._free_slots.append(slot)
            self._break(f"could not start a worker process: {exc!r}", exc)
            return False
        finally:
            # The worker's ends: the parent must not hold them open.
            calls_reader.close()
            results_writer.close()
        os.set_blocking(calls.fileno(), False)
        os.set_blocking(results.fileno(), False)
        worker = _Worker(process, slot, calls, results, self._max_tasks)
        self._workers[worker.pid] = worker
        self._fds[results.fileno()] = (_RESULTS, worker)
        self._fds[process.sentinel] = (_SENTINEL, worker)
        self._poll.register(results.fileno(), _POLLIN)
        self._poll.register(process.sentinel, _POLLIN)
        return True

    def _forget(self, worker: _Worker) -> None:
        """Stop watching a worker that has exited and release what it held."""
        for fd in (worker.results.fileno(), worker.process.sentinel, worker.calls.fileno()):
            if self._fds.pop(fd, None) is not None:
                self._poll.unregister(fd)
        worker.calls.close()
        worker.results.close()
        worker.process.close()
        del self._workers[worker.pid]
        self._free_slots.append(worker.slot)
        for call in worker.in_flight:
            self._timed.pop(call, None)

    def _worker_exited(self, worker: _Worker) -> None:
        self._receive(worker, until_empty=True)  # Whatever it wrote before it went.
        process = worker.process
        process.join()  # Its sentinel is ready: this only reaps it.
        exitcode = process.exitcode
        started = self._progress[2 * worker.slot]
        finished = self._progress[2 * worker.slot + 1]
        in_flight = list(worker.in_flight)
        self._forget(worker)
        worker.in_flight.clear()
        how = _how_it_ended(exitcode)
        if started == _wire.NOT_READY and not worker.stop_sent:
            self._startup_failures += 1
            if self._startup_failures >= MAX_STARTUP_FAILURES:
                self._break(
                    f"{self._startup_failures} worker processes in a row died while starting "
                    f"(the last, pid {worker.pid}, {how})"
                )
        elif started != _wire.NOT_READY:
            self._startup_failures = 0
        lost = [call for call in in_flight if call.id <= started]
        self._redispatch.extend(call for call in in_flight if call.id > started)
        at = now()
        for call in lost:
            if call.started_at is not None:
                runtime = at - call.started_at
            else:
                runtime = at - max(call.dispatched_at, worker.last_answer_at)
            if call.timed_out:
                error: BaseException = CallTimeoutError(
                    f"call still running after {call.timeout} s; its worker process "
                    f"{worker.pid} was killed and replaced"
                )
            else:
                what = (
                    "after running this call but before sending its result"
                    if call.id <= finished
                    else "while running this call"
                )
                error = WorkerLostError(
                    f"worker process {worker.pid} died ({how}) {what}; the pool replaced it",
                    pid=worker.pid,
                    exitcode=exitcode,
                )
            fail(call.item, runtime, error)

    def _expire_timeouts(self) -> None:
        at = now()
        for call, worker in list(self._timed.items()):
            if call.deadline is not None and call.deadline <= at and call in self._timed:
                del self._timed[call]
                self._receive(worker, until_empty=True)  # It may just have finished.
                if worker.in_flight and worker.in_flight[0] is call:
                    call.timed_out = True
                    worker.process.kill()  # Its sentinel reports the rest.

    # -- results -----------------------------------------------------------

    def _receive(self, worker: _Worker, until_empty: bool = False) -> None:
        fd = worker.results.fileno()
        if fd not in self._fds:
            return  # Already at end of file.
        while True:
            try:
                data = _read(fd, _wire.READ_SIZE)
            except BlockingIOError:
                return
            if not data:
                # The worker closed its end, so it is exiting: its sentinel
                # says how. Stop polling a descriptor that stays readable.
                del self._fds[fd]
                self._poll.unregister(fd)
                return
            self._parse(worker, data)
            if not until_empty and len(data) < _wire.READ_SIZE:
                return

    def _parse(self, worker: _Worker, data: bytes | bytearray) -> None:
        """Handle every complete result frame in ``data``; keep the incomplete rest."""
        if worker.received:
            worker.received += data
            data = worker.received
        unpack = _wire.RESULT_HEADER.unpack_from
        header_size = _wire.RESULT_HEADER.size
        in_flight = worker.in_flight
        loads = pickle.loads
        average = self._average_runtime
        size_of_data = len(data)
        position = 0
        while size_of_data - position >= header_size:
            size, call_id, kind, seconds = unpack(data, position)
            start = position + header_size
            end = start + size
            if end > size_of_data:
                break
            position = end
            if kind > _ERROR:
                self._notice(worker, call_id, kind, data[start:end])
                continue
            call = in_flight.popleft()
            if call.id != call_id:  # pragma: no cover - a bug in the wire protocol
                raise AssertionError(f"worker {worker.pid} answered call {call_id}, not {call.id}")
            if call.deadline is not None:
                self._timed.pop(call, None)
            average = seconds if average is None else average + (seconds - average) * 0.125
            item = call.item
            if kind == _RESULT:
                try:
                    result = loads(data[start:end])
                except BaseException as exc:  # Such as a class the parent cannot import.
                    fail(item, seconds, exc)
                    del exc
                    continue
                succeed(item, seconds, result)
                del result
            else:
                fail(item, seconds, _wire.decode_error(data[start:end]))
        self._average_runtime = average
        worker.last_answer_at = now()
        worker.received = bytearray(data[position:])

    def _notice(self, worker: _Worker, call_id: int, kind: int, body: bytes | bytearray) -> None:
        """A frame that is not a call's outcome: a call started, or the initializer failed."""
        if kind == _wire.STARTED:
            call = worker.in_flight[0]
            if call.id == call_id and call.timeout is not None:
                call.started_at = now()
                call.deadline = call.started_at + call.timeout
                self._timed[call] = worker
        elif kind == _wire.INITIALIZER_FAILED:
            self._break(
                "a worker process's initializer raised an exception; the pool is broken",
                _wire.decode_error(body),
            )

    # -- a broken pool -----------------------------------------------------

    def _break(self, message: str, cause: BaseException | None = None) -> None:
        """Take no more calls: those not yet handed to a worker fail, running ones finish."""
        if self._broken is not None:
            return
        self._broken_cause = cause
        with self._submit_lock:  # No submission can slip in after this.
            self._broken = message

    def broken_error(self) -> BrokenProcessPool:
        """The error for a call the broken pool will not run (safe from any thread)."""
        error = BrokenProcessPool(self._broken)
        error.__cause__ = self._broken_cause
        return error

    def _fail_unsent(self) -> None:
        while True:
            try:
                item = self._pending.popleft()
            except IndexError:
                break
            refuse(item, self.broken_error())
        self._fail_calls(self._redispatch, self.broken_error)
        self._redispatch.clear()

    def _fail_calls(self, calls: Iterable[_Call], error: Callable[[], BaseException]) -> None:
        for call in calls:
            fail(call.item, 0.0, error())


def _shut_down_at_exit() -> None:
    # As the stdlib: calls already accepted still run before the interpreter
    # exits. The manager threads are daemons so that this runs at all.
    managers = list(_running)
    for manager in managers:
        manager.stop()
    for manager in managers:
        manager.join_thread()


_exit.at_exit(_exit.PROCESSES, _shut_down_at_exit)


class _Chunks:
    """The zipped arguments of ``map``, cut into tuples of about ``CHUNK_SECONDS`` of work."""

    def __init__(self, arguments: Iterator[tuple[Any, ...]], chunksize: int | None) -> None:
        self._arguments = arguments
        self._chunksize = chunksize
        self._seconds_per_item: float | None = None

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> tuple[tuple[Any, ...], ...]:
        size = self._chunksize
        if size is None:
            per_item = self._seconds_per_item
            if per_item is None:
                size = 1  # Until the first chunk says how long an item takes.
            else:
                size = max(1, min(MAX_CHUNKSIZE, int(CHUNK_SECONDS / max(per_item, 1e-9))))
        chunk = tuple(itertools.islice(self._arguments, size))
        if not chunk:
            raise StopIteration
        return chunk

    def observe(self, items: int, seconds: float) -> None:
        per_item = seconds / max(1, items)
        previous = self._seconds_per_item
        self._seconds_per_item = per_item if previous is None else (previous + per_item) / 2


class ProcessPoolExecutor(Executor):
    """Runs calls in up to ``max_workers`` worker processes.

    Same constructor as the stdlib's (``max_workers`` defaults to the number
    of CPUs; ``mp_context``, ``initializer``, ``initargs``,
    ``max_tasks_per_child``), plus the keyword-only ``check_and_reject`` and
    ``name`` every greenpool executor takes. The default start method is
    ``forkserver`` (``spawn`` where there is none): see the module docstring.

    A worker that dies fails only the call it was running, with
    :class:`WorkerLostError`, and is replaced. Arguments are pickled when a
    worker is assigned the call, not at ``submit``. A call counts as running
    (``future.running()``, ``statistics.running``) from the moment it is handed
    to a worker process, and its ``wait_time`` ends then; its ``runtime`` is
    measured in the worker. Done callbacks run in the pool's manager thread:
    they must not wait for another call of the same pool.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: Any = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        check_and_reject: CheckAndReject | None = None,
        name: str | None = None,
    ) -> None:
        if _new_poll is None:  # pragma: no cover - Windows
            raise NotImplementedError("ProcessPoolExecutor needs select.poll (POSIX)")
        if max_workers is None:
            # As the stdlib: the CPUs this process may use, where Python can tell (3.13+).
            max_workers = _native.usable_cpu_count()
        super().__init__(max_workers, check_and_reject, name=name)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if max_tasks_per_child is not None:
            if isinstance(max_tasks_per_child, bool) or not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child <= 0:
                raise ValueError("max_tasks_per_child must be >= 1")
        context = _default_context() if mp_context is None else mp_context
        if max_tasks_per_child is not None and context.get_start_method() == "fork":
            raise ValueError(
                "max_tasks_per_child is incompatible with the 'fork' multiprocessing "
                "start method; supply a different mp_context."
            )
        self._mp_context = context
        self._manager = _Manager(
            self._name,
            max_workers,
            context,
            initializer,
            tuple(initargs),
            max_tasks_per_child,
            self._submit_lock,
        )
        # Collected without shutdown(): finish what was accepted, then stop.
        # (Interpreter exit is _shut_down_at_exit's business.)
        weakref.finalize(self, self._manager.stop).atexit = False

    @property
    def num_workers(self) -> int:
        """Worker processes that exist now, starting, busy or idle."""
        return self._manager.num_workers

    @property
    def mp_context(self) -> Any:
        """The multiprocessing context that starts the workers."""
        return self._mp_context

    def _timed_call(self, seconds: float, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Marks ``fn`` to run alone on a worker, which is killed and replaced if the call
        is still running after ``seconds``; the kill cannot affect any other call. A
        timeout longer than ``poll()`` can wait in one go (about 24.9 days) is waited
        for in steps."""
        return _TimedCall(seconds, fn)

    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
    ) -> Iterator[_T]:
        """Like the builtin ``map``, with items sent to the workers in chunks.

        Lazy and bounded as the base's ``map`` (an endless iterator works),
        results in input order. Each chunk is one call, for the statistics
        and for ``check_and_reject``. With ``chunksize=None`` chunks start at
        one item and are then sized from the measured time per item, to about
        ``CHUNK_SECONDS`` of work each (at most ``MAX_CHUNKSIZE`` items); an
        explicit ``chunksize`` is used as given. If ``fn`` raises, the
        exception is raised when its chunk's results are reached, as with the
        stdlib.
        """
        check_map_arguments(fn, chunksize)
        chunks = _Chunks(zip(*iterables, strict=False), chunksize)
        chunk_results: Iterator[tuple[list[_T], float]] = super().map(
            functools.partial(_wire.run_chunk, fn), chunks, timeout=timeout
        )
        return self._flatten(chunk_results, chunks)

    @staticmethod
    def _flatten(chunk_results: Iterator[tuple[list[_T], float]], chunks: _Chunks) -> Iterator[_T]:
        try:
            for results, seconds in chunk_results:
                chunks.observe(len(results), seconds)
                results.reverse()  # Pop from the end: yielded items are not kept alive.
                while results:
                    yield results.pop()
        finally:
            close = getattr(chunk_results, "close", None)
            if close is not None:
                close()  # Cancels the chunks still in flight.

    # -- backend hooks ---------------------------------------------------

    def _start(self, item: WorkItem) -> bool:
        manager = self._manager
        if manager.broken is not None:
            raise manager.broken_error()
        if manager.stopping:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")
        manager.submit(item)
        return True

    def _after_start(self, item: WorkItem) -> None:
        self._manager.wake()

    def _take_pending(self) -> list[WorkItem]:
        return self._manager.take_pending()

    def _stop_workers(self) -> None:
        self._manager.stop()

    def _join_workers(self) -> None:
        if self._manager.in_manager_thread():
            return  # shutdown() from a done callback: the manager cannot wait for itself.
        self._manager.join()
