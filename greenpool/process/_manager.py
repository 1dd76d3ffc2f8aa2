"""The manager: the one OS thread of a pool that hands calls to workers and reads their answers.

Its loop is four steps: hand out pending calls (:meth:`Manager._dispatch`,
carrying out :mod:`~greenpool.process._dispatch`'s policy), stop once
stopping with nothing left, wait in one ``poll``, and handle what woke it:
the wake pipe (new calls, a stop), a worker's answers, a worker's process
sentinel (it died: :meth:`Manager._worker_exited`), a calls pipe with room
again (calls are written without blocking, so a worker busy writing large
results can never deadlock with a parent writing large arguments), and
deadlines of calls with a timeout. It is a real OS thread even under
``eventlet.monkey_patch()``: it blocks in ``poll()``.

**Broken state.** Only an initializer that raises, workers that keep dying
before they finish starting, or a worker process that cannot be started
break the pool; so does a manager thread that cannot be started (as during
interpreter finalization, gh-109047), and the ``submit`` that tried raises
``BrokenProcessPool``. A broken pool fails the calls no worker holds,
lets held ones finish, and refuses new ones.
"""

from __future__ import annotations

import itertools
import math
import os
import pickle
import signal
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from greenpool import _exit, _native, _parking
from greenpool._parking import ParkingLot
from greenpool._timeouts import os_wait
from greenpool._wakeup import WakePipe
from greenpool._workitem import (
    WorkItem,
    hold,
    hold_shared,
    is_pending,
    now,
    peek_call,
    refuse,
    take_call,
    withdraw,
)
from greenpool.process import _wire, _worker
from greenpool.process._channel import Channel
from greenpool.process._dispatch import Policy
from greenpool.process._handle import WorkerHandle, how_it_ended
from greenpool.process._placement import Call, Ledger

# Never eventlet's green versions: the manager is a real thread with no hub.
# Captured now: monkey patching later deletes ``select.poll``.
_select = _native.original("select")
new_poll: Callable[[], Any] | None = getattr(_select, "poll", None)
_POLLIN = _select.POLLIN
_POLLOUT = _select.POLLOUT

#: Workers dying before they finish starting, in a row, that break the pool.
MAX_STARTUP_FAILURES = 3

# What a polled descriptor is, for the manager.
_ANSWERS = 0
_SENTINEL = 1
_CALLS = 2


class TimedCall:
    """Marks a submission from ``submit_with_timeout``; the manager unwraps it."""

    __slots__ = ("fn", "timeout")

    def __init__(self, timeout: float, fn: Callable[..., Any]) -> None:
        self.timeout = timeout
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class Manager:
    """The parent's side of the pool: the state and loop of the one manager thread.

    Only ``submit``, ``wake``, ``take_pending``, ``stop``, ``join``,
    ``join_at_exit``, ``broken_error`` and the properties may be used from
    other threads; everything else runs in the manager thread.
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
        #: Accepted calls no worker holds, oldest first. Submitters append; only
        #: the manager removes (shutdown's cancel withdraws them where they are).
        self._pending: deque[WorkItem] = deque()
        self._ledger = Ledger()
        self._thread: Any = None
        self._wakeup: WakePipe | None = None  # Made with the thread.
        self._stopping = False
        #: Set by terminate_workers(): the signal to end every worker with, once.
        self._end_workers_with: int | None = None
        self._broken: str | None = None
        self._broken_cause: BaseException | None = None
        self._done = False
        self._exited = ParkingLot()
        # Owned by the manager thread.
        self._policy = Policy(max_workers)
        self._poll: Any = None
        self._workers: dict[int, WorkerHandle] = {}  # By pid.
        self._fds: dict[int, tuple[int, WorkerHandle]] = {}
        self._worker_numbers = itertools.count(1)
        self._startup_failures = 0
        #: Set (for good) before the first call with a timeout is submitted: until
        #: then no queued call needs looking at for one.
        self.timed_calls = False

    # -- from any thread ---------------------------------------------------

    @property
    def num_workers(self) -> int:
        return len(self._workers)

    @property
    def idle_workers(self) -> int:
        """Workers holding no call; read from any thread (a copy of the manager's dict)."""
        return sum(1 for worker in list(self._workers.values()) if not worker.held)

    @property
    def broken(self) -> str | None:
        """Why the pool takes no more calls, or None."""
        return self._broken

    @property
    def stopping(self) -> bool:
        return self._stopping

    def submit(self, item: WorkItem) -> None:
        """Queue ``item`` for the manager; called under the executor's submit lock.

        The item's holder is installed here, before ``submit`` returns it, so
        no cancel can come before it. Raises :class:`BrokenProcessPool`,
        without queueing ``item``, if the manager thread cannot be started.
        The caller then calls :meth:`wake`, once it has released the lock:
        the wake is a system call.
        """
        if self._thread is None:
            self._start_thread()
        if type(item) is WorkItem:
            # Made by this submit, which has not returned it yet: nobody can
            # be cancelling it.
            hold(item, self._ledger.may_cancel)
        elif not hold_shared(item, self._ledger.may_cancel):
            # A delayed call (submit_after), falling due, in its caller's hands
            # already: cancelled before the holder was installed.
            self._ledger.withdrawn_before(item)
        self._pending.append(item)

    def wake(self) -> None:
        """Have the manager look at the pending calls (one byte, only if none is unread)."""
        if self._wakeup is not None:
            self._wakeup.wake()

    def take_pending(self) -> list[WorkItem]:
        """Every call not started yet, queued here or held by a worker, for shutdown to
        withdraw (each call's holder decides, at that moment, whether it still can be)."""
        items = list(self._pending)
        for worker in list(self._workers.values()):
            items += [call.item for call in list(worker.held)]
        return [item for item in dict.fromkeys(items) if is_pending(item)]

    def stop(self) -> None:
        """Finish the calls accepted so far, then stop every worker; do not wait."""
        self._stopping = True
        if self._wakeup is not None:
            self._wakeup.signal()  # Whether or not one is unread: a stop must be seen.

    def end_workers(self, signal_number: int) -> None:
        """Stop now, from any thread: send every worker ``signal_number``; the calls they
        run fail with ``WorkerLostError``, the calls none has started as in a broken pool."""
        self._end_workers_with = signal_number
        self.stop()

    def in_manager_thread(self) -> bool:
        return self._thread is not None and self._thread.ident == _native.get_ident()

    def join(self) -> None:
        """Wait until the manager has stopped every worker and exited (green-safe)."""
        self._exited.park_until(lambda: self._thread is None or self._done)

    def join_at_exit(self) -> None:
        """Wait as :meth:`join`, blocking the OS thread (for interpreter exit)."""
        if self._thread is not None:
            self._thread.join()

    def broken_error(self) -> BrokenProcessPool:
        """The error for a call the broken pool will not run (safe from any thread)."""
        error = BrokenProcessPool(self._broken)
        error.__cause__ = self._broken_cause
        return error

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
        try:
            thread.start()
        except BaseException as exc:
            # Such as RuntimeError("can't create new thread at interpreter
            # shutdown") (gh-109047). No thread means no worker and nothing
            # to wait for: the pool is broken, and shutdown and the exit hook
            # have nothing to join.
            self._thread = None
            # As _break does; the submit lock is held already.
            self._broken_cause = exc
            self._broken = f"could not start the process pool's manager thread: {exc!r}"
            raise self.broken_error() from exc
        # As the stdlib: calls already accepted still run before the interpreter
        # exits (the thread is a daemon so that the exit hook runs at all).
        _exit.track(_exit.PROCESSES, self)

    # -- the manager thread ------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            # A bug here must fail the calls, not leave their callers waiting.
            self._break(f"the process pool's manager thread failed: {exc!r}", exc)
            self._fail_unsent()
            for worker in list(self._workers.values()):
                worker.process.kill()
                worker.process.join()
                self._requeue(worker.lost(worker.process.exitcode))
                self._forget(worker)
            self._fail_unsent()
            raise
        finally:
            self._done = True
            self._exited.unpark_all()

    def _loop(self) -> None:
        assert new_poll is not None
        self._poll = poll = new_poll()
        wakeup = self._wakeup
        assert wakeup is not None
        wake_fd = wakeup.read_fd
        poll.register(wake_fd, _POLLIN)
        fds = self._fds
        while True:
            if self._end_workers_with is not None:
                self._end_every_worker(self._end_workers_with)
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
                if role == _ANSWERS:
                    self._receive(worker)
                elif role == _SENTINEL:
                    self._worker_exited(worker)
                else:
                    self._send(worker)
            self._expire_timeouts()

    def _poll_timeout(self) -> int | None:
        """Milliseconds until the next call's deadline, at most ``LONGEST_OS_WAIT``.

        ``poll()`` takes a C int of milliseconds: a deadline weeks away is
        waited for in steps, each round of the loop checking it again.
        """
        deadlines = [
            w.timed.deadline
            for w in self._workers.values()
            if w.timed is not None and w.timed.deadline is not None
        ]
        if not deadlines:
            return None
        return max(0, math.ceil(os_wait(min(deadlines) - now()) * 1000.0))

    def _finished(self) -> bool:
        """Stop idle workers once stopping with nothing left; True when all are gone."""
        if not (self._stopping or self._broken is not None):
            return False
        if self._pending:
            return False
        workers = list(self._workers.values())
        if any(worker.held for worker in workers):
            return False
        for worker in workers:
            if not worker.stop_sent:
                worker.stop()
                self._send(worker)
        return not workers

    # -- dispatch ----------------------------------------------------------

    def _dispatch(self) -> None:
        """Hand out pending calls as the policy says; let idle workers take calls back."""
        self._drop_withdrawn()
        if self._broken is not None:
            self._fail_unsent()
            return
        pending = self._pending
        if pending:
            loads = [worker.load() for worker in self._workers.values()]
            for _ in range(self._policy.workers_to_start(len(pending), loads)):
                if not self._start_worker():
                    self._fail_unsent()
                    return
        workers = list(self._workers.values())
        given = self._hand_out(workers)
        if any(worker.load().idle() for worker in workers):
            loads = [worker.load(count_unstarted=True) for worker in workers]
            moves = self._policy.take_back(loads)
            for victim, _to, count in moves:
                self._requeue(workers[victim].take_back(count))
            if moves:
                given += self._hand_out(workers)
        for worker in dict.fromkeys(given):
            self._send(worker)

    def _hand_out(self, workers: list[WorkerHandle]) -> list[WorkerHandle]:
        """Give the front of the queue to workers as the policy plans; return those given.

        Planned again while a plan's calls did not all reach a worker (withdrawn
        meanwhile, or unpicklable): the room kept for them is still free, and
        nothing else might wake the manager for the calls behind them, as a
        held call's answer would. Without this an idle worker could sit beside
        queued calls until the next submission, and a shutdown wait for ever.
        """
        given: list[WorkerHandle] = []
        while True:
            placed, missed = self._hand_out_once(workers)
            given += placed
            if not missed or not self._pending:
                return given
            self._drop_withdrawn()

    def _hand_out_once(self, workers: list[WorkerHandle]) -> tuple[list[WorkerHandle], int]:
        """One plan of :meth:`_hand_out`: the workers given calls, and how many of the
        plan's calls reached none."""
        pending = self._pending
        if not pending:
            return [], 0
        loads = [worker.load() for worker in workers]
        limit = self._policy.capacity(loads)
        if not limit:
            return [], 0
        front = list(itertools.islice(pending, limit))
        ledger = self._ledger
        known = ledger.calls_of(front)
        if self.timed_calls:
            timed = [
                type(peek_call(item)[0]) is TimedCall if call is None else bool(call.timeout)
                for item, call in zip(front, known, strict=True)
            ]
        else:
            timed = [False] * len(front)
        plan = self._policy.assign(timed, loads)
        shares: dict[int, list[Call]] = {}
        for item, call, index in zip(front, known, plan, strict=False):
            if call is None:
                call = self._pickle(item)
                if call is None:
                    continue
            shares.setdefault(index, []).append(call)
        dropped: list[Call] = []
        for index, calls in shares.items():
            dropped += workers[index].give(calls)
        for _ in plan:
            pending.popleft()  # Only now: until placed, shutdown finds them here.
        for call in dropped:
            self._drop(call.item)
        placed = sum(len(calls) for calls in shares.values()) - len(dropped)
        return [workers[index] for index in shares], len(plan) - placed

    def _pickle(self, item: WorkItem) -> Call | None:
        """The call's record, pickled once; None if it cannot be pickled (it fails alone,
        with the pickling error). A call cancelled meanwhile gets a record that
        ``give()`` drops."""
        fn, args, kwargs = take_call(item)
        timeout = None
        if type(fn) is TimedCall:
            timeout = fn.timeout
            fn = fn.fn
        try:
            payload = pickle.dumps((fn, args, kwargs), _wire.PICKLE_PROTOCOL)
        except BaseException as exc:
            if self._ledger.claim(item, None):
                self._ledger.forget(item)
                hold(item, None)
                refuse(item, exc)
            del exc
            return None
        return Call(item, timeout, payload)

    def _requeue(self, calls: list[Call]) -> None:
        """Calls back in the queue's hands go first: they were accepted before any queued."""
        self._pending.extendleft(reversed([call.item for call in calls]))

    def _drop_withdrawn(self) -> None:
        pending = self._pending
        is_withdrawn = self._ledger.is_withdrawn
        while pending and is_withdrawn(pending[0]):
            self._drop(pending.popleft())

    def _drop(self, item: WorkItem) -> None:
        """A call withdrawn while queued: tell its waiters (if a ``cancel()`` did it)."""
        self._ledger.drop(item)
        withdraw(item)
        hold(item, None)

    def _send(self, worker: WorkerHandle) -> None:
        """Write what the calls pipe takes now; watch it for room if some is left."""
        left = worker.channel.flush()
        fd = worker.channel.calls_fd
        if left and not worker.watching_calls:
            self._poll.register(fd, _POLLOUT)
            self._fds[fd] = (_CALLS, worker)
            worker.watching_calls = True
        elif not left and worker.watching_calls:
            self._poll.unregister(fd)
            del self._fds[fd]
            worker.watching_calls = False

    def _receive(self, worker: WorkerHandle, until_empty: bool = False) -> None:
        fd = worker.channel.answers_fd
        if fd not in self._fds:
            return  # Already at end of file.
        if not worker.receive(self._policy, until_empty):
            # The worker closed its end, so it is exiting: its sentinel says
            # how. Stop polling a descriptor that stays readable.
            del self._fds[fd]
            self._poll.unregister(fd)
        error = worker.initializer_error
        if error is not None:
            worker.initializer_error = None
            self._break(
                "a worker process's initializer raised an exception; the pool is broken", error
            )

    # -- workers -----------------------------------------------------------

    def _start_worker(self) -> bool:
        channel = Channel(self._context)
        process = self._context.Process(
            target=_worker.run,
            args=(channel.worker_end(), self._initializer, self._initargs, self._max_tasks),
            name=f"{self._name}-worker-{next(self._worker_numbers)}",
        )
        try:
            process.start()
        except BaseException as exc:
            channel.close()
            self._break(f"could not start a worker process: {exc!r}", exc)
            return False
        channel.started_worker(process.sentinel)
        worker = WorkerHandle(process, channel, self._max_tasks, self._ledger)
        self._workers[worker.pid] = worker
        self._fds[channel.answers_fd] = (_ANSWERS, worker)
        self._fds[process.sentinel] = (_SENTINEL, worker)
        self._poll.register(channel.answers_fd, _POLLIN)
        self._poll.register(process.sentinel, _POLLIN)
        return True

    def _forget(self, worker: WorkerHandle) -> None:
        """Stop watching a worker that has exited and release what it held."""
        channel = worker.channel
        for fd in (channel.answers_fd, worker.process.sentinel, channel.calls_fd):
            if self._fds.pop(fd, None) is not None:
                self._poll.unregister(fd)
        channel.close()
        worker.process.close()
        del self._workers[worker.pid]

    def _worker_exited(self, worker: WorkerHandle) -> None:
        self._receive(worker, until_empty=True)  # Whatever it wrote before it went.
        process = worker.process
        process.join()  # Its sentinel is ready: this only reaps it.
        if worker.died_starting():
            self._startup_failures += 1
            if self._startup_failures >= MAX_STARTUP_FAILURES:
                self._break(
                    f"{self._startup_failures} worker processes in a row died while starting "
                    f"(the last, pid {worker.pid}, {how_it_ended(process.exitcode)})"
                )
        elif worker.channel.started != -1:
            self._startup_failures = 0
        replaced = self._broken is None  # A broken pool (ended workers too) starts none.
        self._requeue(worker.lost(process.exitcode, replaced))
        self._forget(worker)

    def _expire_timeouts(self) -> None:
        at = now()
        for worker in list(self._workers.values()):
            call = worker.timed
            if call is None or call.deadline is None or call.deadline > at:
                continue
            self._receive(worker, until_empty=True)  # It may just have finished.
            if worker.timed is call:
                call.timed_out = True
                worker.timed = None
                worker.process.kill()  # Its sentinel reports the rest.

    def _end_every_worker(self, signal_number: int) -> None:
        """End every worker with ``signal_number`` (once); no call is handed out again."""
        self._end_workers_with = None
        self._break(f"its worker processes were ended ({signal.Signals(signal_number).name})")
        for worker in self._workers.values():
            try:
                os.kill(worker.pid, signal_number)
            except ProcessLookupError:
                pass  # Gone already: its sentinel reports it.

    # -- a broken pool -----------------------------------------------------

    def _break(self, message: str, cause: BaseException | None = None) -> None:
        """Take no more calls: those no worker holds fail, held ones finish."""
        if self._broken is not None:
            return
        self._broken_cause = cause
        with self._submit_lock:  # No submission can slip in after this.
            self._broken = message

    def _fail_unsent(self) -> None:
        pending = self._pending
        ledger = self._ledger
        while pending:
            item = pending.popleft()
            if ledger.claim(item, ledger.call_of(item)):
                ledger.forget(item)
                hold(item, None)
                refuse(item, self.broken_error())
            else:
                self._drop(item)
