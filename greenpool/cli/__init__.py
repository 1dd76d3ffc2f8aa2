"""``python -m greenpool``: the demo and the benchmarks, from the command line.

``demo`` shows in about fifteen seconds what greenpool is for: a green
service under rising load, its executor's statistics live, and what limited
its throughput (:mod:`greenpool.cli._demo`). ``bench`` runs the side-by-side
benchmarks against whichever of futurist, eventlet, the stdlib and
multiprocessing are installed (:mod:`greenpool.bench`).

Importing this package imports only :mod:`argparse`: a command's modules,
and eventlet with them, load when it runs, so ``--help`` and a usage error
are immediate. A usage error (an unknown command, a bad argument, ``--plot``
without matplotlib) prints the usage and exits 2 before anything runs.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence

PROG = "python -m greenpool"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and 2.0 <= value <= 3600.0):
        raise argparse.ArgumentTypeError(f"must be between 2 and 3600 seconds, not {text}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, not {value}")
    return value


def _check_plot(parser: argparse.ArgumentParser, path: str | None) -> None:
    """Refuse ``--plot`` now, not after the run, if the chart could not be written."""
    if path is None:
        return
    from greenpool import _plotting

    try:
        _plotting.require()
    except _plotting.PlotUnavailable as exc:
        parser.error(str(exc))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        parser.error(f"--plot: no such directory: {directory}")
    if not path.lower().endswith(".png"):
        parser.error(f"--plot writes a PNG: give a FILE.png, not {path!r}")


def _parser() -> argparse.ArgumentParser:
    from greenpool.bench import run as bench

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="greenpool's demo and benchmarks.",
        epilog=f"'{PROG} COMMAND --help' describes each command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = commands.add_parser(
        "demo",
        help="a green service under rising load, its statistics live (about 15 s)",
        description="An eventlet WSGI service on 127.0.0.1 under rising load (below, at and"
        " well above its capacity) from a built-in load generator, through a"
        " GreenThreadPoolExecutor with a rejection policy. A table of the executor's"
        " statistics refreshes each second; a summary says what limited throughput at each"
        " load step.",
    )
    from greenpool.cli._demo import DEFAULT_SECONDS, DEFAULT_WORKERS, POLICIES

    demo.add_argument(
        "--seconds",
        type=_seconds,
        default=DEFAULT_SECONDS,
        metavar="N",
        help="how long the load lasts, 2 to 3600 (default: %(default)g)",
    )
    demo.add_argument(
        "--policy",
        choices=list(POLICIES),
        default=next(iter(POLICIES)),
        help="the rejection policy (default: %(default)s)",
    )
    demo.add_argument(
        "--workers",
        type=_workers,
        default=DEFAULT_WORKERS,
        metavar="N",
        help="the executor's max_workers, 1 to 1000 (default: %(default)s)",
    )
    demo.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also write a chart of load, refusals and latency (needs greenpool[plot])",
    )
    demo.set_defaults(demo_parser=demo)  # Its usage errors show the demo's usage.
    bench_parser = commands.add_parser(
        "bench",
        help="greenpool against futurist, eventlet, the stdlib and multiprocessing",
        description="Run the benchmarks against whichever of futurist, eventlet's GreenPool,"
        " the stdlib executors and multiprocessing are installed, each measurement in a fresh"
        " interpreter, and print the medians and ratios. Progress goes to stderr.",
    )
    bench.add_arguments(bench_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m greenpool`` with ``argv`` (the process's arguments by default)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        _check_plot(args.demo_parser, args.plot)
        from greenpool.cli._demo import DemoConfig, run_demo

        config = DemoConfig(
            seconds=args.seconds, policy=args.policy, workers=args.workers, plot=args.plot
        )
        return run_demo(config)
    from greenpool.bench import run as bench

    return bench.run(args)  # It checks its own arguments (--plot too) before measuring.
