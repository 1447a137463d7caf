"""HTTP: the event feed (API.md "Following the ledger (integrations)").

The feed answers the export's whole lines after a position, in position order, with their chain
links; `limit` and `types` bound what it answers and `next` is where to read on; `wait` long-polls.
Readers: the supervisor, auditors and the machine role `integration`, which reads nothing else.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from projections.audit import canonical, chain, export
from tests.api.test_audit_api import history  # noqa: F401 - the audit tests' scripted history, as a fixture
from tests.audit_support import History
from tests.support import as_role, bearer, issue_tokens


@pytest.fixture
def tokens(ledger: Any, history: History) -> dict[str, str]:
    issued = issue_tokens(ledger, ("enterprise", history.ids["enterprise_a"]))
    with as_role("system", name="test-cli"):
        issued["integration"] = ledger.issue_credential("integration", name="treasury").extra["token"]
    return issued


def feed(client: Any, tokens: dict[str, str], query: str = "", who: str = "integration", status: int = 200) -> Any:
    response = client.get(f"/api/v1/events{query}", headers=bearer(tokens[who]))
    assert response.status_code == status, response.get_json()
    return response.get_json()


def exported(ledger: Any, views: Any) -> list[dict[str, Any]]:
    views.catch_up()  # the tokens' events too
    return [line for page in export.record_pages(ledger, views.store, 0, chain.head(views.store)["position"])
            for line in page]


def test_the_feed_is_the_exports_lines_in_position_order_with_their_chain(client, tokens, ledger, views, history):
    body = feed(client, tokens, "?after=0&limit=1000")
    lines = exported(ledger, views)
    assert body["events"] == lines
    assert [e["position"] for e in body["events"]] == sorted(e["position"] for e in body["events"])
    assert body["next"] == lines[-1]["position"] == chain.head(views.store)["position"]
    assert set(body["events"][0]) == set(canonical.EXPORT_FIELDS)
    # The chain runs through the feed: each line's prev_hash is the line before's hash.
    for before, line in zip(body["events"], body["events"][1:]):
        assert line["prev_hash"] == before["hash"]


def test_after_and_limit_page_through_the_feed_without_gap_or_repeat(client, tokens, ledger, views, history):
    read, after = [], 0
    while True:
        body = feed(client, tokens, f"?after={after}&limit=7")
        assert len(body["events"]) <= 7
        if not body["events"]:
            assert body["next"] == after
            break
        read.extend(body["events"])
        after = body["next"]
        assert after == body["events"][-1]["position"]
    assert read == exported(ledger, views)


def test_types_keep_the_named_event_types_and_aggregates_and_next_moves_past_the_rest(client, tokens, ledger, views,
                                                                                       history):
    lines = exported(ledger, views)
    body = feed(client, tokens, "?after=0&limit=1000&types=Voucher.Reserved,Contract")
    wanted = [line for line in lines if line["type"] == "Voucher.Reserved" or line["stream_type"] == "Contract"]
    assert wanted and body["events"] == wanted
    assert body["next"] == lines[-1]["position"]
    assert feed(client, tokens, f"?after={body['next']}&types=Voucher.Reserved")["events"] == []


def test_bad_feed_queries_are_400(client, tokens, history):
    for query in ["?after=-1", "?after=x", "?limit=0", "?limit=1001", "?wait=31", "?wait=-1", "?wait=nan",
                  "?types=", "?types=Voucher;drop", "?types=" + ",".join(["A"] * 51)]:
        assert feed(client, tokens, query, status=400)["error"]["code"] == "VALIDATION_ERROR", query


def test_feed_is_for_the_supervisor_auditors_and_integration_tokens_only(client, tokens, history):
    for who in ("supervisor", "auditor", "integration"):
        assert feed(client, tokens, "?limit=1", who=who)["events"]
    for who in (history.ids["enterprise_a"], "operator", "approver", "finance"):
        assert feed(client, tokens, who=who, status=403)["error"]["code"] == "FORBIDDEN"
    assert client.get("/api/v1/events").get_json()["error"]["code"] == "UNAUTHENTICATED"


def test_an_integration_token_reads_the_feed_and_nothing_else(client, tokens, history):
    for path in ("/api/v1/audit/head", "/api/v1/export", "/api/v1/me", "/api/v1/years", "/api/v1/webhooks",
                 f"/api/v1/trace/contracts/{history.ids['contract_a']}", "/api/v1/nowhere"):
        response = client.get(path, headers=bearer(tokens["integration"]))
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "FORBIDDEN", path
    response = client.post("/api/v1/years", json={"year": 2027}, headers=bearer(tokens["integration"]))
    assert response.status_code == 403


def test_long_poll_waits_then_answers_the_next_event(client, tokens, ledger, views, history, scenario):
    views.catch_up()
    before = chain.head(views.store)
    head = before["position"]
    started = time.monotonic()
    assert feed(client, tokens, f"?after={head}&wait=0.3")["events"] == []
    assert time.monotonic() - started >= 0.3

    def later() -> None:
        time.sleep(0.3)
        scenario.enterprise()

    writer = threading.Thread(target=later)
    writer.start()
    started = time.monotonic()
    body = feed(client, tokens, f"?after={head}&wait=10")
    elapsed = time.monotonic() - started
    writer.join()
    assert body["events"] and body["events"][0]["position"] > head
    assert body["events"][0]["prev_hash"] == before["hash"]
    assert 0.25 <= elapsed < 5


def test_events_the_views_have_not_chained_yet_come_with_the_links_the_chain_then_stores(client, tokens, ledger, views,
                                                                                        history, scenario):
    views.catch_up()
    head = chain.head(views.store)
    scenario.enterprise()
    scenario.enterprise()
    assert chain.head(views.store) == head  # the views have not seen them
    ahead = feed(client, tokens, f"?after={head['position']}")["events"]
    assert len(ahead) >= 2 and ahead[0]["prev_hash"] == head["hash"]
    behind = feed(client, tokens, f"?after={ahead[0]['position']}")["events"]  # a reader past the chain's head
    assert behind == ahead[1:]
    assert exported(ledger, views)[-len(ahead):] == ahead  # once chained, the export's very lines
