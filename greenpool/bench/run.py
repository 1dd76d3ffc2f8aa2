"""Run the benchmark suite and report medians, ratios against greenpool, and the targets.

    python -m greenpool bench [NAME ...] [--case NAME ...] [--rounds N] [--quick]
                              [--json PATH] [--markdown PATH] [--plot FILE.png]
                              [--timeout SECONDS] [--list]

(also ``python -m greenpool.bench.run``; in a checkout, ``python -m benchmarks``
runs the same with the repository's own suites added, see ``benchmarks/``.)

Each (case, implementation) measurement runs in a fresh interpreter
(:mod:`greenpool.bench._worker`), so none inherits another's imports, hub, warm
allocator or garbage. A round measures every selected implementation of every
selected case once; within a case the implementations take turns
(round-robin) and the order rotates by one each round, so slow drift on a
busy machine (thermal, other jobs) spreads over all of them instead of
landing on whichever always runs last.

Every figure is lower-is-better. A case's ratios are ``other / greenpool`` of
the medians, so ``futurist / greenpool = 5.3x`` means greenpool takes a fifth
of futurist's time (or memory). Targets are checked on the same medians.
``--plot`` draws those ratios as a bar chart (:mod:`greenpool.bench._plot`).

A *suite* (such as the repository's ``overload``) is a group with a runner and
a table of its own (:class:`greenpool.bench._registry.Suite`): it is selected
like a group, runs once (``--rounds`` does not apply), after the cases, and
its targets count in the same tally.

The command line is :func:`add_arguments` and :func:`run`, so that another
parser (``python -m greenpool``'s ``bench`` subcommand) can carry it;
:func:`main` is the two on a parser of its own. Case modules outside the
package (``extra_case_modules``) are imported after
:data:`~greenpool.bench._registry.CASE_MODULES`, here and in every worker
(its ``--modules``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import NoReturn

from greenpool.bench import _worker
from greenpool.bench._registry import (
    Case,
    Implementation,
    Suite,
    SuiteReport,
    Target,
    all_cases,
    all_suites,
)
from greenpool.bench._worker import RESULT_PREFIX

#: The directory this greenpool is imported from: a checkout's root, or site-packages.
#: Workers start there, so that ``python -m`` finds this same greenpool first.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROG = "python -m greenpool bench"
DESCRIPTION = "greenpool against futurist, eventlet, the stdlib and multiprocessing."
DEFAULT_ROUNDS = 5
#: ``--quick`` checks that everything runs, not how fast (the README says how long
#: it takes): one round unless ``--rounds`` says otherwise.
QUICK_ROUNDS = 1
DEFAULT_TIMEOUT = 600.0
VERSIONED = ("greenpool", "futurist", "eventlet", "greenlet")


# -- measuring ---------------------------------------------------------------


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


def worker_environment(extra_case_modules: Sequence[str]) -> dict[str, str] | None:
    """The workers' environment: this one, with ``PYTHONPATH`` finding every extra module.

    Workers start in :data:`ROOT`, which ``python -m`` puts first on their path;
    an extra case module imported here from anywhere else (its top-level
    package's directory) is added to ``PYTHONPATH``. None: nothing to add.
    """
    directories: list[str] = []
    for module in extra_case_modules:
        top = sys.modules.get(module.partition(".")[0])
        locations = list(getattr(top, "__path__", None) or [])
        origin = locations[0] if locations else getattr(top, "__file__", None)
        if origin is None:
            continue
        directory = os.path.dirname(os.path.abspath(origin))
        if os.path.realpath(directory) != os.path.realpath(ROOT) and directory not in directories:
            directories.append(directory)
    if not directories:
        return None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*directories, *filter(None, [env.get("PYTHONPATH")])])
    return env


def measure_once(
    case: Case,
    outcome: Outcome,
    timeout: float,
    extra_case_modules: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> None:
    """Run one measurement in a fresh interpreter and record it in ``outcome``."""
    command = _worker.command(case.name, outcome.name, outcome.n, extra_case_modules)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Its own process group, so a timeout ends its children too.
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        outcome.error = f"timed out after {timeout:g} s"
        return
    payload = None
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            payload = json.loads(line[len(RESULT_PREFIX) :])
            break
    if process.returncode != 0 or payload is None:
        last = stderr.strip().splitlines()[-1:] or [f"exit status {process.returncode}"]
        outcome.error = last[0]
        sys.stderr.write(stderr)
    elif "unavailable" in payload:
        outcome.unavailable = payload["unavailable"]
    else:
        outcome.samples.append(float(payload["value"]))


def run_rounds(
    cases: list[Case],
    rounds: int,
    quick: bool,
    timeout: float,
    extra_case_modules: Sequence[str] = (),
) -> dict[str, list[Outcome]]:
    """Measure every implementation of every case once per round, rotating the order.

    Each measurement prints a progress line to stderr, counted against the
    measurements still planned (``[12/40]``): an implementation that was not
    available or failed is not measured again, so the total shrinks by its
    remaining rounds.
    """
    outcomes = {
        case.name: [
            Outcome(impl, impl.size(case.quick_n if quick else case.n))
            for impl in case.implementations.values()
        ]
        for case in cases
    }
    env = worker_environment(extra_case_modules)
    total = rounds * sum(len(order) for order in outcomes.values())
    done = 0
    for round_index in range(rounds):
        for case in cases:
            order = outcomes[case.name]
            shift = round_index % len(order)
            for outcome in order[shift:] + order[:shift]:
                if outcome.unavailable is not None or outcome.error is not None:
                    total -= 1  # Reported once; retrying every round only costs time.
                    continue
                started = time.perf_counter()
                measure_once(case, outcome, timeout, extra_case_modules, env)
                took = time.perf_counter() - started
                done += 1
                if outcome.status == "ok":
                    shown = f"{format_value(outcome.samples[-1])} {case.unit}"
                else:
                    shown = f"{outcome.status}: {outcome.unavailable or outcome.error}"
                count = f"[{done:>{len(str(total))}}/{total}]"
                where = f" round {round_index + 1}/{rounds}" if rounds > 1 else ""
                print(
                    f"{count}{where} {case.name:<17} {outcome.name:<18} {shown}  ({took:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return outcomes


# -- judging -----------------------------------------------------------------


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


# -- the environment ---------------------------------------------------------


def _same_path(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def environment() -> dict[str, object]:
    versions: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    commit = None
    try:
        # Only a checkout's own commit: an installed greenpool's ROOT (site-packages)
        # may well sit inside some other repository.
        head = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        lines = head.stdout.split()
        if head.returncode == 0 and len(lines) == 2 and _same_path(lines[0], ROOT):
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--", "greenpool"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            commit = lines[1] + (" + local changes" if dirty.stdout.strip() else "")
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "versions": versions,
    }


def describe_environment(
    env: dict[str, object], rounds: int, quick: bool, cases: bool = True
) -> list[str]:
    versions = env["versions"]
    assert isinstance(versions, dict)
    cpus = f"{env['cpus']} CPUs"
    if env["cpus_usable"] not in (None, env["cpus"]):
        cpus += f" ({env['cpus_usable']} usable)"
    greenpool = f"greenpool {versions['greenpool']}"
    if env["commit"]:
        greenpool += f" ({env['commit']})"
    others = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "greenpool" and v)
    load = env["load_average"]
    if cases:
        how = (
            f"median of {rounds} round{'s' if rounds != 1 else ''}, each measurement in a fresh"
            " interpreter; lower is better"
        )
    else:
        how = "each suite runs once, every part in processes of its own"
    return [
        f"{env['python_implementation']} {env['python']} on {env['platform']}, {cpus}, "
        f"{env['date']}" + (f", load average {load[0]}" if isinstance(load, list) else ""),
        f"{greenpool}; {others}",
        how + ("; QUICK run (smaller n)" if quick else ""),
    ]


# -- reporting ---------------------------------------------------------------


def text_report(
    results: list[CaseResult],
    header: list[str],
    suites: Sequence[tuple[Suite, SuiteReport]] = (),
) -> str:
    lines = ["greenpool benchmarks", *header, ""]
    for result in results:
        case = result.case
        lines.append(f"== {case.name}: {case.describe(result.n)}")
        labels = [implementation_label(o, result.n) for o in result.outcomes]
        width = max(len(case.unit) + 2, *(len(label) for label in labels)) + 2
        lines.append(f"   {case.unit:<{width}}{'median':>10}{'min':>10}{'max':>10}{'rounds':>8}")
        for outcome, label in zip(result.outcomes, labels, strict=True):
            if outcome.ok:
                lines.append(
                    f"   {label:<{width}}{format_value(outcome.median):>10}"
                    f"{format_value(min(outcome.samples)):>10}"
                    f"{format_value(max(outcome.samples)):>10}{len(outcome.samples):>8}"
                )
            else:
                reason = outcome.unavailable or outcome.error
                lines.append(f"   {label:<{width}}{outcome.status}: {reason}")
        reference = result.by_name(case.reference)
        for outcome in result.outcomes:
            ratio = result.ratio(outcome)
            if outcome is not reference and ratio is not None:
                lines.append(f"   {outcome.name} / {case.reference} = {ratio:.2f}x")
        for check in result.checks():
            measured = check.measured(case.unit)
            lines.append(
                f"   target: {check.target.text}: {measured}"
                f" (needs {check.target.bound()})  {check.result}"
            )
        lines.append("")
    for suite, report in suites:
        lines.append(f"== {suite.name}: {suite.title}")
        lines += [f"   {line}" if line else "" for line in report.lines]
        for suite_check in report.checks:
            lines.append(
                f"   target: {suite_check.text}: {suite_check.measured}"
                f" (needs {suite_check.bound})  {suite_check.result}"
            )
        lines += [f"   error: {error}" for error in report.errors]
        lines.append("")
    tally = [check.result for result in results for check in result.checks()]
    tally += [check.result for _, report in suites for check in report.checks]
    if tally:
        counts = ", ".join(f"{tally.count(r)} {r}" for r in ("PASS", "MISS", "n/a") if r in tally)
        lines.append(f"targets: {counts}")
    return "\n".join(lines)


def markdown_report(
    results: list[CaseResult],
    header: list[str],
    suites: Sequence[tuple[Suite, SuiteReport]] = (),
) -> str:
    lines = ["_" + "; ".join(header) + "._", ""]
    if not results:
        return "\n".join(lines + [report.markdown for _, report in suites])
    lines += [
        "| Case | Implementation | Median | Min .. max | vs greenpool |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for result in results:
        case = result.case
        for index, outcome in enumerate(result.outcomes):
            first = f"**{case.name}** ({case.unit})" if index == 0 else ""
            label = implementation_label(outcome, result.n)
            if outcome.ok:
                spread = (
                    f"{format_value(min(outcome.samples))} .. {format_value(max(outcome.samples))}"
                )
                lines.append(
                    f"| {first} | {label} | {format_value(outcome.median)} | {spread}"
                    f" | {format_ratio(result.ratio(outcome))} |"
                )
            else:
                lines.append(f"| {first} | {label} | {outcome.status} | | |")
    checks = [(result.case, check) for result in results for check in result.checks()]
    if checks:
        lines += [
            "",
            "| Case | Target | Measured | Result |",
            "| --- | --- | --- | --- |",
        ]
        for case, check in checks:
            measured = check.measured(case.unit)
            lines.append(f"| {case.name} | {check.target.text} | {measured} | {check.result} |")
    for _, report in suites:
        lines += ["", report.markdown.rstrip("\n")]
    return "\n".join(lines) + "\n"


def json_report(
    results: list[CaseResult],
    env: dict[str, object],
    rounds: int,
    quick: bool,
    suites: Sequence[tuple[Suite, SuiteReport]] = (),
) -> dict[str, object]:
    cases = []
    for result in results:
        case = result.case
        cases.append(
            {
                "name": case.name,
                "group": case.group,
                "title": case.describe(result.n),
                "unit": case.unit,
                "n": result.n,
                "reference": case.reference,
                "implementations": [
                    {
                        "name": o.name,
                        "note": o.implementation.note,
                        "n": o.n,
                        "status": o.status,
                        "reason": o.unavailable or o.error,
                        "samples": o.samples,
                        "median": o.median if o.ok else None,
                        "min": min(o.samples) if o.ok else None,
                        "max": max(o.samples) if o.ok else None,
                        "vs_reference": result.ratio(o),
                    }
                    for o in result.outcomes
                ],
                "targets": [
                    {
                        "text": c.target.text,
                        "measured": c.target.label(),
                        "bound": c.target.bound(),
                        "value": c.value,
                        "result": c.result,
                    }
                    for c in result.checks()
                ],
            }
        )
    suite_data = [
        {
            "name": suite.name,
            "title": suite.title,
            "data": report.data,
            "targets": [
                {"text": c.text, "measured": c.measured, "bound": c.bound, "result": c.result}
                for c in report.checks
            ],
            "errors": report.errors,
        }
        for suite, report in suites
    ]
    return {
        "environment": env,
        "rounds": rounds,
        "quick": quick,
        "cases": cases,
        "suites": suite_data,
    }


# -- the command line --------------------------------------------------------


def select(
    cases: dict[str, Case], wanted: list[str] | None, suites: dict[str, Suite] | None = None
) -> tuple[list[Case], list[Suite]]:
    """The cases and suites ``wanted`` names (cases, groups, suites); all of them by default.

    Raises :class:`ValueError` naming what is known when a name is not a case, group or suite.
    """
    suites = suites or {}
    if not wanted:
        return list(cases.values()), list(suites.values())
    names = [name for item in wanted for name in item.split(",") if name]
    unknown = [
        n
        for n in names
        if n not in cases and n not in suites and all(c.group != n for c in cases.values())
    ]
    if unknown:
        groups = sorted({c.group for c in cases.values()} | set(suites))
        raise ValueError(
            f"unknown case {', '.join(unknown)}; cases: {', '.join(cases)}; groups: "
            f"{', '.join(groups)}"
        )
    return (
        [c for c in cases.values() if c.name in names or c.group in names],
        [s for s in suites.values() if s.name in names],
    )


#: Where :func:`add_arguments` keeps its parser in the namespace, for :func:`run`'s usage errors.
_PARSER = "_greenpool_bench_parser"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark options to ``parser`` (its own, or a ``bench`` subparser).

    The namespace it parses is what :func:`run` takes: ``names``, ``case``,
    ``rounds``, ``quick``, ``json``, ``markdown``, ``plot``, ``timeout`` and
    ``list``. ``parser`` is kept in it too, so that :func:`run`'s validation
    errors are ``parser``'s usage errors (exit status 2).
    """
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="cases or groups to run, as --case takes them (e.g. burst, or green)",
    )
    parser.add_argument(
        "--case",
        action="append",
        metavar="NAME",
        help="a case or group (green, thread, process, periodic, ...: see --list) to run;"
        " repeat or comma-separate; default: all",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        metavar="N",
        help=f"measure each N times and report the median (default: {DEFAULT_ROUNDS},"
        f" or {QUICK_ROUNDS} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smaller n and {QUICK_ROUNDS} round: a smoke run of about a minute, not for"
        " comparison",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="also write a Markdown table")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw the ratios (other / greenpool) as a bar chart; needs matplotlib"
        " (pip install 'greenpool[plot]')",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds one measurement may take (default: %(default)g)",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.set_defaults(**{_PARSER: parser})


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


@dataclass
class _Plan:
    """What a validated command line asks for."""

    rounds: int
    cases: dict[str, Case]
    suites: dict[str, Suite]
    selected: list[Case]
    selected_suites: list[Suite]


def _validate(args: argparse.Namespace, extra_case_modules: Sequence[str]) -> _Plan:
    """Check the command line before anything runs; a mistake is a usage error (exit 2)."""
    parser: argparse.ArgumentParser = getattr(args, _PARSER, None) or _parser()

    def usage(message: str) -> NoReturn:
        parser.error(message)

    rounds = args.rounds
    if rounds is None:
        rounds = QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS
    if rounds < 1:
        usage(f"--rounds must be at least 1, not {rounds}")
    if not args.timeout > 0:
        usage(f"--timeout must be more than 0 seconds, not {args.timeout:g}")
    cases = all_cases(extra_case_modules)
    suites = all_suites(extra_case_modules)
    wanted = [*(args.names or []), *(args.case or [])]
    try:
        selected, selected_suites = select(cases, wanted, suites)
    except ValueError as exc:
        usage(str(exc))
    for option in ("json", "markdown", "plot"):
        path = getattr(args, option)
        directory = os.path.dirname(os.path.abspath(path)) if path else None
        if directory is not None and not os.path.isdir(directory):
            usage(f"--{option} {path}: no directory {directory}")
    if args.plot and not args.list:
        from greenpool import _plotting
        from greenpool.bench import _plot

        try:
            _plotting.require()
        except _plotting.PlotUnavailable as exc:
            usage(str(exc))
        problem = _plot.unsupported(args.plot)
        if problem:
            usage(f"--plot {args.plot}: {problem}")
        if not selected:
            usage(
                "--plot draws the cases' ratios against greenpool, and "
                f"{', '.join(s.name for s in selected_suites)} has no cases"
            )
    return _Plan(rounds, cases, suites, selected, selected_suites)


def list_cases(cases: dict[str, Case], suites: dict[str, Suite]) -> None:
    """``--list``: every case (its group, title and implementations) and suite."""
    for case in cases.values():
        impls = ", ".join(case.implementations)
        print(f"{case.name:<15} [{case.group}] {case.describe(case.n)}\n{'':<16}{impls}")
    for suite in suites.values():
        print(f"{suite.name:<15} [{suite.name}] {suite.title}\n{'':<16}a suite: its own table")


def plot_title(env: dict[str, object], rounds: int, quick: bool) -> tuple[str, str]:
    """The chart's title (Python, greenpool and its commit, as the header) and subtitle."""
    versions = env["versions"]
    assert isinstance(versions, dict)
    greenpool = f"greenpool {versions['greenpool']}"
    if env["commit"]:
        greenpool += f" ({env['commit']})"
    title = f"greenpool benchmarks: {env['python_implementation']} {env['python']}, {greenpool}"
    subtitle = (
        f"median of {rounds} round{'s' if rounds != 1 else ''}, {env['cpus']} CPUs, {env['date']}"
        + ("; QUICK run (smaller n: not for comparison)" if quick else "")
    )
    return title, subtitle


def plot_groups(results: Sequence[CaseResult]) -> list[tuple[str, list[tuple[str, float]]]]:
    """Per case, every other implementation's ratio to the reference (those that exist)."""
    groups = []
    for result in results:
        reference = result.by_name(result.case.reference)
        bars = [
            (outcome.name, ratio)
            for outcome in result.outcomes
            if outcome is not reference and (ratio := result.ratio(outcome)) is not None
        ]
        groups.append((result.case.name, bars))
    return groups


def run(args: argparse.Namespace, *, extra_case_modules: Sequence[str] = ()) -> int:
    """Run what ``args`` (parsed by :func:`add_arguments`' options) asks for; the exit status.

    Everything is checked first (``--rounds``, the names, the output paths,
    matplotlib for ``--plot``): a mistake is a usage error, exit status 2,
    before anything is measured. Then 1 if a measurement failed, else 0 (a
    missed target does not change it).
    """
    plan = _validate(args, extra_case_modules)
    if args.list:
        list_cases(plan.cases, plan.suites)
        return 0
    env = environment()
    header = describe_environment(env, plan.rounds, args.quick, cases=bool(plan.selected))
    print("\n".join(header), file=sys.stderr, flush=True)
    outcomes = run_rounds(plan.selected, plan.rounds, args.quick, args.timeout, extra_case_modules)
    results = [
        CaseResult(case, case.quick_n if args.quick else case.n, outcomes[case.name])
        for case in plan.selected
    ]
    reports = [(suite, suite.run(args.quick)) for suite in plan.selected_suites]
    print(text_report(results, header, reports), flush=True)
    failed = False
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(json_report(results, env, plan.rounds, args.quick, reports), f, indent=2)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(markdown_report(results, header, reports))
    if args.plot:
        from greenpool.bench import _plot

        title, subtitle = plot_title(env, plan.rounds, args.quick)
        try:
            _plot.draw(
                args.plot, plot_groups(results), title=title, subtitle=subtitle, label=format_ratio
            )
        except OSError as exc:
            print(f"--plot: could not write {args.plot}: {exc}", file=sys.stderr)
            failed = True
    errors = [o for outcomes_ in outcomes.values() for o in outcomes_ if o.error is not None]
    suite_errors = [error for _, report in reports for error in report.errors]
    return 1 if errors or suite_errors or failed else 0


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = PROG,
    extra_case_modules: Sequence[str] = (),
) -> int:
    """The command line on a parser of its own: :func:`add_arguments`, then :func:`run`."""
    args = _parser(prog).parse_args(None if argv is None else list(argv))
    return run(args, extra_case_modules=extra_case_modules)


if __name__ == "__main__":
    sys.exit(main())
