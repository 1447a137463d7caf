"""HTTP: seeing it run (API.md "Following the ledger"; issue 20): X-Request-Id, the access log,
`/readyz`, `/metrics` (web/observe.py)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from contextlib import closing
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from projections.storage.schema import SCHEMA_VERSION, VERSION_TABLE, migrate
from tests.support import bearer

_UUID_HEX = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def access_lines(caplog: Any) -> Any:
    caplog.set_level(logging.INFO, logger="voucher_ledger.access")

    def lines() -> list[dict[str, Any]]:
        return [json.loads(record.getMessage()) for record in caplog.records if record.name == "voucher_ledger.access"]

    return lines


def test_every_answer_carries_the_clients_request_id_or_a_fresh_one(client, tokens):
    sent = "req-2026.06.01_abc" + "x" * 100
    for path, headers in (("/healthz", {}), ("/api/v1/years", bearer(tokens["operator"])), ("/api/v1/years", {}),
                          ("/nowhere", {})):
        assert client.get(path, headers={**headers, "X-Request-Id": sent}).headers["X-Request-Id"] == sent
        fresh = client.get(path, headers=headers).headers["X-Request-Id"]
        assert _UUID_HEX.match(fresh)
    ids = set()
    for bad in ("", "x" * 129, "a b", "a/b", "ünï"):
        answered = client.get("/healthz", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert _UUID_HEX.match(answered), bad
        ids.add(answered)
    assert len(ids) == 5  # fresh each time


def test_one_access_log_line_per_request_with_its_request_id_and_never_a_token(client, tokens, access_lines):
    token = tokens["operator"]
    client.get("/api/v1/years?secret=abc", headers={**bearer(token), "X-Request-Id": "one"})
    client.post("/api/v1/years", json={"year": "bad"}, headers={**bearer(token), "X-Request-Id": "two"})
    client.get("/api/v1/years", headers={"Authorization": "Bearer nope", "X-Request-Id": "three"})
    client.get("/healthz", headers={"X-Request-Id": "four"})
    lines = access_lines()
    assert [line["request_id"] for line in lines] == ["one", "two", "three", "four"]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/api/v1/years", 200), ("POST", "/api/v1/years", 400), ("GET", "/api/v1/years", 401),
        ("GET", "/healthz", 200)]
    assert lines[0]["actor"]["role"] == "operator" and lines[0]["actor"]["id"]
    assert lines[2]["actor"] is None
    assert all(line["duration_ms"] >= 0 and line["time"].endswith("+08:00") for line in lines)
    text = json.dumps(lines)
    assert token not in text and "nope" not in text and "secret" not in text and "bad" not in text


def test_readyz_is_200_on_a_current_store_and_503_when_its_schema_is_not(client, ledger, store, backend):
    migrate(store)
    assert client.get("/readyz").status_code == 200
    assert client.get("/readyz").get_json()["schema_version"] == SCHEMA_VERSION
    if backend == "sqlite":
        with closing(sqlite3.connect(store.sqlite_path)) as conn, conn:
            conn.execute(f"UPDATE {VERSION_TABLE} SET version = ?", (SCHEMA_VERSION - 1,))
    else:
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute(f"UPDATE {VERSION_TABLE} SET version = %s", (SCHEMA_VERSION - 1,))  # type: ignore[arg-type]
    response = client.get("/readyz")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE" and error["details"]["schema_version"] == SCHEMA_VERSION - 1


def test_readyz_is_503_when_the_store_is_unreachable(client, ledger, store, backend, tmp_path):
    if backend != "sqlite":
        pytest.skip("the shared PostgreSQL server stays up: tests/hardening stops a cluster of its own")
    migrate(store)
    for path in tmp_path.glob("ledger.db*"):  # the database file gone from under the server...
        path.unlink()
    (tmp_path / "ledger.db").mkdir()  # ...and something no database can be opened as in its place
    response = client.get("/readyz")
    assert response.status_code == 503, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE" and error["details"]["error"] == "OperationalError"


def test_metrics_parse_and_count_requests_commands_conflicts_and_lag(client, tokens):
    approver = bearer(tokens["approver"])
    assert client.post("/api/v1/years", json={"year": 2026, "starts_on": "2026-01-01", "ends_on": "2026-12-31"}, headers=approver).status_code == 201
    second = client.post("/api/v1/years", json={"year": 2026, "starts_on": "2026-01-01", "ends_on": "2026-12-31"}, headers=approver)  # a second opening: a conflict
    assert second.status_code == 409
    client.get("/api/v1/years", headers=approver)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("voucher_ledger_requests_total", method="GET", route="/api/v1/years", status="200") == 1
    assert value("voucher_ledger_request_seconds_count", method="POST", route="/api/v1/years") == 2
    assert value("voucher_ledger_commands_total", command="open_year", outcome="ok") == 1
    assert value("voucher_ledger_commands_total", command="open_year",
                 outcome=second.get_json()["error"]["code"]) == 1
    assert value("voucher_ledger_conflicts_total") == 1
    assert ("voucher_ledger_conflicts_retried_total", ()) in samples
    assert value("voucher_ledger_projection_lag_events") >= 0
    assert value("voucher_ledger_store_head_position") >= 1
