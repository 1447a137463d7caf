"""A real server process for the HTTP measurements: `voucher-ledger serve` (waitress), and a client.

The server runs on the store the bench generated, on a free loopback port (started and stopped by the
process helpers shared with the tests, tests/servers.py); its resident memory is read from
/proc/PID/status (VmRSS now, VmHWM the peak so far).

On PostgreSQL the bench runs what docs/deployment.md deploys: servers started with `--no-projections`
and one `voucher-ledger projections run` process (`Follower`) keeping the read models for all of them.
Measured on the first bench of this topology (scale 0.02, the same two cores): one server following
the log in a thread of its own signed 76/s over HTTP, the same server without that thread 99/s (the
thread's catch-up after every command competes for the request's interpreter lock).
"""

from __future__ import annotations

import http.client
import json
import subprocess
from typing import Any

from tests.servers import cli_env, free_port, popen_cli, run_cli, stop_process, wait_healthy


class Server:
    """`voucher-ledger serve` on LEDGER_DATABASE_URL=url, started and stopped by the bench."""

    def __init__(self, url: str, log_path: str, threads: int = 8, access_log: str | None = None,
                 follow: bool = True) -> None:
        self.url = url
        self.follow = follow  # False: `--no-projections`, a `Follower` process keeps the read models
        self.access_log = access_log  # the server's access log (one JSON line per request), if wanted
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
        env = cli_env(self.url)
        self._log = open(self.log_path, "ab")
        # The generated store's tables exist; `migrate` records their version, which `serve` checks.
        self._log.write(run_cli(env, "migrate", timeout=timeout).stdout.encode())
        self._log.flush()
        self.process = popen_cli(env, ["serve", "--host", "127.0.0.1", "--port", str(self.port),
                                       "--threads", str(self.threads),
                                       *(("--access-log", self.access_log) if self.access_log else ()),
                                       *(() if self.follow else ("--no-projections",))], self._log)
        wait_healthy(f"http://127.0.0.1:{self.port}", self.process, timeout, lambda: f"see {self.log_path}")

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process, timeout=20)
        self.process = None
        self._log.close()

    def reset_peak_memory(self) -> bool:
        """Start the server's VmHWM afresh from its resident size now (Linux: `5` to /proc/PID/clear_refs),
        so a later peak is a stage's own and not start-up's; False where the kernel does not allow it."""
        assert self.process is not None
        try:
            with open(f"/proc/{self.process.pid}/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")
        except OSError:
            return False
        return True

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


class Follower:
    """`voucher-ledger projections run`: the one process that follows the log for `--no-projections` servers."""

    def __init__(self, url: str, log_path: str) -> None:
        self.url = url
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Follower":
        env = cli_env(self.url)
        self._log = open(self.log_path, "ab")
        # `projections run` refuses a store whose schema is not current: migrate first, as `Server` does.
        self._log.write(run_cli(env, "migrate", timeout=600).stdout.encode())
        self._log.flush()
        self.process = popen_cli(env, ["projections", "run"], self._log)
        return self

    def check(self) -> None:
        """Raise if the follower has exited (its figures would be a server's own catch-up, not its)."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"projections run exited with status {self.process.returncode}: see {self.log_path}")

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=20)
            self.process = None
        self._log.close()


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
