"""ThreadPoolExecutor: calls run on reused, real OS threads, even under ``eventlet.monkey_patch()``.

Why real threads: a thread pool exists to run what would otherwise block a
hub (C extensions, blocking drivers, CPU work that releases the GIL). After
monkey patching, ``threading.Thread`` starts green threads, so the workers
are made from the original ``threading`` module (looked up when each thread
starts, so an executor created before patching still gets real threads), and
they wait on ``_queue.SimpleQueue``, the C queue, which blocks on a real OS
lock whatever eventlet has done. A green thread waiting on a result does not
block its hub: the :class:`~greenpool.Future` parks it and wakes it through
the hub's self-pipe.

How work flows, and how idle threads are reused::

    _start(item)  (under the submit lock)
      a worker is idle?           -> promise it the item: idle -= 1, put(item)
      fewer than max_workers?     -> start a thread with the item as its first
      otherwise                   -> unclaimed += 1, put(item)

    worker: run item, then
      unclaimed > 0?              -> claim one: unclaimed -= 1, get()
      stopping?                   -> exit
      otherwise                   -> idle += 1, get()   (blocks, no timeout)

Two counters under one short-held lock keep the books exact: ``idle``
counts workers waiting on the queue that no item has been promised to,
``unclaimed`` counts queued items that no waiting worker has been promised.
At most one of them is non-zero, so a thread is started only when every
existing one is busy (futurist starts one on every submit until it reaches
``max_workers``), and a call is queued only when all ``max_workers`` are busy.

Why no polling: futurist's workers wake every second to check whether they
should stop, so an idle futurist pool takes up to a second to shut down. Here
stopping puts one ``None`` sentinel on the queue for each idle worker, which
wakes it at once; busy workers see the flag when they finish. Sentinels go
after every item, so queued work still runs unless ``cancel_futures`` took it.

The threads share a :class:`_Workers` object, never the executor, so an
executor dropped without ``shutdown`` can be collected; its finalizer then
stops the threads, with only calls that are safe inside a garbage collection
(``SimpleQueue.put`` is reentrant). Threads are daemons, stopped and joined
at interpreter exit after letting queued work finish, as the stdlib does
(:mod:`greenpool._exit`, after the green executors have finished);
not relying on ``threading``'s own exit join keeps that working when the
threads come from the original module under monkey patching.

A failing ``initializer`` breaks the pool, as in the stdlib: every call not
yet started fails with :class:`BrokenThreadPool` (counted as a failed call),
the threads exit, and later submissions raise it.
"""

from __future__ import annotations

import concurrent.futures.thread
import itertools
import threading
import weakref
from _queue import Empty, SimpleQueue
from collections.abc import Callable, Iterable
from concurrent.futures._base import LOGGER
from typing import Any

from greenpool import _exit, _native
from greenpool._executor import CheckAndReject, Executor
from greenpool._parking import ParkingLot
from greenpool._statistics import Gatherer
from greenpool._workitem import WorkItem, refuse, run


class BrokenThreadPool(concurrent.futures.thread.BrokenThreadPool):
    """A worker's initializer failed, so the pool runs nothing more.

    Its ``__cause__`` is the initializer's exception. A subclass of the
    stdlib's, so ``except concurrent.futures.thread.BrokenThreadPool`` works.
    """


_BROKEN_MESSAGE = "A thread initializer failed, the thread pool is not usable anymore"


class _Workers:
    """The threads of one executor and the queue they share; see the module docstring.

    Holds no reference to the executor. Every method but :meth:`abandon`
    takes the guard, a real lock held for a few instructions.
    """

    def __init__(
        self,
        max_workers: int,
        name_prefix: str,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        gatherer: Gatherer,
    ) -> None:
        self._max_workers = max_workers
        # The executor's counts: calls not finished, read to start a thread
        # only for a call no thread will take (see _place_locked).
        self._gatherer = gatherer
        self._name_prefix = name_prefix
        self._initializer = initializer
        self._initargs = initargs
        self._numbers = itertools.count()
        self._queue: SimpleQueue[WorkItem | None] = SimpleQueue()
        self._guard = _native.allocate_lock()
        self._idle = 0
        self._unclaimed = 0
        self._alive = 0
        # Threads counted in alive that will take no more calls (a dynamic
        # pool's, retiring or timed out idle), until they exit.
        self._retiring = 0
        self._stopping = False
        self._broken: BaseException | None = None
        self._threads: list[threading.Thread] = []
        # Worker threads inside shutdown(wait=True) of their own pool, by ident:
        # no other worker's shutdown waits for them (see join).
        self._joining: set[int] = set()
        self._exited = ParkingLot()

    @property
    def alive(self) -> int:
        return self._alive

    @property
    def idle(self) -> int:
        return self._idle

    def start(self, item: WorkItem) -> None:
        """Promise ``item`` to an idle worker, start a thread for it, or queue it."""
        with self._guard:
            if self._broken is not None:
                raise BrokenThreadPool(_BROKEN_MESSAGE) from self._broken
            if _exit.THREADS in _exit.finishing:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            box = self._place_locked(item)
            if box is None:
                return
            self._alive += 1
            number = next(self._numbers)
        try:
            self._new_thread(box, number)
        except BaseException:
            with self._guard:
                self._alive -= 1
                if not box:
                    return  # A spare: the call itself was placed already.
                if self._alive == 0 or self._stopping:
                    raise
                # No new thread (out of memory or thread limit), but others
                # exist: one of them will run it.
                self._put_locked(item)

    def _new_thread(self, box: list[WorkItem], number: int) -> None:
        """Start thread ``number`` (counted in ``alive`` already) with ``box``: a call, or []."""
        # Looked up now, not at import: see greenpool._native.threading_module.
        # The item goes in a box the thread empties: threading.Thread keeps
        # its args until the thread exits, and the call's future, arguments
        # and result must be freed once it has run.
        thread = _native.threading_module().Thread(
            target=self._work, args=(box,), name=f"{self._name_prefix}_{number}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _place_locked(self, item: WorkItem) -> list[WorkItem] | None:
        """Place ``item``, or say that a new thread must be started: with it, or as a spare.

        Returns None once ``item`` is promised to an idle worker or queued;
        ``[item]`` for a new thread to start with it; ``[]`` for a new thread
        to start idle, ``item`` being placed already (the dynamic pool).
        """
        alive = self._alive - self._retiring
        gatherer = self._gatherer
        if (
            self._idle
            or alive >= self._max_workers
            # As many threads as calls not finished, this one included: one
            # has just finished a call and is on its way to take the next.
            # (A call is counted finished before its future resolves, so a
            # caller that submits as soon as its result is in would otherwise
            # start a thread each time it beats that one back to the queue.)
            or alive >= gatherer.submitted - gatherer.ended
        ):
            self._put_locked(item)
            return None
        return [item]

    def _put_locked(self, item: WorkItem) -> None:
        if self._idle:
            self._idle -= 1
        else:
            self._unclaimed += 1
        self._queue.put(item)

    def _work(self, first: list[WorkItem]) -> None:
        """A thread's life: initialize, run calls, wait on the queue, exit when stopped."""
        try:
            if self._initializer is not None:
                try:
                    self._initializer(*self._initargs)
                except BaseException as exc:
                    LOGGER.critical("Exception in initializer:", exc_info=True)
                    self._break(first.pop() if first else None, exc)
                    return
            # A thread started with no call (a dynamic pool's spare) goes idle at once.
            item: WorkItem | None = first.pop() if first else None
            queue = self._queue
            while True:
                if item is not None:
                    try:
                        run(item)
                    except BaseException:
                        # _run() re-raises GreenletExit, having set it on the
                        # future, so that a killed green worker dies. A thread
                        # is no greenlet: carry on.
                        LOGGER.exception("Exception in worker")
                    item = None  # Hold nothing while idle: the call may own big objects.
                with self._guard:
                    if self._unclaimed:
                        self._unclaimed -= 1
                    elif self._stopping:
                        return
                    else:
                        self._idle += 1
                item = self._wait_for_call(queue)
                if item is None:  # Stop (a sentinel), or, in a dynamic pool, retire.
                    return
        finally:
            with self._guard:
                self._alive -= 1
                self._exiting_locked()
                self._joining.discard(_native.get_ident())
            self._exited.unpark_all()

    def _wait_for_call(self, queue: SimpleQueue[WorkItem | None]) -> WorkItem | None:
        """Wait, counted idle, for a call or a sentinel (None) the queue holds for this thread."""
        return queue.get()

    def _exiting_locked(self) -> None:
        """A thread is about to exit (a hook for the dynamic pool, under the guard)."""

    def _break(self, item: WorkItem | None, cause: BaseException) -> None:
        with self._guard:
            if self._broken is None:
                self._broken = cause
            pending = self._take_pending_locked()
            self._stop_locked()
        for failed in (item, *pending) if item is not None else pending:
            error = BrokenThreadPool(_BROKEN_MESSAGE)
            error.__cause__ = cause
            refuse(failed, error)

    def take_pending(self) -> list[WorkItem]:
        with self._guard:
            return self._take_pending_locked()

    def _take_pending_locked(self) -> list[WorkItem]:
        taken: list[WorkItem] = []
        sentinels = 0
        while True:
            try:
                entry = self._queue.get_nowait()
            except Empty:
                break
            if entry is None:
                sentinels += 1
            else:
                taken.append(entry)
        for _ in range(sentinels):  # Promised to workers already: give them back.
            self._queue.put(None)
        # Workers promised one of the taken items now wait for nothing: idle again.
        self._idle += len(taken) - self._unclaimed
        self._unclaimed = 0
        return taken

    def stop(self) -> None:
        with self._guard:
            self._stop_locked()

    def _stop_locked(self) -> None:
        self._stopping = True
        for _ in range(self._idle):
            self._queue.put(None)
        self._idle = 0

    def abandon(self) -> None:
        """:meth:`stop` for the executor's finalizer, which may run inside a GC.

        A collection can start in any thread, even one holding the guard, so
        this takes no lock: it sets the flag, then puts a sentinel for every
        thread. A worker either sees the flag or gets a sentinel; spare
        sentinels are never read.
        """
        self._stopping = True
        for _ in range(self._alive):
            self._queue.put(None)

    def join(self) -> None:
        """Wait, parked, until every thread has exited but the caller and those like it.

        A worker thread that shuts down its own pool cannot wait for itself,
        nor for another worker doing the same (each would wait for the
        other): it waits until every thread left is one that has called
        ``shutdown(wait=True)``. Every other caller waits for every thread.
        """
        me = _native.get_ident()
        if any(thread.ident == me and thread.is_alive() for thread in self._threads):
            with self._guard:
                self._joining.add(me)
            self._exited.unpark_all()  # Another joining worker may now be done.
            self._exited.park_until(lambda: self._alive <= len(self._joining))
            with self._guard:
                joining = set(self._joining)
        else:
            self._exited.park_until(lambda: self._alive == 0)
            joining = set()
        # Each has unparked us on its way out; this only waits for the return.
        for thread in self._threads:
            if thread.ident != me and thread.ident not in joining:
                thread.join()

    def join_at_exit(self) -> None:
        me = _native.get_ident()
        for thread in self._threads:
            if thread.ident != me:
                thread.join()


class ThreadPoolExecutor(Executor):
    """Runs calls on up to ``max_workers`` reused native threads.

    futurist's constructor (``max_workers``, ``check_and_reject``) plus the
    stdlib's ``thread_name_prefix``, ``initializer`` and ``initargs``, and a
    keyword-only ``name``. ``max_workers`` defaults to the stdlib's
    ``min(32, os.process_cpu_count() + 4)``
    (``os.cpu_count()`` before Python 3.13). Threads are started as calls arrive, an
    idle thread is always reused before a new one is started, and threads
    live until ``shutdown``. Threads are named ``f"{thread_name_prefix or
    name}_{n}"``.

    ``initializer(*initargs)`` runs once in each new thread before it runs
    any call. If it raises, the pool is broken: calls not yet started fail
    with :class:`BrokenThreadPool` and so does every later ``submit``.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        check_and_reject: CheckAndReject | None = None,
        *,
        name: str | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
    ) -> None:
        if max_workers is None:
            max_workers = min(32, _native.usable_cpu_count() + 4)
        super().__init__(max_workers, check_and_reject, name=name)
        if not isinstance(thread_name_prefix, str):
            raise TypeError(f"thread_name_prefix must be a str, got {thread_name_prefix!r}")
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be callable or None, got {initializer!r}")
        if isinstance(initargs, (str, bytes)) or not isinstance(initargs, Iterable):
            raise TypeError(f"initargs must be a tuple of arguments, got {initargs!r}")
        self._workers = self._make_workers(
            thread_name_prefix or self.name, initializer, tuple(initargs)
        )
        # Queued calls run and the threads are joined at exit, as with the stdlib.
        _exit.track(_exit.THREADS, self._workers)
        # Not at exit: the exit hook stops the threads, and waits for them too.
        weakref.finalize(self, self._workers.abandon).atexit = False

    def _make_workers(
        self, name_prefix: str, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
    ) -> _Workers:
        return _Workers(self._max_workers, name_prefix, initializer, initargs, self._gatherer)

    @property
    def num_workers(self) -> int:
        return self._workers.alive

    @property
    def idle_workers(self) -> int:
        """Threads waiting for work, none promised to them."""
        return self._workers.idle

    def get_num_idle_workers(self) -> int:
        """Threads waiting for work (futurist's name)."""
        return self._workers.idle

    # -- backend hooks ---------------------------------------------------

    def _start(self, item: WorkItem) -> bool:
        self._workers.start(item)
        return False

    def _take_pending(self) -> list[WorkItem]:
        return self._workers.take_pending()

    def _stop_workers(self) -> None:
        self._workers.stop()

    def _join_workers(self) -> None:
        self._workers.join()
