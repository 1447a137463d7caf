"""Running the `voucher-ledger` command as a separate process, the way an operator would, on the worlds'
business date (the process helpers themselves are tests/servers.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Sequence

from tests import servers
from tests.support import BUSINESS_DATE


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    # A fixed business date inside the worlds' year (tests/support.py): no time bomb in the suite.
    return servers.cli_env(database_url, BUSINESS_DATE, **extra)


def run_cli(database_url: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    return servers.run_cli(cli_env(database_url), *args, timeout=timeout, check=check)


def issue_token(database_url: str, role: str, *extra: str) -> tuple[str, str]:
    """(credential id, token) from `voucher-ledger token issue`: the token alone on the last line."""
    result = run_cli(database_url, "token", "issue", "--role", role, *extra)
    lines = result.stdout.strip().splitlines()
    credential = lines[0].rsplit("credential=", 1)[1].strip()
    return credential, lines[-1].strip()


def popen_cli(database_url: str, args: Sequence[str], log_path: Path, **extra_env: str) -> subprocess.Popen:
    """Start a long-running `voucher-ledger` process (serve, projections run), its output to a file."""
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process by the caller's stop()
    return servers.popen_cli(cli_env(database_url, **extra_env), args, log, new_session=True)
