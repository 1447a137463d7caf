"""Webhook subscriptions and their delivery log (API.md "Following the ledger"): tables, not events.

A subscription is the operator's configuration of an outgoing channel, not a decision on the funds:
it is kept in a table of the storage layer (with its secret, which signing needs; the database's
access control protects it, and no response or log shows it), beside the read models but outside
them: `projections rebuild` leaves these tables alone (they are not in the runner's READ_MODELS
table, `ViewStore.table_names`). `migrate` creates them with the read models' tables (store.py).

`vl_webhooks.delivered` is the subscription's cursor: every event up to it that matches the
subscription's types was answered with a 2xx (or skipped as of another type). The delivery worker
(service/delivery.py) moves it after each 2xx, in the transaction that logs the attempt, so a worker
killed at any moment resumes after the last event it knows was delivered: an event is delivered at
least once, never skipped. `vl_webhook_deliveries` logs every attempt: position, attempt (1, 2...
per position), status code (null when no answer came), error, time, duration.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, NamedTuple

from ledger import errors
from projections.storage.store import ViewStore

TABLES = (
    "CREATE TABLE IF NOT EXISTS vl_webhooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, types TEXT NOT NULL, "
    "secret TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL, delivered BIGINT NOT NULL, "
    "idempotency_key TEXT, request_hash TEXT, UNIQUE (created_by, idempotency_key))",
    "CREATE TABLE IF NOT EXISTS vl_webhook_deliveries (webhook_id TEXT NOT NULL, position BIGINT NOT NULL, "
    "attempt INTEGER NOT NULL, status INTEGER, error TEXT, at TEXT NOT NULL, duration_ms INTEGER NOT NULL, "
    "PRIMARY KEY (webhook_id, position, attempt))",
)
_PUBLIC = "id, url, types, created_at, created_by, delivered"


class Subscription(NamedTuple):
    """What the delivery worker needs of a subscription (its secret included)."""

    id: str
    url: str
    types: tuple[str, ...]
    secret: str
    delivered: int


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "types": json.loads(row["types"]), "delivered": int(row["delivered"])}


def create(store: ViewStore, *, url: str, types: list[str], secret: str, created_at: str, created_by: str,
           after: int, idempotency: Any = None) -> dict[str, Any]:
    """A new subscription delivering the events after position `after`; its public fields (no secret).

    With `idempotency` (ledger.context.Idempotency: key and request hash), the same key from the same
    actor answers the subscription it first made; with another request it is IdempotencyKeyReused.
    """
    key, request_hash = (None, None) if idempotency is None else (idempotency.key, idempotency.request_hash)
    if key is not None:
        made = _made_with(store, created_by, key, request_hash)
        if made is not None:
            return made
    webhook_id = str(uuid.uuid4())
    try:
        with store.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            cursor.execute(_sql(store, "INSERT INTO vl_webhooks (id, url, types, secret, created_at, created_by, "
                                       "delivered, idempotency_key, request_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                           (webhook_id, url, json.dumps(types), secret, created_at, created_by, after, key, request_hash))
    except Exception:
        made = None if key is None else _made_with(store, created_by, key, request_hash)
        if made is None:
            raise
        return made  # the same request, made at the same moment by another thread or server
    return get(store, webhook_id)


def _made_with(store: ViewStore, created_by: str, key: str, request_hash: str | None) -> dict[str, Any] | None:
    row = store.query_one("SELECT id, request_hash FROM vl_webhooks WHERE created_by = ? AND idempotency_key = ?",
                          (created_by, key))
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise errors.IdempotencyKeyReused("this Idempotency-Key was used for another request", {"key": key})
    return get(store, row["id"])


def get(store: ViewStore, webhook_id: str) -> dict[str, Any]:
    row = store.query_one(f"SELECT {_PUBLIC} FROM vl_webhooks WHERE id = ?", (webhook_id,))
    if row is None:
        raise errors.NotFound(f"no webhook {webhook_id}", {"id": webhook_id})
    return _public(row)


def list_all(store: ViewStore) -> list[dict[str, Any]]:
    return [_public(row) for row in store.query(f"SELECT {_PUBLIC} FROM vl_webhooks ORDER BY created_at, id")]


def subscriptions(store: ViewStore) -> list[Subscription]:
    """Every subscription with its secret and cursor, for the delivery worker."""
    return [Subscription(row["id"], row["url"], tuple(json.loads(row["types"])), row["secret"], int(row["delivered"]))
            for row in store.query("SELECT id, url, types, secret, delivered FROM vl_webhooks ORDER BY created_at, id")]


def deliveries(store: ViewStore, webhook_id: str, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """The delivery log of a subscription after position `after`, in position and attempt order."""
    get(store, webhook_id)  # NotFound for an unknown id
    rows = store.query("SELECT position, attempt, status, error, at, duration_ms FROM vl_webhook_deliveries "
                       "WHERE webhook_id = ? AND position > ? ORDER BY position, attempt LIMIT ?",
                       (webhook_id, after, limit))
    return [{**row, "position": int(row["position"]), "attempt": int(row["attempt"])} for row in rows]


def attempts_at(store: ViewStore, webhook_id: str, position: int) -> int:
    """How many attempts the log holds for this subscription's event at `position`."""
    row = store.query_one("SELECT MAX(attempt) AS attempts FROM vl_webhook_deliveries "
                          "WHERE webhook_id = ? AND position = ?", (webhook_id, position))
    return int(row["attempts"] or 0) if row else 0


def record_attempt(store: ViewStore, webhook_id: str, position: int, attempt: int, *, status: int | None,
                   error: str | None, at: str, duration_ms: int, delivered: bool) -> None:
    """Log one attempt; after a 2xx (`delivered`) move the cursor to its position, in the same transaction."""
    with store.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute(_sql(store, "INSERT INTO vl_webhook_deliveries (webhook_id, position, attempt, status, error, "
                                   "at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                       (webhook_id, position, attempt, status, error, at, duration_ms))
        if delivered:
            _advance(store, cursor, webhook_id, position)


def advance(store: ViewStore, webhook_id: str, position: int) -> None:
    """Move the cursor past events of other types (never back)."""
    with store.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        _advance(store, cursor, webhook_id, position)


def _advance(store: ViewStore, cursor: Any, webhook_id: str, position: int) -> None:
    cursor.execute(_sql(store, "UPDATE vl_webhooks SET delivered = ? WHERE id = ? AND delivered < ?"),
                   (position, webhook_id, position))


def _sql(store: ViewStore, statement: str) -> str:
    return statement if store.dialect == "sqlite" else statement.replace("?", "%s")
