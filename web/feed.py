"""Following the ledger (API.md "Following the ledger (integrations)"): the event feed with long poll.

`GET /api/v1/events?after=POSITION[&limit=N][&wait=SECONDS][&types=A,B]` (supervisor, auditor and the
machine role `integration`) → `{"events": [...], "next": POSITION}`: the export's whole lines in
position order, each with its chain links (projections/audit/feed.py). `limit` is 1..1000 (100 by
default); `wait` (0..30 seconds) holds the request until an event after `after` is chained or the
wait ends (then `events` is empty and `next` is `after`): it answers within milliseconds of a
command committed by any process (projections/storage/listen.py). A long poll holds one of the
server's threads for its wait: size `serve --threads` for the followers expected.
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

from ledger.access import require_reader
from ledger.rules import AUDITOR, INTEGRATION, SUPERVISOR
from projections.audit import feed
from projections.storage.listen import LogWatch
from web.auth import current_actor
from web.blueprint import Blueprint
from web.commands import ledger_app, views

MAX_WAIT_S = 30
FOLLOWERS = (SUPERVISOR, AUDITOR, INTEGRATION)
TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63})?$")


class TypeList(fields.String):
    """Comma-separated event classes ("Voucher.Reserved") or aggregates ("Voucher"); at most 50."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        text = super()._deserialize(value, attr, data, **kwargs)
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names or len(names) > 50 or not all(TYPE_NAME.match(name) for name in names):
            raise ValidationError("a comma-separated list of 1 to 50 event types (Voucher.Reserved) or aggregates (Voucher)")
        return names


class FeedQuery(Schema):
    after = fields.Integer(strict=False, load_default=0, validate=validate.Range(min=0, max=2**62),
                           metadata={"description": "the last position already read (0: from the start)"})
    limit = fields.Integer(strict=False, load_default=feed.DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=feed.MAX_LIMIT))
    wait = fields.Float(load_default=0, validate=validate.Range(min=0, max=MAX_WAIT_S),
                        metadata={"description": "seconds to hold the request until an event arrives (long poll)"})
    types = TypeList(metadata={"description": "comma-separated event types or aggregates, e.g. "
                                              "`Voucher.Reserved,Contract`"})


class FeedSchema(Schema):
    events = fields.List(fields.Dict(), metadata={
        "description": "export lines (API.md \"Audit and supervision\"): position, recorded_at, stream, stream_type, "
                       "version, type, actor_role, actor_id, data, prev_hash, hash"})
    next = fields.Integer(metadata={"description": "pass as `after` in the next request"})


blp = Blueprint("feed", __name__, url_prefix="/api/v1", description="事件订阅 Following the ledger")


def log_watch() -> LogWatch:
    """This process's watch on the store's log (one listening connection on PostgreSQL, shared)."""
    watch = current_app.extensions.get("ledger_watch")
    if watch is None:
        watch = current_app.extensions.setdefault("ledger_watch", LogWatch(ledger_app()))
    return watch


@blp.get("/events")
@blp.arguments(FeedQuery, location="query")
@blp.response(200, FeedSchema)
def events(args: dict[str, Any]) -> Any:
    """The events after a position, in position order, with their chain links; `wait` long-polls."""
    require_reader(current_actor(), roles=FOLLOWERS)
    after, limit, types = args["after"], args["limit"], args.get("types")
    deadline = time.monotonic() + args["wait"]
    while True:
        found, next_position = feed.read(ledger_app(), views().store, after, limit, types)
        remaining = deadline - time.monotonic()
        if found or remaining <= 0:
            return {"events": found, "next": next_position}
        if next_position == after and log_watch().head() > after:
            # Events beyond `after` that this read could not reach (the read models far behind a reader
            # past the chain's head): look again shortly rather than spin.
            time.sleep(min(0.05, remaining))
            continue
        # Skipped lines of other types are not read again; then hold until the log grows past them.
        after = next_position
        log_watch().wait_beyond(after, remaining)
