"""Real processes for the load and crash tests, on loopback only: `voucher-ledger serve`, `voucher-ledger
projections run`, and a throwaway PostgreSQL cluster of our own (scripts/start-postgres) that a test
may stop and start under load. Every process started here is stopped by the object that started it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.hardening.cli import popen_cli, run_cli
from tests.servers import ROOT, free_port, get_json, stop_process, wait_healthy


def send_json(url: str, method: str, token: str, body: Any = None, headers: dict[str, str] | None = None,
              timeout: float = 30) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Process:
    """A `voucher-ledger` subcommand run as its own process group, its output in a log file."""

    def __init__(self, database_url: str, args: list[str], log_path: Path, **env: str) -> None:
        self.database_url = database_url
        self.args = args
        self.log_path = log_path
        self.env = env
        self.popen: subprocess.Popen | None = None
        self.kills = 0

    def start(self, migrate: bool = True) -> "Process":
        """Start it; first `voucher-ledger migrate` (a no-op when current), as an operator deploys."""
        assert self.popen is None or self.popen.poll() is not None, "already running"
        if migrate:
            run_cli(self.database_url, "migrate", timeout=120)
        self.popen = popen_cli(self.database_url, self.args, self.log_path, **self.env)
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL: no cleanup, no flush, open transactions die with the connection."""
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        stop_process(self.popen, timeout=10, group=True)

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""


class Server(Process):
    """`voucher-ledger serve` on a free loopback port."""

    def __init__(self, database_url: str, log_path: Path, *, projections: bool = False, threads: int = 8,
                 port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--threads", str(threads)]
        super().__init__(database_url, args + ([] if projections else ["--no-projections"]), log_path, **env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self, timeout: float = 5) -> tuple[int, dict[str, Any]]:
        return get_json(self.url + "/healthz", timeout=timeout)

    def wait_healthy(self, timeout: float = 60) -> dict[str, Any]:
        return wait_healthy(self.url, self.popen, timeout, lambda: self.log()[-3000:])


class Projections(Process):
    """`voucher-ledger projections run`: follows the log for web workers that do not."""

    def __init__(self, database_url: str, log_path: Path, interval: float = 0.05, **env: str) -> None:
        super().__init__(database_url, ["projections", "run", "--interval", str(interval)], log_path, **env)


class PostgresCluster:
    """A throwaway cluster of our own (scripts/start-postgres), so a test may stop and start it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = ""

    def start(self, *, durable: bool = False) -> "PostgresCluster":
        flags = ["--durable"] if durable else []
        result = subprocess.run([str(ROOT / "scripts" / "start-postgres"), *flags, str(self.directory)],
                                capture_output=True, text=True, timeout=180)
        if result.returncode != 0:
            raise AssertionError(f"start-postgres failed: {result.stderr[-2000:]}")
        self.url = result.stdout.strip().splitlines()[-1]
        return self

    @property
    def port(self) -> str:
        return self.url.rsplit(":", 1)[1].split("/")[0]

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def _pg_ctl(self, *args: str) -> None:
        bindir = _bindir()
        command = [str(bindir / "pg_ctl"), "-D", str(self.directory / "data"), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as scripts/start-postgres does
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60, cwd=str(self.directory))

    def stop_server(self) -> None:
        """Stop the server (fast: open transactions rolled back, clients disconnected); data kept."""
        self._pg_ctl("-s", "-w", "-t", "30", "-m", "fast", "stop")

    def start_server(self) -> None:
        self._pg_ctl("-l", str(self.directory / "postgres.log"), "-o", f"-p {self.port}", "-s", "-w", "-t", "60",
                     "start")

    def destroy(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "start-postgres"), "--stop", str(self.directory)],
                       capture_output=True, timeout=120)


def _bindir() -> Path:
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "pg_ctl").exists():
        return preferred
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0, reverse=True)
    if not candidates:
        raise AssertionError("no PostgreSQL server binaries found")
    return candidates[0].parent
