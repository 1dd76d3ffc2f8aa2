"""The tiny calls the cases run, in a module so that worker processes can import them.

Process pools pickle a function by its module and name, so these cannot be
lambdas or be defined in ``__main__``.
"""

from __future__ import annotations


def noop(*args: object) -> None:
    """Do nothing: what is measured is the executor around the call."""


def square(x: int) -> int:
    """A tiny call with an argument and a result, both of which cross a process boundary."""
    return x * x
