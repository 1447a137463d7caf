"""HTTP and the delivery worker: webhooks (API.md "Following the ledger (integrations)").

The operator subscribes a URL; the worker (service/delivery.py, `voucher-ledger deliver`) POSTs each
event's export line to it at least once, in order, signed with the subscription's secret, retried
with capped exponential backoff, its cursor persisted so a new worker resumes where the last stopped;
the delivery log shows every attempt. A real HTTP server in the test receives them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from projections.audit import chain, export
from service.delivery import Deliverer
from tests.api.test_audit_api import history  # noqa: F401 - the audit tests' scripted history, as a fixture
from tests.audit_support import History
from tests.servers import WebhookReceiver
from tests.support import bearer, issue_tokens

SECRET = "s3cret-of-the-treasury-0123456789"


@pytest.fixture
def tokens(ledger: Any, history: History) -> dict[str, str]:
    return issue_tokens(ledger, ("enterprise", history.ids["enterprise_a"]))


def subscribe(client: Any, tokens: dict[str, str], body: dict[str, Any], who: str = "operator",
              status: int = 201) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", json=body, headers=bearer(tokens[who]))
    assert response.status_code == status, response.get_json()
    return response.get_json()


def lines(ledger: Any, views: Any) -> list[dict[str, Any]]:
    views.catch_up()
    return [line for page in export.record_pages(ledger, views.store, 0, chain.head(views.store)["position"])
            for line in page]


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_every_event_is_posted_in_order_signed_with_the_subscriptions_secret(client, tokens, ledger, views, history):
    with WebhookReceiver() as receiver:
        hook = subscribe(client, tokens, {"url": receiver.url, "secret": SECRET, "after": 0})
        assert "secret" not in hook and hook["delivered"] == 0 and hook["types"] == []
        Deliverer(ledger, views).run_once()
    expected = lines(ledger, views)
    assert [json.loads(body) for _, body in receiver.received] == expected
    for headers, body in receiver.received:
        assert headers["X-Ledger-Signature"] == signed(SECRET, body)
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Ledger-Webhook"] == hook["id"]
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries?limit=1000", headers=bearer(tokens["operator"])).get_json()
    assert [(d["position"], d["attempt"], d["status"]) for d in log["deliveries"]] == [
        (line["position"], 1, 200) for line in expected]
    assert log["webhook"]["delivered"] == expected[-1]["position"]
    assert all(d["error"] is None and d["at"] and d["duration_ms"] >= 0 for d in log["deliveries"])


def test_a_new_subscription_starts_at_the_chain_head_and_types_filter_it(client, tokens, ledger, views, history,
                                                                         scenario):
    with WebhookReceiver() as receiver:
        everything = subscribe(client, tokens, {"url": receiver.url, "secret": SECRET})
        head = chain.head(views.store)["position"]
        assert everything["delivered"] == head
        only = subscribe(client, tokens, {"url": receiver.url + "?only", "secret": SECRET, "after": 0,
                                          "types": ["Contract", "Voucher.Reserved"]})
        deliverer = Deliverer(ledger, views)
        deliverer.run_once()
        wanted = [line for line in lines(ledger, views)
                  if line["stream_type"] == "Contract" or line["type"] == "Voucher.Reserved"]
        assert [json.loads(body) for _, body in receiver.received] == wanted  # nothing before the head for `everything`
        scenario.enterprise()  # an event of another type: `only` moves past it, `everything` gets it
        deliverer.run_once()
        new = lines(ledger, views)[-1]
        assert json.loads(receiver.received[-1][1]) == new and len(receiver.received) == len(wanted) + 1
    listed = {hook["id"]: hook for hook in client.get("/api/v1/webhooks", headers=bearer(tokens["auditor"])
                                                      ).get_json()["webhooks"]}
    assert listed[only["id"]]["delivered"] == listed[everything["id"]]["delivered"] == new["position"]
    assert all("secret" not in hook for hook in listed.values())


def test_a_failed_delivery_is_retried_with_capped_exponential_backoff_and_nothing_after_it_goes_first(
        client, tokens, ledger, views, history):
    clock = FakeClock()
    with WebhookReceiver(statuses=[500, 503]) as receiver:
        hook = subscribe(client, tokens, {"url": receiver.url, "secret": SECRET, "after": 0})
        deliverer = Deliverer(ledger, views, backoff=2.0, backoff_cap=60.0, clock=clock)
        deliverer.run_once()
        assert receiver.answered == [500] and deliverer.retry_at[hook["id"]] == clock.now + 2.0
        deliverer.run_once()  # not yet due: nothing sent
        assert receiver.answered == [500]
        clock.now += 2.0
        deliverer.run_once()
        assert receiver.answered == [500, 503] and deliverer.retry_at[hook["id"]] == clock.now + 4.0
        clock.now += 4.0
        deliverer.run_once()
    expected = lines(ledger, views)
    assert [json.loads(body) for _, body in receiver.received] == expected
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries?limit=1000", headers=bearer(tokens["auditor"])).get_json()
    first = expected[0]["position"]
    assert [(d["position"], d["attempt"], d["status"]) for d in log["deliveries"][:3]] == [
        (first, 1, 500), (first, 2, 503), (first, 3, 200)]
    assert log["deliveries"][0]["error"] == "HTTP 500"
    assert [deliverer.delay(n) for n in (1, 2, 3, 5, 6, 30)] == [2.0, 4.0, 8.0, 32.0, 60.0, 60.0]


def test_an_unreachable_receiver_is_logged_without_a_status_and_retried(client, tokens, ledger, views, history):
    with WebhookReceiver() as receiver:
        url = receiver.url
    hook = subscribe(client, tokens, {"url": url, "secret": SECRET, "after": 0})  # nobody listens there now
    deliverer = Deliverer(ledger, views, timeout=2.0)
    assert deliverer.run_once() == 0
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=bearer(tokens["operator"])).get_json()
    assert len(log["deliveries"]) == 1 and log["deliveries"][0]["status"] is None and log["deliveries"][0]["error"]
    assert hook["id"] in deliverer.retry_at


def test_a_new_worker_resumes_after_the_cursor_which_a_rebuild_keeps(client, tokens, ledger, views, history, scenario):
    with WebhookReceiver() as receiver:
        subscribe(client, tokens, {"url": receiver.url, "secret": SECRET, "after": 0})
        Deliverer(ledger, views).run_once()
        delivered = receiver.positions()
        scenario.enterprise()
        views.rebuild()  # the read models rebuilt: the subscriptions and their cursors are not read models
        Deliverer(ledger, views).run_once()  # a new worker, as after a restart: only what is new
    assert receiver.positions() == [*delivered, lines(ledger, views)[-1]["position"]]


def test_webhooks_are_the_operators_to_create_and_readers_to_see(client, tokens, history):
    body = {"url": "https://treasury.example.gov.cn/hook", "secret": SECRET}
    for who in ("approver", "finance", "supervisor", "auditor", history.ids["enterprise_a"]):
        assert subscribe(client, tokens, body, who=who, status=403)["error"]["code"] == "FORBIDDEN"
    hook = subscribe(client, tokens, body)
    assert client.get("/api/v1/webhooks", headers=bearer(tokens[history.ids["enterprise_a"]])).status_code == 403
    assert client.get(f"/api/v1/webhooks/{hook['id']}/deliveries",
                      headers=bearer(tokens[history.ids["enterprise_a"]])).status_code == 403
    missing = client.get("/api/v1/webhooks/nope/deliveries", headers=bearer(tokens["operator"]))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "NOT_FOUND"


def test_bad_webhook_bodies_are_400_and_create_nothing(client, tokens, history):
    for body in ({"secret": SECRET}, {"url": "ftp://x.example/hook", "secret": SECRET},
                 {"url": "not a url", "secret": SECRET}, {"url": "https://x.example/hook", "secret": "short"},
                 {"url": "https://x.example/hook"}, {"url": "https://x.example/hook", "secret": SECRET, "types": []},
                 {"url": "https://x.example/hook", "secret": SECRET, "types": ["Voucher;drop"]},
                 {"url": "https://x.example/hook", "secret": SECRET, "types": "Voucher"},
                 {"url": "https://x.example/hook", "secret": SECRET, "after": -1}):
        assert subscribe(client, tokens, body, status=400)["error"]["code"] == "VALIDATION_ERROR", body
    assert client.get("/api/v1/webhooks", headers=bearer(tokens["operator"])).get_json()["webhooks"] == []


def test_a_repeated_idempotency_key_answers_the_first_subscription(client, tokens, history):
    body = {"url": "https://treasury.example.gov.cn/hook", "secret": SECRET}
    headers = {**bearer(tokens["operator"]), "Idempotency-Key": "subscribe-treasury-1"}
    first = client.post("/api/v1/webhooks", json=body, headers=headers)
    again = client.post("/api/v1/webhooks", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    other = client.post("/api/v1/webhooks", json={**body, "url": "https://other.example/hook"}, headers=headers)
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    listed = client.get("/api/v1/webhooks", headers=bearer(tokens["operator"])).get_json()["webhooks"]
    assert [hook["id"] for hook in listed] == [first.get_json()["id"]]
