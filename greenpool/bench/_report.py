"""The run's reports: the environment header, the text table, Markdown and JSON.

Every figure printed comes from :mod:`greenpool.bench._outcomes`; this
module only lays it out (the text table for the terminal, the Markdown
tables the README pastes as they are, every sample as JSON).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata

from greenpool.bench._outcomes import (
    CaseResult,
    format_ratio,
    format_value,
    implementation_label,
)
from greenpool.bench._registry import Suite, SuiteReport

#: The directory this greenpool is imported from: a checkout's root, or site-packages.
#: Workers start there, so that ``python -m`` finds this same greenpool first.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERSIONED = ("greenpool", "futurist", "eventlet", "greenlet")


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
