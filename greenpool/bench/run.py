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
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from greenpool.bench import _worker
from greenpool.bench._outcomes import CaseResult, Outcome, format_ratio, format_value
from greenpool.bench._plot import plot_groups, plot_title
from greenpool.bench._registry import (
    Case,
    Suite,
    all_cases,
    all_suites,
)
from greenpool.bench._report import (
    ROOT,
    describe_environment,
    environment,
    json_report,
    markdown_report,
    text_report,
)
from greenpool.bench._worker import RESULT_PREFIX

PROG = "python -m greenpool bench"
DESCRIPTION = "greenpool against futurist, eventlet, the stdlib and multiprocessing."
DEFAULT_ROUNDS = 5
#: ``--quick`` checks that everything runs, not how fast (the README says how long
#: it takes): one round unless ``--rounds`` says otherwise.
QUICK_ROUNDS = 1
DEFAULT_TIMEOUT = 600.0


# -- measuring ---------------------------------------------------------------


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
