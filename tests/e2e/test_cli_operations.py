"""The command line as an operator meets it (issue 20): every mistake is one Chinese-first line and a
documented exit code, never a traceback; `--version`, `token list`, `close-year --dry-run` and its
confirmation, amounts in yuan, and `demo` refusing a year it could not load whole. Each runs the real
`voucher-ledger` process on the store of the `store` fixture (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.year import Year
from ledger.context import Actor, acting
from ledger.domain.credential import token_hash
from ledger.money import format_yuan
from service.bootstrap import open_ledger
from service.demo import credit_code
from service.cli import EXIT_CANCELLED, EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE
from tests.servers import cli_env, free_port, run_cli, voucher_ledger_command
from tests.support import BUSINESS_DATE, YEAR, Scenario


def cli(url: str, *args: str, business_date: str = BUSINESS_DATE, stdin: str | None = None) -> Any:
    """`voucher-ledger ARGS` as a process, with `stdin` as what the operator types (none: no terminal)."""
    return subprocess.run([*voucher_ledger_command(), *args], env=cli_env(url, business_date), input=stdin,
                          capture_output=True, text=True, timeout=120)


def assert_said(result: Any, code: int, *words: str) -> None:
    """Exit `code`, no traceback, a Chinese-first line on standard error naming `words`."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert result.stderr.strip() and not result.stderr.strip()[0].isascii(), result.stderr
    for word in words:
        assert word in result.stderr


@pytest.mark.slow  # runs the real CLI
def test_a_wrong_database_path_is_unavailable_not_a_traceback(tmp_path: Path) -> None:
    result = cli(f"sqlite:///{tmp_path}/no/such/dir/ledger.db", "token", "list")
    assert_said(result, EXIT_UNAVAILABLE, "数据库不可用", "LEDGER_DATABASE_URL")


@pytest.mark.slow  # runs the real CLI
def test_an_unreachable_database_is_unavailable_not_a_traceback() -> None:
    result = cli(f"postgresql://ledger:secret@127.0.0.1:{free_port()}/ledger", "token", "list")
    assert_said(result, EXIT_UNAVAILABLE, "数据库不可用")
    assert "secret" not in result.stderr  # the password in the URL is never echoed


@pytest.mark.slow  # runs the real CLI
def test_a_bad_database_url_and_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    assert_said(cli("mysql://somewhere/ledger", "token", "list"), EXIT_USAGE, "配置错误", "mysql")
    url = f"sqlite:///{tmp_path}/ledger.db"
    assert_said(cli(url, "close-year", "last-year"), EXIT_USAGE, "用法错误", "invalid int")
    assert_said(cli(url, "no-such-command"), EXIT_USAGE, "用法错误")
    assert_said(cli(url, "token", "issue", "--role", "chief"), EXIT_USAGE, "VALIDATION_ERROR")


@pytest.mark.slow  # runs the real CLI
def test_an_unwritable_export_path_is_a_usage_error_and_leaves_no_file(store: Any, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "export.jsonl"
    result = cli(store.url, "export", "--output", str(target), "--quiet")
    assert_said(result, EXIT_USAGE, "无法读写文件", str(target))
    assert not target.parent.exists()


@pytest.mark.slow  # runs the real CLI
def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    result = cli(f"sqlite:///{tmp_path}/ledger.db", "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"voucher-ledger {version('voucher-ledger')}"


@pytest.mark.slow  # runs the real CLI
def test_help_documents_the_exit_codes(tmp_path: Path) -> None:
    result = cli(f"sqlite:///{tmp_path}/ledger.db", "--help")
    assert result.returncode == 0
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n  {code} " in result.stdout


@pytest.mark.slow  # runs the real CLI
def test_token_list_shows_ids_roles_subjects_names_and_expiry_never_hashes(store: Any) -> None:
    url = store.url
    issued = run_cli(cli_env(url, BUSINESS_DATE), "token", "issue", "--role", "auditor", "--name", "审计员甲",
                     "--expires-at", "2030-01-01T00:00:00+08:00").stdout.strip().splitlines()
    token = issued[-1]
    auditor = issued[0].rsplit("credential=", 1)[1]
    provider_code = credit_code(201)
    revoked = run_cli(cli_env(url, BUSINESS_DATE), "token", "issue", "--role", "provider", "--subject",
                      provider_code).stdout.strip().splitlines()[0].rsplit("credential=", 1)[1]
    run_cli(cli_env(url, BUSINESS_DATE), "token", "revoke", revoked)

    table = cli(url, "token", "list")
    assert table.returncode == 0
    assert auditor in table.stdout and "审计员甲" in table.stdout and "2030-01-01T00:00:00+08:00" in table.stdout
    assert revoked not in table.stdout  # revoked ones only with --all
    listed = json.loads(cli(url, "token", "list", "--all", "--json").stdout)
    by_id = {c["credential_id"]: c for c in listed}
    assert (by_id[auditor]["role"], by_id[auditor]["name"], by_id[auditor]["revoked"]) == ("auditor", "审计员甲", False)
    assert (by_id[revoked]["role"], by_id[revoked]["subject"], by_id[revoked]["revoked"]) == (
        "provider", provider_code, True)
    everything = json.dumps(listed) + table.stdout
    assert token_hash(token) not in everything and token not in everything and "sha256" not in everything


def a_year_to_close(store: Any) -> int:
    """This year with a holder's voucher and its whole quota available; returns the quota in fen."""
    app = open_ledger(store)
    try:
        scenario = Scenario(app)
        scenario.open_year()
        _, voucher_id = scenario.holder(("tech_sme",))
        return app.get_voucher(voucher_id).available_fen
    finally:
        app.close()


@pytest.mark.slow  # runs the real CLI
def test_close_year_dry_run_previews_in_yuan_and_changes_nothing(store: Any) -> None:
    quota = a_year_to_close(store)
    # Before the year has ended the close is refused by its rule, without asking (exit 4, not 5).
    assert_said(cli(store.url, "close-year", str(YEAR), stdin=""), EXIT_REFUSED, "YEAR_NOT_ENDED")
    after_end = f"{YEAR + 1}-01-02"
    preview = cli(store.url, "close-year", str(YEAR), "--dry-run", business_date=after_end)
    assert preview.returncode == 0, preview.stderr
    body = json.loads(preview.stdout.strip().splitlines()[-1])
    assert body == {"year": YEAR, "expired_vouchers": 1, "expired_amount": format_yuan(quota),
                    "released_contracts": 0, "can_close": True, "closes_after": f"{YEAR}-12-31"}
    assert f"{format_yuan(quota)} 元" in preview.stdout
    # Answered no (or nothing: no terminal), the close does not run.
    assert_said(cli(store.url, "close-year", str(YEAR), stdin="n\n", business_date=after_end), EXIT_CANCELLED, "已取消")
    assert_said(cli(store.url, "close-year", str(YEAR), stdin="", business_date=after_end), EXIT_CANCELLED)
    app = open_ledger(store, create_table=False)
    try:
        assert app.get_year(YEAR).status == "open"
    finally:
        app.close()
    # Answered yes, it closes and prints the API's close body, amounts in yuan.
    closed = cli(store.url, "close-year", str(YEAR), stdin="y\n", business_date=after_end)
    assert closed.returncode == 0, closed.stderr
    summary = json.loads(closed.stdout.strip().splitlines()[-1])
    assert (summary["expired_vouchers"], summary["expired_amount"]) == (1, format_yuan(quota))
    # A second close is a refusal by the year's state: exit 4, not a usage error.
    assert_said(cli(store.url, "close-year", str(YEAR), "--yes", business_date=after_end), EXIT_REFUSED,
                "INVALID_STATE")


@pytest.mark.slow  # runs the real CLI
@pytest.mark.parametrize("year, code", [(1999, "YEAR_OUT_OF_RANGE"), (YEAR + 1, "YEAR_NOT_STARTED"),
                                        (YEAR - 1, "YEAR_ENDED")])
def test_demo_refuses_a_year_it_cannot_load_whole_before_writing_anything(store: Any, year: int, code: str) -> None:
    assert_said(cli(store.url, "demo", "--year", str(year)), EXIT_REFUSED, code)
    app = open_ledger(store, create_table=False)
    try:
        assert Year.create_id(year) not in app.repository
        assert (app.recorder.max_notification_id() or 0) == 0  # nothing at all was written
    finally:
        app.close()


def test_root_redirects_to_the_console(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")


@pytest.mark.slow  # runs the real CLI
def test_batch_json_is_the_api_body_with_amounts_in_yuan(store: Any) -> None:
    app = open_ledger(store)
    try:
        Scenario(app).open_year()
        with acting(Actor(role="operator", id="clerk")):
            batch_id = app.open_settlement(YEAR, "第一批").data["batch_id"]
    finally:
        app.close()
    listed = json.loads(cli(store.url, "batch", "list", "--json").stdout)
    assert listed["batches"][0]["batch_id"] == batch_id and listed["batches"][0]["claimed"] == "0.00"
    plan = json.loads(cli(store.url, "batch", "plan", batch_id, "--json").stdout)
    assert (plan["amount"], plan["contracts"]) == ("0.00", 0)
