"""The registry of benchmark cases: what a case is, how it is measured, what it must reach.

A case is a named workload (``burst``, ``sleep``, ...) with several
implementations of it, one per library, each a plain function ``fn(n) -> value``
that does the work ``n`` times in the interpreter it is called in and returns
the figure the case reports (µs per call, bytes per call, ...). Lower is always
better. The runner calls each implementation in a fresh interpreter, so a
function may import what it needs, build what it needs and leave a mess behind.

Adding a case is dropping this into one of :data:`CASE_MODULES` (or a new
module listed there, or an extra module the runner is given: see
:func:`all_cases`)::

    MY_CASE = case("my-case", group="green", title="{n:,} calls of ...",
                   unit="µs/call", n=10_000, quick_n=1_000,
                   targets=(faster("futurist", 2.0),))

    @MY_CASE.implementation("greenpool")
    def my_case_greenpool(n: int) -> float:
        from greenpool import GreenThreadPoolExecutor  # import lazily, see below
        ...

A workload that one figure per implementation cannot describe (a table of
rows, each with several figures and targets of its own) is a *suite* instead:
a group with a runner of its own, registered with :func:`suite`, whose
``run(quick)`` measures everything (each part in processes of its own) and
returns a :class:`SuiteReport` that the runner prints beside the cases.

Case modules are imported by the runner to read the cases, so they must import
nothing heavy at module level: no eventlet (it warns on import), no greenpool
backend still being written. An implementation whose lazy import raises
``ImportError`` is reported as "not available" rather than failing the run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The shipped modules that define cases, imported in this order; their cases print in
#: this order. A checkout adds its repo-only ones (``benchmarks.overload_cases``) as
#: *extra* modules, after these.
CASE_MODULES = (
    "greenpool.bench.green_cases",
    "greenpool.bench.mixed_cases",
    "greenpool.bench.thread_cases",
    "greenpool.bench.delayed_cases",
    "greenpool.bench.process_cases",
    "greenpool.bench.pool_cases",
    "greenpool.bench.dask_cases",
    "greenpool.bench.periodic_cases",
)

Measure = Callable[[int], float]


@dataclass(frozen=True)
class Target:
    """A goal from the issue, checked on medians: ``numerator / denominator`` vs a bound.

    With ``denominator=None`` the numerator's median itself is checked (for
    cases whose figure is already a ratio, such as "x ideal").
    """

    text: str
    numerator: str
    denominator: str | None
    at_least: float | None = None
    at_most: float | None = None

    def label(self) -> str:
        """How the checked quantity reads in a report, e.g. ``futurist / greenpool``."""
        if self.denominator is None:
            return self.numerator
        return f"{self.numerator} / {self.denominator}"

    def bound(self) -> str:
        if self.at_least is not None:
            return f">= {self.at_least:g}"
        return f"<= {self.at_most:g}"

    def met(self, value: float) -> bool:
        if self.at_least is not None and value < self.at_least:
            return False
        return not (self.at_most is not None and value > self.at_most)


def faster(other: str, factor: float, reference: str = "greenpool") -> Target:
    """``reference`` at least ``factor`` times faster (or smaller) than ``other``."""
    return Target(
        f"{reference} >= {factor:g}x faster than {other}", other, reference, at_least=factor
    )


def no_slower(other: str, reference: str = "greenpool") -> Target:
    """``reference`` no slower than ``other``."""
    return Target(f"{reference} no slower than {other}", other, reference, at_least=1.0)


def within(other: str, factor: float, reference: str = "greenpool") -> Target:
    """``reference`` at most ``factor`` times ``other``'s cost."""
    return Target(f"{reference} within {factor:g}x of {other}", reference, other, at_most=factor)


def smaller(other: str, factor: float, text: str, reference: str = "greenpool") -> Target:
    """``reference``'s figure at most ``1/factor`` of ``other``'s, described by ``text``."""
    return Target(text, other, reference, at_least=factor)


def at_most(value: float, text: str, reference: str = "greenpool") -> Target:
    """``reference``'s own figure at most ``value``."""
    return Target(text, reference, None, at_most=value)


@dataclass(frozen=True)
class Implementation:
    """One library's way of doing a case; ``scale`` shrinks ``n`` for slow ones."""

    name: str
    measure: Measure
    scale: float = 1.0
    note: str = ""

    def size(self, n: int) -> int:
        return max(1, round(n * self.scale))


@dataclass
class Case:
    """A workload, its implementations in report order, and its targets."""

    name: str
    group: str
    title: str
    unit: str
    n: int
    quick_n: int
    targets: tuple[Target, ...] = ()
    reference: str = "greenpool"
    implementations: dict[str, Implementation] = field(default_factory=dict)

    def implementation(
        self, name: str, *, scale: float = 1.0, note: str = ""
    ) -> Callable[[Measure], Measure]:
        """Decorator: register ``fn(n) -> value`` as implementation ``name`` of this case."""

        def register(measure: Measure) -> Measure:
            if name in self.implementations:
                raise ValueError(f"case {self.name!r} already has an implementation {name!r}")
            self.implementations[name] = Implementation(name, measure, scale, note)
            return measure

        return register

    def describe(self, n: int) -> str:
        return self.title.format(n=n)


_cases: dict[str, Case] = {}


def case(
    name: str,
    *,
    group: str,
    title: str,
    unit: str,
    n: int,
    quick_n: int,
    targets: tuple[Target, ...] = (),
    reference: str = "greenpool",
) -> Case:
    """Create and register a case; add implementations with ``@CASE.implementation(...)``."""
    if name in _cases:
        raise ValueError(f"a case named {name!r} is already registered")
    new = Case(name, group, title, unit, n, quick_n, targets, reference)
    _cases[name] = new
    return new


def all_cases(extra_modules: Sequence[str] = ()) -> dict[str, Case]:
    """Every registered case, by name, in registration order.

    Imports :data:`CASE_MODULES`, then ``extra_modules`` (modules outside the
    package, such as the repository's ``benchmarks.overload_cases``), so their
    cases and suites are registered too.
    """
    for module in (*CASE_MODULES, *extra_modules):
        importlib.import_module(module)
    return dict(_cases)


# -- suites: groups with a runner and a report of their own ----------------------


@dataclass(frozen=True)
class SuiteCheck:
    """One target of a suite, already judged: what it asks, what was measured, the result."""

    text: str
    measured: str
    bound: str
    #: PASS, MISS, or n/a (what it needs was not measured).
    result: str


@dataclass
class SuiteReport:
    """What a suite's runner returns: its table, its judged targets, its data for ``--json``."""

    lines: list[str]
    checks: list[SuiteCheck]
    markdown: str
    data: dict[str, Any]
    #: Parts that could not be measured; any makes the run's exit status 1.
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Suite:
    """A group measured and reported by its own runner; ``run(quick)`` -> :class:`SuiteReport`."""

    name: str
    title: str
    run: Callable[[bool], SuiteReport]


_suites: dict[str, Suite] = {}


def suite(name: str, *, title: str) -> Callable[[Callable[[bool], SuiteReport]], Suite]:
    """Decorator: register ``run(quick) -> SuiteReport`` as the suite (and group) ``name``."""

    def register(run: Callable[[bool], SuiteReport]) -> Suite:
        if name in _suites or name in _cases:
            raise ValueError(f"a case or suite named {name!r} is already registered")
        new = Suite(name, title, run)
        _suites[name] = new
        return new

    return register


def all_suites(extra_modules: Sequence[str] = ()) -> dict[str, Suite]:
    """Every registered suite, by name, in registration order (see :func:`all_cases`)."""
    all_cases(extra_modules)
    return dict(_suites)
