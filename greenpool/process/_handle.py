"""WorkerHandle: the parent's side of one worker process: the calls it holds, its answers, its end.

Owned by the manager thread. Each handle knows the calls handed to its
worker and not answered yet, in the order handed (:attr:`WorkerHandle.held`),
and turns the worker's answers into changes of their futures: ``STARTED``
marks a call running and ends its wait, an outcome resolves it, ``SKIPPED``
finishes a cancel. A call taken back for another worker stays in ``held``
until this worker answers it ``SKIPPED``, which keeps the worker's answers
and its held calls in step; it is recognised by no longer being placed on
this worker.
"""

from __future__ import annotations

import pickle
import signal
from collections import deque
from typing import Any

from greenpool._errors import CallTimeoutError
from greenpool._workitem import fail, hold, now, start, succeed, withdraw
from greenpool.process import _wire
from greenpool.process._channel import NOT_READY, Channel
from greenpool.process._dispatch import SMOOTHING, Load, Policy
from greenpool.process._errors import WorkerLostError
from greenpool.process._placement import Call, Ledger
from greenpool.process._wire import Answer

_STARTED = int(Answer.STARTED)
_RESULT = int(Answer.RESULT)
_SKIPPED = int(Answer.SKIPPED)
_INITIALIZER_FAILED = int(Answer.INITIALIZER_FAILED)


def how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerHandle:
    """The parent's view of one worker process."""

    __slots__ = (
        "calls_left",
        "channel",
        "held",
        "initializer_error",
        "ledger",
        "pid",
        "process",
        "stop_sent",
        "timed",
        "watching_calls",
    )

    def __init__(
        self, process: Any, channel: Channel, calls_left: int | None, ledger: Ledger
    ) -> None:
        self.process = process
        self.ledger = ledger
        self.pid: int = process.pid
        self.channel = channel
        #: Calls handed to it and not answered yet, in the order handed.
        self.held: deque[Call] = deque()
        #: Calls it may still be handed (``max_tasks_per_child``); None: no limit.
        self.calls_left = calls_left
        #: Its call with a timeout, once started; it runs alone.
        self.timed: Call | None = None
        self.stop_sent = False
        self.watching_calls = False
        self.initializer_error: BaseException | None = None

    def load(self, count_unstarted: bool = False) -> Load:
        """What the dispatch policy needs to know of this worker."""
        held = self.held
        accepts = not self.stop_sent and not (held and held[-1].timeout is not None)
        unstarted = len(self.unstarted()) if count_unstarted else 0
        return Load(len(held), unstarted, self.calls_left, accepts)

    def unstarted(self) -> list[Call]:
        """The calls it holds and has not started (as far as its board says), in order."""
        channel = self.channel
        started = channel.started
        calls: list[Call] = []
        for call in reversed(self.held):
            if call.channel is not channel:
                continue  # Taken back; elsewhere now.
            if call.number <= started:
                break
            if not channel.withdrawn(call.number):
                calls.append(call)
        calls.reverse()
        return calls

    # -- calls out -----------------------------------------------------------

    def give(self, calls: list[Call]) -> list[Call]:
        """Frame ``calls`` (pickled) for this worker; return those withdrawn meanwhile."""
        placed, dropped = self.ledger.place(calls, self.channel)
        self.held.extend(placed)
        if self.calls_left is not None:
            self.calls_left -= len(placed)
        return dropped

    def take_back(self, count: int) -> list[Call]:
        """Withdraw up to ``count`` of its last unstarted calls, for another worker."""
        return self.ledger.take_back(self.channel, self.unstarted()[-count:])

    def stop(self) -> None:
        self.stop_sent = True
        self.channel.queue_stop()

    # -- answers in ----------------------------------------------------------

    def receive(self, policy: Policy, until_empty: bool = False) -> bool:
        """Read and handle what the worker has answered; False once its pipe has ended."""
        channel = self.channel
        while True:
            data = channel.read()
            if data is None:
                return False
            if not data:
                return True
            self._answers(channel.unparsed(data), policy)
            if not until_empty and len(data) < _wire.READ_SIZE:
                return True

    def _answers(self, data: bytes | bytearray, policy: Policy) -> None:
        """Handle every complete answer in ``data``; keep the incomplete rest."""
        channel = self.channel
        unpack = _wire.ANSWER_HEADER.unpack_from
        header_size = _wire.ANSWER_HEADER.size
        held = self.held
        loads = pickle.loads
        forget = self.ledger.forget
        # Policy.observe, inlined: this loop runs once per answer.
        average = policy.average_runtime
        size_of_data = len(data)
        position = 0
        while size_of_data - position >= header_size:
            size, number, kind, seconds, next_started_at = unpack(data, position)
            body_start = position + header_size
            end = body_start + size
            if end > size_of_data:
                break
            position = end
            if kind == _STARTED:
                next_started_at = seconds
            else:
                if kind == _INITIALIZER_FAILED:
                    self.initializer_error = _wire.decode_error(data[body_start:end])
                    continue
                call = held.popleft()
                if kind == _SKIPPED:
                    if call.channel is channel and call.number == number:
                        withdraw(call.item)  # Cancelled here: its waiters are told now.
                        self._forget(call)
                    continue  # Otherwise taken back: another worker has it.
                if call.number != number:  # pragma: no cover - a bug in the wire protocol
                    raise AssertionError(f"worker {self.pid} answered {number}, not {call.number}")
                if call is self.timed:
                    self.timed = None
                average = seconds if average is None else average + (seconds - average) * SMOOTHING
                item = call.item
                forget(item)  # As self._forget, inlined.
                hold(item, None)
                if kind == _RESULT:
                    try:
                        result = loads(data[body_start:end])
                    except BaseException as exc:  # Such as a class the parent cannot import.
                        fail(item, seconds, exc)
                        del exc
                    else:
                        succeed(item, seconds, result)
                        del result
                else:
                    fail(item, seconds, _wire.decode_error(data[body_start:end]))
                if not next_started_at:
                    continue
                number += 1  # The outcome says the next call has started too.
            # Calls start in the order handed, each after the previous one's
            # outcome: this is the oldest one held.
            call = held[0]
            if call.number != number or call.channel is not channel:  # pragma: no cover
                raise AssertionError(f"worker {self.pid} started {number}, not {call.number}")
            call.started_at = next_started_at
            if not start(call.item, next_started_at):  # pragma: no cover - the handshake's bug
                raise AssertionError(f"worker {self.pid} started a cancelled call")
            if call.timeout is not None:
                call.deadline = next_started_at + call.timeout
                self.timed = call
        policy.average_runtime = average
        channel.keep(data, position)

    def _forget(self, call: Call) -> None:
        """Answered: the ledger forgets it, and the future its holder (the manager)."""
        self.ledger.forget(call.item)
        hold(call.item, None)

    # -- its end -------------------------------------------------------------

    def lost(self, exitcode: int | None, replaced: bool = True) -> list[Call]:
        """The worker has died and its last answers have been read: fail the calls it
        had started, finish the cancels it had not seen, and return the calls it
        never started, for other workers."""
        channel = self.channel
        started, finished = channel.started, channel.finished
        held = list(self.held)
        self.held.clear()
        self.timed = None
        ran = [c for c in held if c.channel is channel and c.number <= started]
        again, skipped = self.ledger.orphans(
            channel, [c for c in held if c.channel is not channel or c.number > started]
        )
        for call in skipped:
            withdraw(call.item)
            self._forget(call)
        at = now()
        how = how_it_ended(exitcode)
        for call in ran:
            item = call.item
            if call.started_at is None:  # Killed before its STARTED answer went out.
                call.started_at = channel.started_at if call.number == started else at
                start(item, call.started_at)
            error: BaseException
            if call.timed_out:
                error = CallTimeoutError(
                    f"call still running after {call.timeout} s; its worker process "
                    f"{self.pid} was killed and replaced"
                )
            else:
                what = (
                    "after running this call but before sending its result"
                    if call.number <= finished
                    else "while running this call"
                )
                after = "the pool replaced it" if replaced else "the pool takes no more calls"
                error = WorkerLostError(
                    f"worker process {self.pid} died ({how}) {what}; {after}",
                    pid=self.pid,
                    exitcode=exitcode,
                )
            self._forget(call)
            fail(item, at - call.started_at, error)
        return again

    def died_starting(self) -> bool:
        """Whether it died before its initializer had run (and before being told to stop)."""
        return self.channel.started == NOT_READY and not self.stop_sent
