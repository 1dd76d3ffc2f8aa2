"""Submit IO work to a green pool, refuse work under load, and read the statistics.

Starts a small eventlet WSGI server on 127.0.0.1, fetches from it through a
GreenThreadPoolExecutor that rejects submissions once 20 calls are waiting
for a worker, and prints what the executor saw.
"""

from __future__ import annotations

import json
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # Before eventlet loads.

import eventlet  # noqa: E402
from eventlet import wsgi  # noqa: E402
from eventlet.green.urllib import request  # noqa: E402

import greenpool  # noqa: E402
from greenpool.rejection import reject_when_reached  # noqa: E402


def slow_app(environ: dict[str, object], start_response: object) -> list[bytes]:
    eventlet.sleep(0.05)  # Pretend to be a slow backend.
    start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
    return [b"hello"]


def fetch(url: str) -> int:
    with request.urlopen(url, timeout=5) as response:
        return len(response.read())


def main() -> None:
    listener = eventlet.listen(("127.0.0.1", 0))
    server = eventlet.spawn(wsgi.server, listener, slow_app, log_output=False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"

    executor = greenpool.GreenThreadPoolExecutor(
        max_workers=10, check_and_reject=reject_when_reached(20), name="fetchers"
    )
    futures, refused = [], 0
    with executor:
        for _ in range(50):  # 10 run at once, 20 may wait, the rest are refused.
            try:
                futures.append(executor.submit(fetch, url))
            except greenpool.RejectedSubmission:
                refused += 1
        sizes = [future.result() for future in futures]

    stats = executor.statistics
    print(f"fetched {len(sizes)} pages, refused {refused} submissions")
    print(
        f"average run {stats.average_runtime * 1000:.1f} ms, "
        f"average wait for a worker {stats.average_wait_time * 1000:.1f} ms, "
        f"p99 run {stats.runtime_p99 * 1000:.1f} ms"
    )
    print(json.dumps(stats.as_dict(), indent=2))
    assert stats.submitted == stats.executed + stats.cancelled + stats.pending + stats.running
    server.kill()


if __name__ == "__main__":
    main()
