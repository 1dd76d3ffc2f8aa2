"""What tests/stress/test_chaos.py sends to process pool workers: module-level, so it pickles.

Worker processes (started by ``forkserver``) import this module by name
(``chaos_tasks``): pytest puts ``tests/`` on ``sys.path``, and the workers
inherit it. Each call writes what it did into a block of shared memory the
test made (:class:`Record`, attached by name), so the test can tell,
after its workers were killed at random, which process started each call,
whether the call got to its end, and whether any call ran twice.
"""

from __future__ import annotations

import os
import time
from multiprocessing import shared_memory

#: Slots of the table of workers: each call writes its pid at ``pid % WORKER_SLOTS``.
WORKER_SLOTS = 1024


class Record:
    """``int64`` words in shared memory: for each call, the pid that started it, whether
    it got to its end, and how many times more it started (a call that ran twice would
    set it); then a table of the pids that started calls, for the killer to choose from,
    and the number of the latest call started, for the killer to pace itself by.

    A word is written by one aligned store, so a worker killed at any moment
    leaves each word either as it was or as written.
    """

    def __init__(self, memory: shared_memory.SharedMemory, calls: int) -> None:
        self.memory = memory
        self.calls = calls
        assert memory.buf is not None
        words = memory.buf.cast("q")
        self.words = words
        self.started_by = words[0:calls]
        self.finished = words[calls : 2 * calls]
        self.started_again = words[2 * calls : 3 * calls]
        self.workers = words[3 * calls : 3 * calls + WORKER_SLOTS]
        self.latest = words[3 * calls + WORKER_SLOTS : 3 * calls + WORKER_SLOTS + 1]

    @staticmethod
    def size(calls: int) -> int:
        return (3 * calls + WORKER_SLOTS + 1) * 8

    @classmethod
    def create(cls, calls: int) -> Record:
        memory = shared_memory.SharedMemory(create=True, size=cls.size(calls))
        assert memory.buf is not None
        memory.buf[: cls.size(calls)] = bytes(cls.size(calls))  # Zeroed on every platform.
        return cls(memory, calls)

    def close(self) -> None:
        """Release the views, close and unlink the block (in the process that created it)."""
        for view in (
            self.started_by,
            self.finished,
            self.started_again,
            self.workers,
            self.latest,
            self.words,
        ):
            view.release()
        self.memory.close()
        self.memory.unlink()

    def start(self, index: int) -> int:
        """Call ``index`` starts in this process: record it; return this process's pid."""
        pid = os.getpid()
        if self.started_by[index]:
            self.started_again[index] += 1
        self.started_by[index] = pid
        self.workers[pid % WORKER_SLOTS] = pid
        self.latest[0] = index
        return pid


#: In each worker process, the blocks attached so far, by name.
_ATTACHED: dict[str, Record] = {}


def _record(name: str, calls: int) -> Record:
    record = _ATTACHED.get(name)
    if record is None:
        record = _ATTACHED[name] = Record(shared_memory.SharedMemory(name), calls)
    return record


def ready() -> None:
    """The workers' initializer: this module (and shared_memory) are imported before the
    worker takes its first call, so a call's first line comes soon after its start."""


def parent_pid() -> int:
    """The pid of the worker's parent (the forkserver): how the killer tells a live
    worker of this pool's from a process that took over a recycled pid."""
    return os.getppid()


def work(name: str, calls: int, index: int, seconds: float) -> tuple[int, int]:
    """Call ``index``: record its start, run ``seconds``, record its end; return the pid
    that ran it and ``index * index``."""
    record = _record(name, calls)
    pid = record.start(index)
    if seconds:
        time.sleep(seconds)
    record.finished[index] = 1
    return pid, index * index


def overrun(name: str, calls: int, index: int) -> None:
    """Call ``index``, which never ends in time: record its start, then sleep a minute
    (submitted with a timeout of a fraction of a second, it must be stopped)."""
    record = _record(name, calls)
    record.start(index)
    time.sleep(60)
    record.finished[index] = 1
