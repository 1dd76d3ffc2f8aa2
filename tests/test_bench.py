"""The shipped benchmark runner (greenpool.bench), as a user runs it: real subprocesses.

Speed is not checked here (that is what the benchmarks are for): these run
one cheap case at its quick size, once, and check that the runner measures,
reports, draws, refuses bad command lines with a usage error before measuring
anything, and imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

#: The cheapest shipped case: greenpool, futurist and a bare raise, about 1 s in all.
CHEAP = "rejected"
RUNNER = [sys.executable, "-m", "greenpool.bench.run"]
#: A progress line, e.g. ``[2/3] rejected  futurist  0.89 µs/call  (0.3 s)``.
PROGRESS = re.compile(r"^\[\s*\d+/\d+\]", re.MULTILINE)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bench(*args: str, timeout: float = 45.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNNER, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def python(code: str, *args: str, timeout: float = 45.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def assert_usage_error(proc: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit status 2, the usage and ``message`` on stderr, and nothing measured."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("usage: "), proc.stderr
    assert message in proc.stderr, proc.stderr
    assert proc.stdout == ""
    assert not PROGRESS.search(proc.stderr), proc.stderr


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """One quick round of the cheap case, with --json and (when matplotlib is here) --plot."""
    out = tmp_path_factory.mktemp("bench")
    plot, results = out / "ratios.png", out / "results.json"
    options = ["--plot", str(plot)] if _have_matplotlib() else []
    proc = bench("--quick", "--rounds", "1", CHEAP, "--json", str(results), *options)
    return proc, plot, results


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_quick_run_reports_greenpool_and_the_ratio(
    quick_run: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    proc, _, results = quick_run
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout
    assert f"== {CHEAP}: " in table, table
    assert re.search(r"^   greenpool\s+\d[\d,.]*\s+\d", table, re.MULTILINE), table
    assert re.search(r"^   futurist / greenpool = \d+\.\d\dx$", table, re.MULTILINE), table
    assert "QUICK run" in table and "median of 1 round," in table
    # One progress line per measurement, counted: [1/3] .. [3/3].
    counts = re.findall(r"^\[(\d+)/(\d+)\] " + CHEAP, proc.stderr, re.MULTILINE)
    assert counts == [("1", "3"), ("2", "3"), ("3", "3")], proc.stderr
    data = json.loads(results.read_text())
    (case,) = data["cases"]
    greenpool = next(i for i in case["implementations"] if i["name"] == "greenpool")
    assert greenpool["status"] == "ok" and len(greenpool["samples"]) == 1
    assert data["rounds"] == 1 and data["quick"] is True


def test_plot_writes_a_png(quick_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    proc, plot, _ = quick_run
    assert proc.returncode == 0, proc.stderr
    data = plot.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000, len(data)
    width, height = struct.unpack(">II", data[16:24])  # The IHDR chunk comes first.
    assert width >= 800 and height >= 400, (width, height)


def test_plot_without_matplotlib_is_refused_before_measuring(tmp_path: Path) -> None:
    plot = tmp_path / "ratios.png"
    proc = python(
        """
        import sys

        sys.modules["matplotlib"] = None  # import matplotlib now raises ImportError.
        from greenpool.bench.run import main

        sys.exit(main(sys.argv[1:]))
        """,
        "--quick",
        "--rounds",
        "1",
        CHEAP,
        "--plot",
        str(plot),
    )
    assert_usage_error(proc, "greenpool[plot]")
    assert "matplotlib" in proc.stderr
    assert not plot.exists()


def test_list_names_the_shipped_cases() -> None:
    proc = bench("--list")
    assert proc.returncode == 0, proc.stderr
    names = re.findall(r"^(\S+)\s+\[(\w+)\]", proc.stdout, re.MULTILINE)
    assert (CHEAP, "green") in names and ("periodic-cpu", "periodic") in names, proc.stdout
    assert ("thread-burst", "thread") in names and ("process-map", "process") in names
    # The overload suite runs the repository's examples/: not shipped.
    assert "overload" not in proc.stdout


def test_the_repositorys_entry_point_adds_the_overload_suite() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"],
        capture_output=True,
        text=True,
        timeout=45,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^overload\s+\[overload\]", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(rf"^{CHEAP}\s+\[green\]", proc.stdout, re.MULTILINE)


def test_unknown_case_is_a_usage_error() -> None:
    assert_usage_error(bench("--quick", CHEAP, "no-such-case"), "unknown case no-such-case")


def test_zero_rounds_is_a_usage_error() -> None:
    assert_usage_error(bench("--quick", "--rounds", "0", CHEAP), "--rounds must be at least 1")


def test_a_subcommand_parser_carries_the_options_and_the_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What ``python -m greenpool bench`` does: add_arguments on a subparser, then run."""
    from greenpool.bench import run

    parser = argparse.ArgumentParser(prog="greenpool")
    commands = parser.add_subparsers(dest="command", required=True)
    run.add_arguments(commands.add_parser("bench"))
    args = parser.parse_args(["bench", "--quick", "--case", f"{CHEAP},nope"])
    assert args.quick and args.case == [f"{CHEAP},nope"] and args.rounds is None
    with pytest.raises(SystemExit) as exited:
        run.run(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: greenpool bench ") and "unknown case nope" in err, err


def test_extra_case_modules_reach_the_workers(tmp_path: Path) -> None:
    """A case outside the package is measured in workers, which are told its module."""
    (tmp_path / "extra_bench_cases.py").write_text(
        textwrap.dedent(
            """
            from greenpool.bench._registry import case, faster

            TINY = case("tiny", group="extra", title="{n} of nothing", unit="units", n=10,
                        quick_n=1, targets=(faster("other", 1.5),))

            @TINY.implementation("greenpool")
            def tiny_greenpool(n: int) -> float:
                return 2.0

            @TINY.implementation("other")
            def tiny_other(n: int) -> float:
                return 5.0
            """
        )
    )
    proc = python(
        """
        import sys

        sys.path.insert(0, sys.argv.pop(1))  # Here only: the workers must be told.
        from greenpool.bench.run import main

        sys.exit(main(sys.argv[1:], extra_case_modules=["extra_bench_cases"]))
        """,
        str(tmp_path),
        "--rounds",
        "2",
        "extra",
    )
    assert proc.returncode == 0, proc.stderr
    assert "other / greenpool = 2.50x" in proc.stdout, proc.stdout
    assert "targets: 1 PASS" in proc.stdout
    assert re.findall(r"^\[(\d)/4\] round (\d)/2 tiny", proc.stderr, re.MULTILINE) == [
        ("1", "1"),
        ("2", "1"),
        ("3", "2"),
        ("4", "2"),
    ], proc.stderr


def test_importing_the_package_and_listing_cases_imports_nothing_heavy() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            textwrap.dedent(
                """
                import sys
                import greenpool.bench
                import greenpool.bench.run
                from greenpool.bench import _registry

                assert _registry.all_cases() and "burst" in _registry.all_cases()
                heavy = [m for m in sys.modules if m.split(".")[0] in
                         ("eventlet", "futurist", "matplotlib")]
                assert not heavy, heavy
                print("ok")
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=45,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
