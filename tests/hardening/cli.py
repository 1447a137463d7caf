"""Running the `voucher-ledger` command as a separate process, the way an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from tests.support import BUSINESS_DATE


def voucher_ledger_command() -> list[str]:
    """The installed console script beside this interpreter, else the module."""
    script = Path(sys.executable).parent / "voucher-ledger"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    # A fixed business date inside the worlds' year (tests/support.py): no time bomb in the suite.
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
           "LEDGER_BUSINESS_DATE": BUSINESS_DATE, **extra}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_cli(database_url: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*voucher_ledger_command(), *args], env=cli_env(database_url), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"voucher-ledger {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def issue_token(database_url: str, role: str, *extra: str) -> tuple[str, str]:
    """(credential id, token) from `voucher-ledger token issue`: the token alone on the last line."""
    result = run_cli(database_url, "token", "issue", "--role", role, *extra)
    lines = result.stdout.strip().splitlines()
    credential = lines[0].rsplit("credential=", 1)[1].strip()
    return credential, lines[-1].strip()


def popen_cli(database_url: str, args: Sequence[str], log_path: Path, **extra_env: str) -> subprocess.Popen:
    """Start a long-running `voucher-ledger` process (serve, projections run), its output to a file."""
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process by the caller's stop()
    return subprocess.Popen([*voucher_ledger_command(), *args], env=cli_env(database_url, **extra_env),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
