"""Webhooks (API.md "Following the ledger (integrations)"): subscriptions and their delivery log.

`POST /api/v1/webhooks` (operator) `{"url", "types"?, "secret", "after"?}` → 201 with the subscription
(never its secret). Each event after `after` (by default the chain's head now: events from now on;
0 replays the whole ledger) of the named `types` (event classes or aggregates, as the feed's
`types`; every event if absent) is POSTed to `url` by the delivery worker (`voucher-ledger deliver`,
service/delivery.py): body the event's export line, signed `X-Ledger-Signature: sha256=<hex
HMAC-SHA256(secret, body)>`, at least once, in order, retried with backoff. `GET /api/v1/webhooks`
and `GET /api/v1/webhooks/{id}/deliveries` (the delivery log) are open to staff, the supervisor and
auditors, as queries are. An `Idempotency-Key` on the POST answers the first subscription again (201),
or 422 IDEMPOTENCY_KEY_REUSED for another body. Subscriptions are configuration, kept in tables, not events
(projections/storage/webhooks.py).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.rules import OPERATOR
from projections.audit import chain
from projections.storage import webhooks
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import fresh_views, ledger_app, request_idempotency
from web.feed import TYPE_NAME


class WebhookCreateSchema(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2000),
                     metadata={"example": "https://treasury.example.gov.cn/ledger-events"})
    types = fields.List(fields.String(validate=validate.Regexp(TYPE_NAME, error="an event type (Voucher.Reserved) or "
                                                                                "an aggregate (Voucher)")),
                        validate=validate.Length(min=1, max=50),
                        metadata={"description": "event types or aggregates, as the feed's `types`; every event if absent"})
    secret = fields.String(required=True, load_only=True, validate=validate.Length(min=16, max=256),
                           metadata={"description": "the HMAC-SHA256 key of X-Ledger-Signature; never shown back"})
    after = fields.Integer(strict=True, validate=validate.Range(min=0, max=2**62),
                           metadata={"description": "deliver the events after this position (default: the chain's "
                                                    "head now; 0: every event)"})


class WebhookSchema(Schema):
    id = fields.String()
    url = fields.String()
    types = fields.List(fields.String())
    created_at = fields.String()
    created_by = fields.String()
    delivered = fields.Integer(metadata={"description": "the cursor: every event up to this position was delivered"})


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema))


class DeliveryQuery(Schema):
    after = fields.Integer(strict=False, load_default=0, validate=validate.Range(min=0, max=2**62))
    limit = fields.Integer(strict=False, load_default=100, validate=validate.Range(min=1, max=1000))


class DeliverySchema(Schema):
    position = fields.Integer()
    attempt = fields.Integer(metadata={"description": "1 for the first attempt at this position"})
    status = fields.Integer(allow_none=True, metadata={"description": "the receiver's status code; null if none came"})
    error = fields.String(allow_none=True)
    at = fields.String(metadata={"description": "when the attempt started (ISO 8601, UTC)"})
    duration_ms = fields.Integer()


class DeliveryLogSchema(Schema):
    webhook = fields.Nested(WebhookSchema)
    deliveries = fields.List(fields.Nested(DeliverySchema))


blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="事件推送 Webhooks")


@blp.post("/webhooks")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookSchema)
def create_webhook(body: dict[str, Any]) -> Any:
    """Subscribe a URL to the events (the operator's): each POSTed at least once, in order, signed."""
    actor = current_actor()
    require_reader(actor, roles=(OPERATOR,))
    idempotency = request_idempotency()
    store = fresh_views()
    after = body.get("after")
    if after is None:
        after = chain.head(store)["position"]
    created_at = ledger_app().now().isoformat()
    return webhooks.create(store, url=body["url"], types=body.get("types") or [], secret=body["secret"],
                           created_at=created_at, created_by=f"{actor.role}:{actor.id}", after=after,
                           idempotency=idempotency)


@blp.get("/webhooks")
@blp.response(200, WebhookListSchema)
def list_webhooks() -> Any:
    """Every subscription and its cursor (never a secret)."""
    require_reader(current_actor())
    return {"webhooks": webhooks.list_all(fresh_views())}


@blp.get("/webhooks/<webhook_id>/deliveries")
@blp.arguments(DeliveryQuery, location="query")
@blp.response(200, DeliveryLogSchema)
def webhook_deliveries(args: dict[str, Any], webhook_id: str) -> Any:
    """The delivery log: every attempt after position `after`, in position and attempt order."""
    require_reader(current_actor())
    store = fresh_views()
    return {"webhook": webhooks.get(store, webhook_id),
            "deliveries": webhooks.deliveries(store, webhook_id, args["after"], args["limit"])}
