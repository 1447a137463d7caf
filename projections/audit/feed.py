"""The event feed (API.md "Following the ledger"): the export's lines after a position, for machines.

`read(app, store, after, limit, types)` answers `(events, next)`: at most `limit` whole export lines
(`projections/audit/export.py`: the canonical record with its `prev_hash` and `hash`, so a follower
can check the chain as it reads) with `after < position`, in position order, up to the store's head;
`next` is the position to ask after next time. An event the chain projection has not linked yet
gets its link here, from the chain's head and the same canonical record (`canonical.link`): the very
link the projection stores a moment later, so the feed need not wait for the read models (a long
poll answers within milliseconds of a commit in any process). With `types`, only lines whose `type` ("Voucher.Reserved") or `stream_type` ("Voucher") is
named are returned, and `next` moves past the lines skipped, so a filtered follower never reads them
again; one call scans at most MAX_SCAN positions, so a rare type never makes a request read the
whole store (the answer is then empty, with `next` further on).

The webhooks' delivery worker (service/delivery.py) reads its events through the same function.
"""

from __future__ import annotations

from typing import Any, Sequence

from projections.audit import canonical, chain, export
from projections.storage.store import ViewStore

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SCAN = 10 * export.PAGE_SIZE


def matches(line: dict[str, Any], types: Sequence[str] | None) -> bool:
    """Whether an export line is of one of `types` (an event class or an aggregate's name); all if none."""
    return not types or line.get("type") in types or line.get("stream_type") in types


def read(app: Any, store: ViewStore, after: int, limit: int = DEFAULT_LIMIT,
         types: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` export lines after `after` (of `types`), and the position to read after next."""
    top = app.recorder.max_notification_id() or 0
    events: list[dict[str, Any]] = []
    next_position = after
    if top <= after or limit <= 0:
        return events, next_position
    linked = chain.head(store)
    # Read from the chain's head when the reader is past it: the links of the events after it follow from its hash.
    start = min(after, linked["position"])
    previous = linked["hash"] if start == linked["position"] else None
    page_size = export.PAGE_SIZE if types or start < after else min(limit, export.PAGE_SIZE)
    scanned = 0
    for page in export.record_pages(app, store, start, top, page_size):
        for line in page:
            if line["hash"] is None:
                if previous is None or line["type"] is None:
                    return events, next_position  # unchained and not linkable here (an unreadable event)
                line["prev_hash"] = previous
                line["hash"] = canonical.link(previous, {name: line[name] for name in canonical.RECORD_FIELDS})
            previous = line["hash"]
            if line["position"] <= after:
                continue
            if matches(line, types):
                events.append(line)
            next_position = line["position"]
            if len(events) >= limit:
                return events, next_position
        scanned += len(page)
        if scanned >= MAX_SCAN:
            break
    return events, next_position
