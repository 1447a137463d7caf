"""A real server process for the HTTP measurements: `voucher-ledger serve` (waitress), and a client.

The server runs on the store the bench generated, on a free loopback port; its resident memory
is read from /proc/PID/status (VmRSS now, VmHWM the peak so far).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command() -> list[str]:
    """The installed `voucher-ledger` beside this interpreter, else the same module run directly."""
    script = Path(sys.executable).with_name("voucher-ledger")
    if script.exists():
        return [str(script), "serve"]
    found = shutil.which("voucher-ledger")
    return [found, "serve"] if found else [sys.executable, "-m", "service.cli", "serve"]


class Server:
    """`voucher-ledger serve` on LEDGER_DATABASE_URL=url, started and stopped by the bench."""

    def __init__(self, url: str, log_path: str, threads: int = 8) -> None:
        self.url = url
        self.port = free_port()
        self.log_path = log_path
        self.threads = threads
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, timeout: float = 600.0) -> None:
        env = {**os.environ, "LEDGER_DATABASE_URL": self.url}
        self._log = open(self.log_path, "ab")
        # The generated store's tables exist; `migrate` records their version, which `serve` checks.
        subprocess.run([*serve_command()[:-1], "migrate"], env=env, stdout=self._log, stderr=subprocess.STDOUT,
                       check=True, timeout=timeout)
        self.process = subprocess.Popen(
            [*serve_command(), "--host", "127.0.0.1", "--port", str(self.port), "--threads", str(self.threads)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"voucher-ledger serve exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _ = Client(self.port).get("/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"voucher-ledger serve did not answer /healthz in {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        self._log.close()

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM of the server process, in kB."""
        assert self.process is not None
        figures = {}
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    figures[name] = int(value.split()[0])
        return figures


class Client:
    """One keep-alive HTTP/1.1 connection to the server; answers (status, body bytes)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, ConnectionError):
            # The server closed an idle keep-alive connection: reconnect once.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        return response.status, response.read()

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        return self.request("GET", path, token=token)

    def post(self, path: str, body: Any = None, token: str | None = None) -> tuple[int, bytes]:
        return self.request("POST", path, body=body if body is not None else {}, token=token)

    def stream(self, path: str, chunk: int = 1 << 16, token: str | None = None) -> Any:
        """Send a GET and return the response to read incrementally."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        self.conn.request("GET", path, headers=headers)
        return self.conn.getresponse()

    def close(self) -> None:
        self.conn.close()
