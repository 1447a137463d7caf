"""Fixtures of the browser tests: a real `voucher-ledger serve` process loaded with the demo, tokens
from `voucher-ledger token issue`, and a real headless Chromium driven by selenium.

Chromium and its driver are Debian's (`chromium`, `chromium-driver`, installed by scripts/test);
selenium is told exactly where both are, so its manager never downloads anything. Without them the
tests skip locally and fail on CI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from service.demo import credit_code
from tests.browser import chromium
from tests.conftest import BACKENDS, postgres_admin_url
from tests.servers import cli_env, free_port, popen_cli, run_cli, scratch_database, stop_process, wait_healthy
from tests.support import BUSINESS_DATE

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "console"
ENTERPRISE = credit_code(101)  # the demo's first enterprise
OTHER_ENTERPRISE = credit_code(102)
PROVIDER = credit_code(201)  # the demo's first provider
OTHER_PROVIDER = credit_code(202)
STAFF_ROLES = ("approver", "finance", "operator", "supervisor", "auditor")
WAIT_SECONDS = 30  # generous: CI machines are shared and slow; a passing wait returns at once


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium on CI: {reason} (scripts/test installs chromium, chromium-driver)")
    pytest.skip(f"browser tests skipped: {reason}")


def require_chromium() -> None:
    reason = chromium.missing()
    if reason:
        _unavailable(reason)


@dataclass
class ConsoleServer:
    """A running server and what the tests need to know about it (tokens never leave the test)."""

    backend: str
    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # the CLI's, for tokens a test issues itself

    def url(self, path: str) -> str:
        return self.base_url + path

    def issue_token(self, role: str, subject: str) -> str:
        """A token for a subject the demo does not have (e.g. one about to register itself), also kept under
        its credit code for the helpers that take a token's name."""
        printed = _cli(self.env, "token", "issue", "--role", role, "--name", f"browser-{role}-{subject}", "--subject", subject)
        self.tokens[subject] = printed.strip().splitlines()[-1]
        return self.tokens[subject]


def _cli(env: dict[str, str], *args: str) -> str:
    return run_cli(env, *args).stdout


def _database_url(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/ledger.db"
        return
    admin = postgres_admin_url()
    assert admin is not None
    with scratch_database(admin, "vl_console") as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def console_server(request: Any) -> Iterator[ConsoleServer]:
    """`voucher-ledger demo`, tokens for every role, then `voucher-ledger serve` on a free port."""
    require_chromium()
    backend = request.param
    workdir = Path(tempfile.mkdtemp(prefix=f"vl-console-{backend}-"))
    urls = _database_url(backend, workdir)
    database_url = next(urls)
    env = cli_env(database_url, BUSINESS_DATE)  # a fixed business date: no time bomb
    _cli(env, "demo")
    server = ConsoleServer(backend=backend, base_url="", env=env)
    # One `token issue` per role, one after another (each CLI process creates the store's tables if
    # missing, and concurrent DDL races on PostgreSQL); the token is the last line each prints.
    subjects = {"enterprise": ENTERPRISE, "provider": PROVIDER}
    for role in (*STAFF_ROLES, *subjects):
        printed = _cli(env, "token", "issue", "--role", role, "--name", f"browser-{role}",
                       *(("--subject", subjects[role]) if role in subjects else ()))
        server.tokens[role] = printed.strip().splitlines()[-1]
    port = free_port()
    server.base_url = f"http://127.0.0.1:{port}"
    log = open(workdir / "server.log", "w")
    process = popen_cli(env, ["serve", "--host", "127.0.0.1", "--port", str(port)], log)
    try:
        wait_healthy(server.base_url, process, 30, lambda: (workdir / "server.log").read_text()[-2000:])
        yield server
    finally:
        stop_process(process, timeout=10)
        log.close()
        try:
            next(urls)
        except StopIteration:
            pass
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def downloads(console_server: ConsoleServer) -> Iterator[Path]:
    """A download folder per server (a file of the same name would be overwritten, not added)."""
    path = Path(tempfile.mkdtemp(prefix=f"vl-downloads-{console_server.backend}-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(console_server: ConsoleServer, downloads: Path) -> Iterator[Any]:
    """A headless Chromium from Debian's packages; selenium's manager is never asked for anything."""
    profile = tempfile.mkdtemp(prefix="vl-chromium-")
    # A second export from the same page is an "automatic download" once the click's user activation
    # has lapsed (a slow export): allow it, as a person would when Chromium asks.
    driver = chromium.start(profile, {"download.default_directory": str(downloads),
                                      "download.prompt_for_download": False,
                                      "profile.default_content_setting_values.automatic_downloads": 1,
                                      "safebrowsing.enabled": False})
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
