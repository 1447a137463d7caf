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

The chain links a digest of each record: `digest = sha256(canonical JSON of the record)` and
`hash = sha256(prev_hash + digest)`, both hex (64 lower-case hex digits), over the UTF-8 bytes of
the text; `prev_hash` is the previous event's hash in position order over the whole store, and 64
zeros before the first event (GENESIS). Positions may have gaps (PostgreSQL); the chain links each
event to the one before it that exists. The digest step lets an export leave a record out and keep
the chain: a redacted line `{"position", "prev_hash", "hash", "redacted": digest}` verifies
without its record (API.md "Audit and supervision").

Until issue 15 the chain hashed the record's text itself (`hash = sha256(prev_hash + canonical
JSON)`, `link_v1`); a chain table of that form is recognised by `projections rebuild`, checked in
its own form, and rebuilt in this one (projections/audit/chain.py).

CSV cells: a cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a
leading `'` (OWASP CSV injection); so is a cell that itself begins with `'`, so that un-escaping
(strip one leading `'`) gives back every value exactly.
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
# A line outside an export's filter: its position and links, and the digest of the record left out.
REDACTED = "redacted"
REDACTED_FIELDS = ("position", "prev_hash", "hash", REDACTED)
# The CSV export's header row: exactly the field names, then the column of the redaction digest
# (empty on a full line; on a redacted line the record's cells are empty).
CSV_FIELDS = (*EXPORT_FIELDS, REDACTED)
CSV_ESCAPE = "'"
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", CSV_ESCAPE)
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


_UPCAST_DEFAULTS: dict[type, dict[str, Any]] = {}


def upcast_defaults(cls: type) -> dict[str, Any]:
    """The fields an event class's upcasters add to an old event, with the values they give them.

    An event stored before a field was added (EVENTSOURCING.md: `class_version`, `upcast_vN_vN+1`) reads
    back with the field at its default; its chain link was computed without it. So a field at the value
    the upcasters give it is left out of the record: the record stays what was stored, and the chain of
    old events verifies after the upgrade. Found by running the upcasters on an empty state (an
    upcaster that reshapes existing fields adds no default).
    """
    try:
        return _UPCAST_DEFAULTS[cls]
    except KeyError:
        pass
    state: dict[str, Any] = {}
    for version in range(1, int(getattr(cls, "class_version", 1))):
        try:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        except Exception:  # noqa: BLE001 - it needs existing fields: it adds none with a default
            continue
    _UPCAST_DEFAULTS[cls] = state
    return state


def record(event: Any, position: int) -> dict[str, Any]:
    """The canonical record of a domain event at its position in the log (upcast defaults left out)."""
    qualname = type(event).__qualname__
    fields = vars(event)
    actor = fields.get("actor")
    defaults = upcast_defaults(type(event))
    data = {name: plain(value) for name, value in fields.items()
            if name not in OWN_FIELDS and not (name in defaults and value == defaults[name])}
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


def digest(rec: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the record's fields (RECORD_FIELDS), hex."""
    body = canonical_json({name: rec[name] for name in RECORD_FIELDS})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def chain_hash(prev_hash: str, record_digest: str) -> str:
    """sha256(prev_hash ‖ digest), hex: the link of a record, or of a redacted line, to the one before."""
    return hashlib.sha256((prev_hash + record_digest).encode("utf-8")).hexdigest()


def link(prev_hash: str, rec: Mapping[str, Any]) -> str:
    """The chain hash of a record: sha256(prev_hash ‖ digest of the record), hex."""
    return chain_hash(prev_hash, digest(rec))


def link_v1(prev_hash: str, rec: Mapping[str, Any]) -> str:
    """The chain's first form (before issue 15): sha256(prev_hash ‖ canonical JSON of the record)."""
    body = canonical_json({name: rec[name] for name in RECORD_FIELDS})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def csv_escape(cell: str) -> str:
    """A CSV cell that no spreadsheet reads as a formula (OWASP CSV injection)."""
    return CSV_ESCAPE + cell if cell.startswith(_CSV_TRIGGERS) else cell


def csv_unescape(cell: str) -> str:
    """The value `csv_escape` wrote: one leading `'` stripped."""
    return cell[1:] if cell.startswith(CSV_ESCAPE) else cell
