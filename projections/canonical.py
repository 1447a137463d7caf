"""The canonical form of an event and the audit hash chain over it (ARCHITECTURE.md, "The audit chain").

One module, used by the chain projection, `GET /audit/verify`, the export and the offline
`voucher-ledger verify-export`; it imports nothing but the standard library, so an auditor can
check an export with this file alone.

The record of an event (its canonical form)
-------------------------------------------
    {"position":    global position in the store's notification log (int),
     "recorded_at": the event's timestamp, UTC, ISO 8601 with microseconds
                    ("2026-06-01T02:03:04.000005+00:00"),
     "stream":      the aggregate (originator) id, as a string,
     "stream_type": the aggregate class name ("Voucher"),
     "version":     the event's version in its stream (int, from 1),
     "type":        the event class's qualified name ("Voucher.Reserved"),
     "actor_role":  the role of who acted ("" if none), "actor_id": their id ("" if none),
     "data":        every other field of the event: `request_id`, the amounts (integer fen,
                    `*_fen`), the rule parameters applied, document references...; UUIDs as
                    strings, datetimes as above, dates as "YYYY-MM-DD"}

Canonical JSON: keys sorted at every level, separators "," and ":" (no spaces), non-ASCII
characters as themselves (`ensure_ascii=False`), encoded as UTF-8.

The chain: `hash = sha256(prev_hash + canonical JSON of the record)`, hex digest (64 lowercase
hex digits), over the UTF-8 bytes of the concatenated text; `prev_hash` is the previous event's
hash in position order over the whole store, and 64 zeros before the first event (GENESIS).
Positions may have gaps (PostgreSQL); the chain links each event to the one before it that exists.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Mapping
from uuid import UUID

GENESIS = "0" * 64

# The record's fields, in export order; the export adds PREV_HASH and HASH after them.
RECORD_FIELDS = ("position", "recorded_at", "stream", "stream_type", "version", "type", "actor_role", "actor_id",
                 "data")
EXPORT_FIELDS = (*RECORD_FIELDS, "prev_hash", "hash")
# Column headers of the CSV export: Chinese first (on-screen text), then the field name.
EXPORT_LABELS = {
    "position": "位置 position",
    "recorded_at": "记录时间 recorded_at",
    "stream": "事件流 stream",
    "stream_type": "流类型 stream_type",
    "version": "版本 version",
    "type": "事件类型 type",
    "actor_role": "操作角色 actor_role",
    "actor_id": "操作人 actor_id",
    "data": "数据 data",
    "prev_hash": "前一哈希 prev_hash",
    "hash": "哈希 hash",
}
MANIFEST_MARK = "#manifest"  # first cell of the CSV export's last row; the second cell is the manifest JSON

# Event attributes that the record carries in its own fields rather than in `data`.
OWN_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "actor"})


def instant(value: datetime) -> str:
    """A timestamp in the record's one format: UTC, microseconds, "+00:00"."""
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


_SCALARS = frozenset({str, int, bool, type(None)})
ACTOR_KEYS = frozenset({"role", "id"})


def plain(value: Any) -> Any:
    """The JSON value of an event field: UUID → str, datetime → `instant`, date → ISO, Decimal → str."""
    kind = type(value)
    if kind in _SCALARS:  # most fields: exact types first, no ABC checks (issue 7: every event passes here)
        return value
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        # Events never carry floats (money is fen); refuse rather than hash an unstable repr.
        raise TypeError("floats have no canonical form in the ledger's events")
    raise TypeError(f"no canonical form for {type(value).__name__}")


def record(event: Any, position: int) -> dict[str, Any]:
    """The canonical record of a domain event at its position in the log."""
    qualname = type(event).__qualname__
    fields = vars(event)
    actor = fields.get("actor")
    data = {name: plain(value) for name, value in fields.items() if name not in OWN_FIELDS}
    is_mapping = type(actor) is dict or isinstance(actor, Mapping)  # the exact type first: every event passes
    if actor is not None and not (is_mapping and actor.keys() <= ACTOR_KEYS):
        data["actor"] = plain(actor)  # an actor of another shape is hashed whole, never dropped
    actor = actor if is_mapping else {}
    return {
        "position": int(position),
        "recorded_at": instant(fields["timestamp"]),
        "stream": str(fields["originator_id"]),
        "stream_type": qualname.rsplit(".", 1)[0] if "." in qualname else qualname,
        "version": int(fields["originator_version"]),
        "type": qualname,
        "actor_role": str(actor.get("role") or ""),
        "actor_id": str(actor.get("id") or ""),
        "data": data,
    }


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, non-ASCII as itself."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def link(prev_hash: str, rec: Mapping[str, Any]) -> str:
    """The chain hash of a record: sha256(prev_hash ‖ canonical JSON of the record), hex."""
    body = canonical_json({name: rec[name] for name in RECORD_FIELDS})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()
