"""The one support module for real processes and scratch stores: free loopback ports, the `voucher-ledger`
command run as a process (one-off or long-running), waiting for a server's /healthz, stopping a process,
and a scratch PostgreSQL database. The e2e, hardening, browser and bench tests and the bench harness
(bench/server.py, bench/run.py) all use these; nothing here imports the ledger, so the bench can too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

# The checkout the tests run from: a process started here imports the same code (PYTHONPATH).
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def voucher_ledger_command() -> list[str]:
    """The installed console script beside this interpreter, else the module run directly."""
    script = Path(sys.executable).parent / "voucher-ledger"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def cli_env(database_url: str, business_date: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a `voucher-ledger` process on `database_url`, importing this checkout's code;
    `business_date` fixes LEDGER_BUSINESS_DATE (tests pin it inside their year: no time bomb)."""
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **extra}
    if business_date:
        env["LEDGER_BUSINESS_DATE"] = business_date
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """`voucher-ledger ARGS` to completion, its output captured; a failure raises unless `check` is off."""
    result = subprocess.run([*voucher_ledger_command(), *args], env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"voucher-ledger {' '.join(args)} exited {result.returncode}: {result.stderr[-3000:]}")
    return result


def popen_cli(env: dict[str, str], args: Sequence[str], log: Any, *, new_session: bool = False) -> subprocess.Popen:
    """A long-running `voucher-ledger` process (serve, projections run), its output to the open file `log`."""
    return subprocess.Popen([*voucher_ledger_command(), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=new_session)


def get_json(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_healthy(base_url: str, process: subprocess.Popen | None, timeout: float,
                 describe: Callable[[], str] = lambda: "") -> dict[str, Any]:
    """Poll `base_url`/healthz until it answers 200 (its body) or `process` exits; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited {process.returncode}:\n{describe()}")
        try:
            status, body = get_json(base_url + "/healthz", timeout=2)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server at {base_url} did not answer /healthz within {timeout}s:\n{describe()}")


def stop_process(process: subprocess.Popen | None, timeout: float = 15, *, group: bool = False) -> None:
    """SIGTERM (to its process group when it has its own), then SIGKILL after `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    if group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=timeout)


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "vl") -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `admin_url` (its URL), dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


class WebhookReceiver:
    """A real HTTP server on a loopback port recording every POST (headers, body) it receives, for the
    webhook tests; `statuses` are answered in turn (then 200), `delay` seconds before each answer."""

    def __init__(self, statuses: Sequence[int] = (), delay: float = 0.0) -> None:
        import http.server
        import threading

        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses)
        self.delay = delay
        self.answered: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.answered.append(status)
                if 200 <= status < 300:
                    receiver.received.append((dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def positions(self) -> list[int]:
        return [json.loads(body)["position"] for _, body in self.received]
