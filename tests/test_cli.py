"""``python -m greenpool`` run as a subprocess, as a user runs it: help, usage errors, demo, bench.

The demo runs for real (an eventlet WSGI server on 127.0.0.1, the load
generator in a process of its own) with ``--seconds 2`` or ``3``, and its
output is read as a user would: the table's rows, the summary's verdict for
each load step, and the cross-check of the statistics against the clients.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STEPS = ("0.5x", "1x", "2x", "4x")


def greenpool_cli(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenpool", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def without_matplotlib(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m greenpool ARGS`` in an interpreter where ``import matplotlib`` fails."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from greenpool.cli import main\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def table_rows(stdout: str) -> list[list[str]]:
    """The demo table's rows (after its header line), each split into its 13 cells."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("time "))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def verdicts(stdout: str) -> dict[str, str]:
    """Each load step's "limited by ..." text from the demo's summary, by step label."""
    summary = stdout[stdout.index("What limited throughput") :].splitlines()[1:]
    found: dict[str, str] = {}
    step = None
    for line in summary:
        match = re.match(r"\s+(\S+x)\s+offered ", line)
        if match:
            step = match.group(1)
            found[step] = ""
        elif line.startswith(" ") and step is not None:
            found[step] = f"{found[step]} {line.strip()}".strip()
        else:
            break
    return {step: text.partition("limited by ")[2] for step, text in found.items()}


# -- help and usage errors ---------------------------------------------------


@pytest.mark.core
def test_help_lists_both_commands() -> None:
    done = greenpool_cli("--help")
    assert done.returncode == 0, done.stderr
    assert "demo" in done.stdout and "bench" in done.stdout


@pytest.mark.core
@pytest.mark.parametrize("command", ["demo", "bench"])
def test_each_command_has_help(command: str) -> None:
    done = greenpool_cli(command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--plot" in done.stdout
    if command == "demo":
        for option in ("--seconds", "--policy", "--workers"):
            assert option in done.stdout
    else:
        assert "--quick" in done.stdout


@pytest.mark.core
@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["--frobnicate"],
        ["demo", "--seconds", "0"],
        ["demo", "--seconds", "1"],
        ["demo", "--seconds", "nan"],
        ["demo", "--seconds", "soon"],
        ["demo", "--workers", "0"],
        ["demo", "--workers", "1.5"],
        ["demo", "--workers", "1001"],
        ["demo", "--policy", "nosuch"],
        ["demo", "--plot", "/nonexistent-directory/chart.png"],
        ["demo", "--plot", "chart.txt"],
        ["demo", "extra"],
        ["bench", "--rounds", "0"],
        ["bench", "--frobnicate"],
    ],
    ids=" ".join,
)
def test_a_usage_error_prints_usage_and_exits_2_before_running(args: list[str]) -> None:
    done = greenpool_cli(*args, timeout=30)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "usage:" in done.stderr
    assert "greenpool demo:" not in done.stdout  # Nothing ran.
    assert "BENCHMARK" not in done.stdout


@pytest.mark.core
def test_parsing_a_command_imports_neither_eventlet_nor_matplotlib() -> None:
    """``--help`` and usage errors are immediate: the demo's and bench's parts load to run."""
    code = (
        "import sys\n"
        "from greenpool.cli import _parser\n"
        "_parser().parse_args(['demo', '--seconds', '3'])\n"
        "_parser().parse_args(['bench', '--quick'])\n"
        "loaded = [m for m in ('eventlet', 'matplotlib', 'futurist') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", ["demo", "bench"])
def test_plot_without_matplotlib_exits_2_naming_the_extra(command: str, tmp_path) -> None:
    chart = tmp_path / "chart.png"
    done = without_matplotlib(command, "--plot", str(chart))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "greenpool[plot]" in done.stderr
    assert not chart.exists()
    assert "greenpool demo:" not in done.stdout


# -- bench -------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_bench_quick_on_one_case_prints_medians_ratios_and_progress(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "greenpool", "bench", "--quick", "rejected"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,  # Outside the checkout: what an installed greenpool runs.
    )
    assert done.returncode == 0, done.stderr
    assert "== rejected:" in done.stdout
    assert re.search(r"^\s+greenpool\s+\d+\.\d+", done.stdout, re.M), done.stdout
    assert re.search(r"futurist / greenpool = \d+\.\d+x", done.stdout), done.stdout
    assert re.search(r"^\[1/\d+\] rejected", done.stderr, re.M), done.stderr


# -- the demo ----------------------------------------------------------------


@pytest.mark.core
@pytest.mark.serial  # Its verdicts judge the load it makes: alone, not beside other tests.
@pytest.mark.timeout(90)
def test_demo_runs_its_steps_and_says_what_limited_each() -> None:
    done = greenpool_cli("demo", "--seconds", "3")
    assert done.returncode == 0, (done.stdout, done.stderr)
    out = done.stdout
    assert "\x1b[" not in out  # Piped: a line per second, no redrawing.
    assert "GreenThreadPoolExecutor(max_workers=10, check_and_reject=codel())" in out
    rows = table_rows(out)
    assert len(rows) >= 3
    assert all(len(cells) == 13 for cells in rows), rows
    # Steps of 0.75 s: a row at the end of each (none spans two), then any drain.
    assert [cells[1] for cells in rows[:4]] == list(STEPS), rows
    assert {cells[1] for cells in rows[4:]} <= {"drain"}, rows
    times = [float(cells[0].removesuffix("s")) for cells in rows]
    assert times == sorted(times) and abs(times[3] - 3.0) < 0.2, times
    found = verdicts(out)
    assert list(found) == list(STEPS), out
    # Half the capacity: served without a limit. Four times it, with 10 workers
    # and a downstream of 20 slots: the pool's max_workers, and codel refused.
    assert found["0.5x"].startswith("nothing"), found
    assert found["4x"].startswith("the pool's max_workers=10"), found
    assert "codel() refused" in found["4x"], found
    assert "0 lost" in out
    assert "agree with every client's answer" in out
    assert "DISAGREE" not in out


@pytest.mark.timeout(90)
def test_demo_without_a_policy_queues_instead_of_refusing() -> None:
    done = greenpool_cli("demo", "--seconds", "2", "--policy", "none", "--workers", "5")
    assert done.returncode == 0, (done.stdout, done.stderr)
    found = verdicts(done.stdout)
    assert "with no policy" in found["4x"], found
    assert " 0 503 " in done.stdout.replace(",", "")
    assert "agree with every client's answer" in done.stdout


@pytest.mark.timeout(90)
@pytest.mark.parametrize("policy", ["adaptive", "reject", "block"])
def test_demo_runs_each_policy(policy: str) -> None:
    done = greenpool_cli("demo", "--seconds", "2", "--policy", policy, "--workers", "4")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert list(verdicts(done.stdout)) == list(STEPS)
    assert "agree with every client's answer" in done.stdout


@pytest.mark.timeout(90)
def test_demo_plot_writes_a_png(tmp_path) -> None:
    chart = tmp_path / "demo.png"
    done = greenpool_cli("demo", "--seconds", "2", "--plot", str(chart))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert f"chart written to {chart}" in done.stdout
    data = chart.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000


@pytest.mark.timeout(90)
def test_demo_on_a_terminal_redraws_the_table_in_place() -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "greenpool", "demo", "--seconds", "2"],
        stdout=terminal,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + 80
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # The terminal closed: the demo has exited.
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        assert process.wait(timeout=10) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
        if process.stderr is not None:
            process.stderr.close()
    text = output.decode(errors="replace")
    # Cursor up over what was drawn, and clear to the end, before each redraw.
    assert re.search(r"\x1b\[\d+F\x1b\[J", text), text
    assert "What limited throughput" in text
