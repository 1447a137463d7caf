"""Tokens: stored only as hashes, compared in constant time, revocable, expiring; and no secret, no other
subject's amount and no stack trace in any log line or error body (API.md "Auth", "Errors")."""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger.commands.credentials import CredentialCommands
from projections.runner import REGISTRY
from service.bootstrap import build_app
from tests.hardening.cli import issue_token, run_cli
from tests.hardening.world import World
from tests.support import YEAR, bearer

TRACEBACK = ("Traceback (most recent call last)", 'File "', "line ")


def stored_text(world: World) -> str:
    """Every stored event and every read-model row, as text."""
    app = world.app
    chunks: list[str] = []
    last = 0
    while page := app.recorder.select_notifications(start=last, limit=500, inclusive_of_start=False):
        chunks.extend(n.state.decode("utf-8", "replace") + n.topic for n in page)
        last = page[-1].id
    store = world.flask_app.extensions["ledger_views"].store
    for name in store.table_names():
        chunks.extend(repr(row) for row in store.query(f"SELECT * FROM {name}"))
    assert REGISTRY.tables, "no read-model tables registered"
    return "\n".join(chunks)


def test_tokens_are_stored_only_as_hashes(world: World) -> None:
    text = stored_text(world)
    for name, token in world.tokens.items():
        assert token not in text, f"the {name} token is stored in clear"
        assert hashlib.sha256(token.encode()).hexdigest() in text, "the scan does not see the credentials"
    if world.app.store.backend == "sqlite":
        # The files themselves, free pages and journals included.
        for path in Path(world.app.store.sqlite_path).parent.iterdir():
            data = path.read_bytes()
            for token in world.tokens.values():
                assert token.encode() not in data, f"a token is in {path.name}"


def test_tokens_are_compared_in_constant_time() -> None:
    source = inspect.getsource(CredentialCommands.authenticate)
    assert "hmac.compare_digest(" in source
    # The stored hash is the only thing compared; the token itself is never compared with `==`.
    assert not re.search(r"token\s*==|==\s*token", source)


@pytest.mark.slow  # runs the real CLI several times
def test_a_token_revoked_from_the_command_line_is_refused_at_once(world: World) -> None:
    url = world.app.store.url
    credential, token = issue_token(url, "auditor", "--name", "审计员-撤销")
    client = world.client
    assert client.get(f"/api/v1/years/{YEAR}", headers=bearer(token)).status_code == 200

    result = run_cli(url, "token", "revoke", credential, "--reason", "left the office")
    assert "已吊销令牌" in result.stdout

    response = client.get(f"/api/v1/years/{YEAR}", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHENTICATED"
    # Revoking twice is harmless; an unknown credential is an error on the command line, not a crash.
    run_cli(url, "token", "revoke", credential)
    unknown = run_cli(url, "token", "revoke", "no-such-credential", check=False)
    assert unknown.returncode == 2 and "NOT_FOUND" in unknown.stderr and "Traceback" not in unknown.stderr


@pytest.mark.slow  # runs the real CLI several times
def test_a_token_expires(world: World, monkeypatch: Any) -> None:
    url = world.app.store.url
    _, lasting = issue_token(url, "supervisor", "--expires-at", "2099-12-31T23:59:59+08:00")
    soon = datetime.now(timezone.utc) + timedelta(hours=1)
    _, token = issue_token(url, "supervisor", "--expires-at", soon.isoformat())
    client = world.client
    monkeypatch.setattr(world.app, "now", lambda: soon - timedelta(seconds=1))  # the app's instant clock
    assert client.get(f"/api/v1/years/{YEAR}", headers=bearer(token)).status_code == 200

    monkeypatch.setattr(world.app, "now", lambda: soon + timedelta(seconds=0.2))  # instead of sleeping
    response = client.get(f"/api/v1/years/{YEAR}", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"] == {"code": "UNAUTHENTICATED", "message": "the token has expired",
                                            "details": {}}
    assert client.get(f"/api/v1/years/{YEAR}", headers=bearer(lasting)).status_code == 200
    # An expiry without a UTC offset is refused rather than guessed.
    naive = run_cli(url, "token", "issue", "--role", "auditor", "--expires-at", "2030-01-01T00:00:00", check=False)
    assert naive.returncode == 2 and "expires_at" in naive.stderr


def test_no_secret_amount_or_trace_in_logs_or_error_bodies(world: World, caplog: Any) -> None:
    """Drive every kind of error, a forced 500 included, and read every log line and error body."""
    app = build_app(world.app, world.flask_app.extensions["ledger_views"], {"TESTING": True})
    secret = world.tokens["operator"]

    def boom() -> Any:
        # The exception text carries a token and an amount, as a careless bug's message might.
        raise RuntimeError(f"boom with {secret} and 12345.67 yuan")

    app.add_url_rule("/api/v1/test-only/boom", "test_only_boom", boom, methods=["GET", "POST"])
    client = app.test_client()
    foreign_voucher = world.client.get(f"/api/v1/vouchers/{world.refs['voucher']}",
                                       headers=bearer(world.tokens["operator"])).get_json()
    foreign_amounts = {foreign_voucher[k] for k in ("quota", "available", "reserved", "used")} - {"0.00"}
    wrong_token = "vl_" + "S3cr3t" * 7
    requests = [
        ("GET", f"/api/v1/years/{YEAR}", {}, None, 401),  # no token
        ("GET", f"/api/v1/years/{YEAR}", bearer(wrong_token), None, 401),  # unknown token
        ("GET", f"/api/v1/years/{YEAR}", {"Authorization": f"Basic {secret}"}, None, 401),  # wrong scheme
        ("GET", f"/api/v1/vouchers/{world.refs['voucher']}", bearer(world.tokens["enterprise_other"]), None, 403),
        ("GET", f"/api/v1/contracts/{world.refs['contract']}", bearer(world.tokens["provider_other"]), None, 403),
        ("POST", f"/api/v1/years/{YEAR}/budget", bearer(world.tokens["finance"]),
         {"amount": secret, "reference": secret}, 400),
        ("POST", f"/api/v1/years/{YEAR}/budget", bearer(world.tokens["operator"]),
         {"amount": "1.00", "reference": "x"}, 403),
        ("GET", "/api/v1/vouchers/00000000-0000-0000-0000-000000000000", bearer(secret), None, 404),
        ("POST", "/api/v1/years", bearer(world.tokens["approver"]),
         {"year": YEAR, "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31"}, 409),
        ("POST", "/api/v1/test-only/boom", bearer(secret), {"amount": "12345.67"}, 500),
        ("GET", "/api/v1/test-only/boom", bearer(secret), None, 500),
    ]
    caplog.set_level(logging.DEBUG)
    bodies = []
    for method, path, headers, body, status in requests:
        response = client.open(path, method=method, headers=headers, json=body)
        assert response.status_code == status, (path, response.get_data(as_text=True))
        payload = response.get_json()
        assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message", "details"}
        bodies.append(response.get_data(as_text=True))
    assert bodies[-1] == '{"error":{"code":"INTERNAL_ERROR","message":"internal error","details":{}}}\n'

    log_text = "\n".join(
        logging.Formatter("%(name)s %(levelname)s %(message)s").format(record) for record in caplog.records)
    assert any("unexpected error RuntimeError" in r.getMessage() for r in caplog.records), "the 500 was not logged"
    for text, where in [(log_text, "the log"), *((b, "an error body") for b in bodies)]:
        for token in [*world.tokens.values(), wrong_token]:
            assert token not in text, f"a token in {where}: {text[:400]}"
        for marker in TRACEBACK[:2]:
            assert marker not in text, f"a stack trace in {where}: {text[:400]}"
        assert "12345.67" not in text, f"an amount in {where}"
    for body in bodies[3:5]:  # refusals of another subject's voucher and contract
        assert not foreign_amounts & set(re.findall(r"\d+\.\d{2}", body)), body
    assert all(r.exc_info is None and not r.exc_text for r in caplog.records), "a log record carries a trace"
