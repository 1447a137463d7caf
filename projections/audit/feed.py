"""The event feed (API.md "Following the ledger"): the export's lines after a position, for machines.

`read(app, store, after, limit, types)` answers `(events, next)`: at most `limit` whole export lines
(`projections/audit/export.py`: the canonical record with its `prev_hash` and `hash`, so a follower
can check the chain as it reads) with `after < position`, in position order, up to the chain's head
(an event is in the feed once the views have chained it); `next` is the position to ask after next
time. With `types`, only lines whose `type` ("Voucher.Reserved") or `stream_type` ("Voucher") is
named are returned, and `next` moves past the lines skipped, so a filtered follower never reads them
again; one call scans at most MAX_SCAN positions, so a rare type never makes a request read the
whole store (the answer is then empty, with `next` further on).

The webhooks' delivery worker (service/delivery.py) reads its events through the same function.
"""

from __future__ import annotations

from typing import Any, Sequence

from projections.audit import chain, export
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
    head = chain.head(store)["position"]
    events: list[dict[str, Any]] = []
    next_position = after
    if head <= after or limit <= 0:
        return events, next_position
    page_size = export.PAGE_SIZE if types else min(limit, export.PAGE_SIZE)
    scanned = 0
    for page in export.record_pages(app, store, after, head, page_size):
        for line in page:
            if matches(line, types):
                events.append(line)
            next_position = line["position"]
            if len(events) >= limit:
                return events, next_position
        scanned += len(page)
        if scanned >= MAX_SCAN:
            break
    return events, next_position
