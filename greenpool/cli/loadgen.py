"""Open-loop HTTP load on loopback: Poisson arrivals, one green client per request, each bounded.

``python -m greenpool demo`` drives its service with this, and the
repository's load-shedding example and overload benchmark use it too.

The load is *open loop*: requests arrive at the given mean rate whatever the
server does (exponential gaps, so a Poisson process), as real users do. A
closed loop (N clients, each sending its next request when the last answer
came) slows down with the server and so can never overload it, which hides
exactly what backpressure is for.

Each request is one green thread with a fresh connection: it sends
``GET <path> HTTP/1.0``, reads the answer until the server closes, and gives
up after ``client_timeout`` seconds (a *lost* request, status 0). Latency is
measured from the request's *scheduled* arrival, not from when its green
thread got to run, so a generator that falls behind shows as latency instead
of hiding it (no coordinated omission); ``max_lag`` reports how far behind it
fell. The number of requests is capped, and the run ends once every client
has an answer or has given up, so nothing is left hanging.

The load can rise in *steps* (:class:`Step`: a rate for some seconds, one
after another). Each request names its step in its query string
(``/work?step=2``), so the server can tell the steps apart without sharing a
clock with the generator.

Run it in a process of its own, so its CPU time does not distort the
server's latency::

    python -m greenpool.cli.loadgen --port 8080 --rate 800 --seconds 5 > report.json
    python -m greenpool.cli.loadgen --port 8080 --steps 100x3,200x3,400x3 > report.json

It prints one :class:`LoadReport` as JSON (after a ``started`` line, with
``--announce``, the moment the first step begins); :func:`run_in_subprocess`
does that from Python and returns the report.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any


def _eventlet() -> Any:
    """eventlet, imported when load is generated (it warns on import that it is deprecated)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet
        import eventlet.green.socket
    return eventlet


HOST = "127.0.0.1"
#: Every request waits at most this long for its whole answer, unless told otherwise.
CLIENT_TIMEOUT = 30.0
#: Past this, a status line or header block is not an HTTP answer we understand.
MAX_ANSWER_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Answer:
    """What one request got: when it was due, how long it took, and the status."""

    #: When the request was scheduled to arrive, in seconds since the run started.
    due: float
    #: Seconds from ``due`` until the whole answer was read (or the client gave up).
    latency: float
    #: The HTTP status; 0 when no answer came (timeout, refused or reset connection).
    status: int
    #: Whether the answer carried a ``Retry-After`` header.
    retry_after: bool = False
    #: Why there was no answer, when ``status`` is 0.
    error: str = ""
    #: The index of the :class:`Step` it was sent in.
    step: int = 0

    @property
    def done(self) -> float:
        """When the answer was complete, in seconds since the run started."""
        return self.due + self.latency


@dataclasses.dataclass(frozen=True)
class Step:
    """Requests arriving at ``rate`` a second (on average) for ``seconds``."""

    rate: float
    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"a step's rate must be a finite number above 0, not {self.rate!r}")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(
                f"a step's seconds must be a finite number above 0, not {self.seconds!r}"
            )

    @classmethod
    def parse(cls, text: str) -> Step:
        """``"200x3.5"``: 200 requests a second for 3.5 seconds."""
        rate, separator, seconds = text.partition("x")
        if not separator:
            raise ValueError(f"a step is RATExSECONDS, such as 200x3.5, not {text!r}")
        return cls(float(rate), float(seconds))


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """Every request of one run, and how well the generator kept to its schedule."""

    steps: tuple[Step, ...]
    client_timeout: float
    answers: tuple[Answer, ...]
    #: The furthest behind its schedule the generator ever sent a request, in seconds.
    max_lag: float
    #: True when the request cap ended the run before ``seconds`` had passed.
    capped: bool = False
    #: The generator's CPU time over the run, as a share of one core.
    cpu_share: float = 0.0

    @property
    def seconds(self) -> float:
        """How long requests arrived: every step's seconds."""
        return sum(step.seconds for step in self.steps)

    @property
    def rate(self) -> float:
        """The mean rate over the whole schedule, requests a second."""
        return sum(step.rate * step.seconds for step in self.steps) / self.seconds

    def count(self, status: int) -> int:
        return sum(1 for answer in self.answers if answer.status == status)

    @property
    def lost(self) -> int:
        """Requests that got no answer at all (timed out, or the connection failed)."""
        return self.count(0)

    def statuses(self) -> dict[int, int]:
        """How many requests got each status (0 for no answer)."""
        counts: dict[int, int] = {}
        for answer in self.answers:
            counts[answer.status] = counts.get(answer.status, 0) + 1
        return dict(sorted(counts.items()))

    def latencies(self, status: int = 200, *, due_after: float = 0.0) -> list[float]:
        """Sorted latencies of the requests with ``status`` that were due after ``due_after``."""
        return sorted(
            answer.latency
            for answer in self.answers
            if answer.status == status and answer.due >= due_after
        )

    def completed_between(self, start: float, end: float, status: int = 200) -> int:
        """Requests with ``status`` whose answer completed within ``[start, end]``."""
        return sum(
            1 for answer in self.answers if answer.status == status and start <= answer.done <= end
        )

    def to_json(self) -> str:
        fields = dataclasses.asdict(self)
        fields["steps"] = [[step.rate, step.seconds] for step in self.steps]
        fields["answers"] = [
            [a.due, a.latency, a.status, a.retry_after, a.error, a.step] for a in self.answers
        ]
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LoadReport:
        fields = json.loads(text)
        steps = tuple(Step(rate, seconds) for rate, seconds in fields.pop("steps"))
        answers = tuple(Answer(*answer) for answer in fields.pop("answers"))
        return cls(steps=steps, answers=answers, **fields)


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.99 for p99) of ascending values; 0.0 if none."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def parse_answer(raw: bytes) -> tuple[int, bool]:
    """The status of an HTTP answer and whether it has a ``Retry-After`` header."""
    head, _, _ = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:80]!r}")
    retry_after = any(line.lower().startswith(b"retry-after:") for line in lines[1:])
    return int(parts[1]), retry_after


def request(port: int, path: str, timeout: float, host: str = HOST) -> tuple[int, bool]:
    """One ``GET path`` on a fresh connection: (status, has Retry-After). Raises on failure.

    HTTP/1.0 without keep-alive, so the server closes the connection once it
    has answered: reading until then reads the whole answer, whatever its
    framing, and the server (not this client) holds the closed connection's
    TIME_WAIT, so a long run does not use up the client's ephemeral ports.
    """
    eventlet = _eventlet()
    message = f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode("ascii")
    with eventlet.Timeout(timeout):
        connection = eventlet.green.socket.create_connection((host, port))
        try:
            connection.sendall(message)
            chunks = []
            size = 0
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise ValueError(f"answer longer than {MAX_ANSWER_BYTES} bytes")
        finally:
            connection.close()
    return parse_answer(b"".join(chunks))


def generate_steps(
    port: int,
    steps: Sequence[Step],
    *,
    path: str = "/work",
    client_timeout: float = CLIENT_TIMEOUT,
    max_requests: int | None = None,
    seed: int | None = None,
    host: str = HOST,
    on_start: Callable[[], None] | None = None,
) -> LoadReport:
    """Send Poisson arrivals at each step's rate for its seconds, in turn; wait for every answer.

    Call it from a green thread (the main thread is one). Each request's
    path gets ``?step=K`` (``&step=K`` if it has a query already), K the
    step's index. ``max_requests`` caps the number of requests (by default
    1.5 times the expected number, plus 100, far beyond what a Poisson
    process reaches); ``seed`` makes the arrival times repeatable;
    ``on_start`` is called just before the first step begins. Returns once
    every request has been answered or has given up after
    ``client_timeout``, so within the steps' seconds plus ``client_timeout``
    and a little.
    """
    eventlet = _eventlet()
    steps = tuple(steps)
    if not steps:
        raise ValueError("at least one step is needed")
    if not (math.isfinite(client_timeout) and client_timeout > 0):
        raise ValueError(f"client_timeout must be a finite number above 0, not {client_timeout!r}")
    if max_requests is None:
        max_requests = math.ceil(1.5 * sum(s.rate * s.seconds for s in steps)) + 100
    arrivals = random.Random(seed)
    answers: list[Answer] = []
    clients = eventlet.GreenPool(max_requests)  # Never full: spawning never waits.
    clock = time.monotonic
    joiner = "&" if "?" in path else "?"

    def client(due: float, due_at: float, step: int) -> None:
        status, retry_after, error = 0, False, ""
        try:
            status, retry_after = request(port, f"{path}{joiner}step={step}", client_timeout, host)
        except eventlet.Timeout:
            error = f"no answer within {client_timeout:g} s"
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        answers.append(Answer(due, clock() - due_at, status, retry_after, error, step))

    if on_start is not None:
        on_start()
    start = clock()
    cpu_at_start = time.process_time()
    sent = 0
    max_lag = 0.0
    capped = False
    step_start = 0.0
    for index, step in enumerate(steps):
        step_end = step_start + step.seconds
        due = step_start + arrivals.expovariate(step.rate)
        while due < step_end and sent < max_requests:
            due_at = start + due
            delay = due_at - clock()
            if delay > 0:
                eventlet.sleep(delay)
            lag = clock() - due_at
            if lag > max_lag:
                max_lag = lag
            clients.spawn_n(client, due, due_at, index)
            sent += 1
            due += arrivals.expovariate(step.rate)
        if due < step_end:
            capped = True
            break
        step_start = step_end
    clients.waitall()
    cpu_share = (time.process_time() - cpu_at_start) / (clock() - start)
    answers.sort(key=lambda answer: answer.due)
    return LoadReport(steps, client_timeout, tuple(answers), max_lag, capped, cpu_share)


def command(
    port: int,
    *,
    steps: Sequence[Step],
    path: str = "/work",
    client_timeout: float = CLIENT_TIMEOUT,
    seed: int | None = None,
    announce: bool = False,
) -> list[str]:
    """The command line that runs :func:`generate_steps` in a fresh interpreter."""
    schedule = ",".join(f"{step.rate!r}x{step.seconds!r}" for step in steps)
    arguments = [sys.executable, "-m", "greenpool.cli.loadgen", "--port", str(port)]
    arguments += ["--steps", schedule, "--path", path, "--timeout", repr(client_timeout)]
    if seed is not None:
        arguments += ["--seed", str(seed)]
    if announce:
        arguments.append("--announce")
    return arguments


def run_in_subprocess(
    port: int,
    *,
    rate: float,
    seconds: float,
    path: str = "/work",
    client_timeout: float = CLIENT_TIMEOUT,
    seed: int | None = None,
) -> LoadReport:
    """Run one step of :func:`generate_steps` in a process of its own; return its report.

    The process is killed if it outlives every request's timeout by a wide
    margin (it cannot, unless the machine stalls), so this always returns
    or raises.
    """
    arguments = command(
        port, steps=[Step(rate, seconds)], path=path, client_timeout=client_timeout, seed=seed
    )
    done = subprocess.run(
        arguments, capture_output=True, text=True, timeout=seconds + client_timeout + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed ({done.returncode}):\n{done.stderr}")
    return LoadReport.from_json(done.stdout)


def _steps(text: str) -> tuple[Step, ...]:
    try:
        return tuple(Step.parse(part) for part in text.split(",") if part)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m greenpool.cli.loadgen", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--port", type=int, required=True, help="the server's port on 127.0.0.1")
    load = parser.add_mutually_exclusive_group(required=True)
    load.add_argument("--rate", type=float, help="mean requests per second (with --seconds)")
    load.add_argument(
        "--steps", type=_steps, help="RATExSECONDS,...: rising load, such as 100x3,200x3"
    )
    parser.add_argument("--seconds", type=float, help="how long requests arrive, with --rate")
    parser.add_argument("--path", default="/work", help="the path to GET (default: %(default)s)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=CLIENT_TIMEOUT,
        help="seconds each request waits for its answer (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="repeatable arrival times")
    parser.add_argument(
        "--announce", action="store_true", help="print a 'started' line as the first step begins"
    )
    args = parser.parse_args(argv)
    if args.rate is not None:
        if args.seconds is None:
            parser.error("--rate needs --seconds")
        try:
            steps: tuple[Step, ...] = (Step(args.rate, args.seconds),)
        except ValueError as exc:
            parser.error(str(exc))
    else:
        if args.seconds is not None:
            parser.error("--seconds goes with --rate; each step has its own")
        steps = args.steps
        if not steps:
            parser.error("--steps needs at least one step")

    def announce() -> None:
        print("started", flush=True)

    report = generate_steps(
        args.port,
        steps,
        path=args.path,
        client_timeout=args.timeout,
        seed=args.seed,
        on_start=announce if args.announce else None,
    )
    print(report.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
