"""WorkerLostError, in a module of its own: raised by the manager, exported by the pool."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool


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
