"""The HTTP stack's own floor: a bare Flask app under waitress, measured by the bench's own client.

    python -m bench.http_floor --port PORT        (started by the bench, as `serve` is)

One route, `GET /floor`, answers a small JSON body with no database, no authentication and no schema:
what the served queries cannot go below on this machine whatever our code does (issue 21's query
targets are p50 ≤ 1 ms). Same waitress options and thread count as `voucher-ledger serve`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from bench.timing import Latencies

PATH = "/floor"


def app() -> Any:
    from flask import Flask, jsonify

    flask_app = Flask("bench-http-floor")

    @flask_app.get(PATH)
    def floor() -> Any:
        return jsonify({"voucher_id": "00000000-0000-0000-0000-000000000000", "available": "10000.00"})

    return flask_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_floor")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    from waitress import serve

    serve(app(), host="127.0.0.1", port=args.port, threads=args.threads, ident="bench-http-floor",
          max_request_body_size=2 * 1024 * 1024, channel_timeout=60, _quiet=True)
    return 0


def measure(samples: int, warm_up: int = 10) -> dict[str, Any]:
    """p50/p99 of `GET /floor` from one keep-alive client, in sequence (as the query figures are)."""
    from bench.server import Client
    from tests.servers import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.http_floor", "--port", str(port)],
                               cwd=Path(__file__).resolve().parents[1])
    try:
        client = Client(port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.get(PATH)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
                client = Client(port)
        for _ in range(warm_up):
            client.get(PATH)
        latencies = Latencies()
        started = time.perf_counter()
        for _ in range(samples):
            latencies.time(lambda: client.get(PATH))
        latencies.elapsed = time.perf_counter() - started
        client.close()
        return latencies.summary()
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
