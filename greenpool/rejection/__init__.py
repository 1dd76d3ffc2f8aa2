"""Backpressure: ``check_and_reject`` policies that keep a service healthy under overload.

A policy is any callable ``check_and_reject(executor, backlog)`` that raises
:class:`~greenpool.RejectedSubmission` to refuse a submission; the executor
counts the refusal in ``statistics.rejected`` and queues nothing. It runs
under the executor's submit lock, before anything is queued. ``backlog`` is
the number of accepted calls no worker can take now, the same on every
executor. Every policy here works on every executor (green, thread,
dynamic, process, synchronous):

* :func:`reject_when_reached`: a fixed cap on the backlog, as futurist's.
* :func:`block_when_reached`: the submitter waits for room instead.
* :func:`codel`: refuse while the queue is *standing* (after CoDel).
* :class:`AdaptiveLimit`: a limit on calls in flight, learnt from run times.
* :func:`chain`: several of them, in order.

Policies with state subclass :class:`Policy` and serve one executor each;
see :mod:`greenpool.rejection._policy`. The README has a table of which to
pick when.
"""

from __future__ import annotations

from greenpool._errors import RejectedSubmission, WaitForRoom
from greenpool.rejection._adaptive import AdaptiveLimit
from greenpool.rejection._blocking import BlockWhenReached, block_when_reached
from greenpool.rejection._cap import reject_when_reached
from greenpool.rejection._chain import Chain, chain
from greenpool.rejection._codel import CoDel, codel
from greenpool.rejection._policy import Policy

__all__ = [
    "AdaptiveLimit",
    "BlockWhenReached",
    "Chain",
    "CoDel",
    "Policy",
    "RejectedSubmission",
    "WaitForRoom",
    "block_when_reached",
    "chain",
    "codel",
    "reject_when_reached",
]
