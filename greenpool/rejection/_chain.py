"""``chain``: several policies in order; the first refusal wins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenpool.rejection._policy import Policy


class Chain(Policy):
    """What :func:`chain` returns; ``policies`` is the tuple of policies, in order."""

    def __init__(self, *policies: Callable[[Any, int], object]) -> None:
        if not policies:
            raise ValueError("chain needs at least one policy")
        for policy in policies:
            if not callable(policy):
                raise TypeError(f"every policy must be callable, got {policy!r}")
        self.policies = policies

    def __repr__(self) -> str:
        return f"chain({', '.join(map(repr, self.policies))})"

    def _attached(self, executor: Any) -> None:
        for policy in self.policies:
            if isinstance(policy, Policy):
                policy.attach(executor)

    def __call__(self, executor: Any, backlog: int) -> None:
        for policy in self.policies:
            policy(executor, backlog)


def chain(*policies: Callable[[Any, int], object]) -> Chain:
    """Apply ``policies`` in order; the first that refuses (or waits) decides.

    For example ``chain(reject_when_reached(100), AdaptiveLimit())``: a hard
    cap on the backlog, and the adaptive limit within it. A policy that makes
    the submitter wait (:func:`block_when_reached`) is best put last: a
    waiter, once woken, is checked by the policies before it again.
    """
    return Chain(*policies)
