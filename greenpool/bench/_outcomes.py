"""What a benchmark run measured: each implementation's samples, and each case judged.

An :class:`Outcome` holds one implementation's samples over the rounds (or
why it has none); a :class:`CaseResult` holds a case's outcomes and works
out its medians, its ratios against the reference implementation and its
targets (:class:`Check`). The runner (:mod:`greenpool.bench.run`) fills
them; the reports (:mod:`greenpool.bench._report`) and the chart
(:mod:`greenpool.bench._plot`) read them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from greenpool.bench._registry import Case, Implementation, Target


@dataclass
class Outcome:
    """Every sample of one implementation of one case, or why there are none."""

    implementation: Implementation
    n: int
    samples: list[float] = field(default_factory=list)
    unavailable: str | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.implementation.name

    @property
    def ok(self) -> bool:
        return bool(self.samples) and self.unavailable is None and self.error is None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def status(self) -> str:
        if self.unavailable is not None:
            return "not available"
        if self.error is not None:
            return "error"
        return "ok"


@dataclass
class Check:
    """A target applied to one run's medians; ``value`` is None when it cannot be computed."""

    target: Target
    value: float | None

    @property
    def result(self) -> str:
        if self.value is None:
            return "n/a"
        return "PASS" if self.target.met(self.value) else "MISS"

    def measured(self, unit: str) -> str:
        """What was checked and its value: a ratio, or a figure in the case's ``unit``."""
        if self.target.denominator is None and self.value is not None:
            return f"{self.target.label()} = {format_value(self.value)} {unit}"
        return f"{self.target.label()} = {format_ratio(self.value)}"


@dataclass
class CaseResult:
    case: Case
    n: int
    outcomes: list[Outcome]

    def by_name(self, name: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.name == name), None)

    def ratio(self, outcome: Outcome) -> float | None:
        """``outcome``'s median over the reference's (greenpool's), if both exist."""
        reference = self.by_name(self.case.reference)
        if reference is None or not reference.ok or not outcome.ok or reference.median == 0:
            return None
        return outcome.median / reference.median

    def checks(self) -> list[Check]:
        checks = []
        for target in self.case.targets:
            numerator = self.by_name(target.numerator)
            denominator = None if target.denominator is None else self.by_name(target.denominator)
            value = None
            if numerator is not None and numerator.ok:
                if target.denominator is None:
                    value = numerator.median
                elif denominator is not None and denominator.ok and denominator.median:
                    value = numerator.median / denominator.median
            checks.append(Check(target, value))
        return checks


def format_value(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}x" if value >= 100 else f"{value:.3g}x" if value >= 10 else f"{value:.2f}x"


def implementation_label(outcome: Outcome, case_n: int) -> str:
    notes = [outcome.implementation.note] if outcome.implementation.note else []
    if outcome.n != case_n:
        notes.insert(0, f"n={outcome.n:,}")
    return f"{outcome.name} ({', '.join(notes)})" if notes else outcome.name
