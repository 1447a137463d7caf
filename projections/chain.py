"""The audit hash chain (ARCHITECTURE.md "The audit chain"; Art. 21-24: supervision and audit).

Part of the one sequential projection: for every event, in global position order, the handler
stores `(position, prev_hash, hash)` with `hash = sha256(prev_hash ‖ canonical JSON of the event)`
(`projections/canonical.py` defines the canonical form). `verify` recomputes the chain from the
events as the store holds them now and names the first position that no longer matches: an
altered event, a deleted one, one that appeared without a link, or a broken link in the table.

The chain is a read model like the others: `projections rebuild` recomputes it from the events as
they are. What makes rewriting history evident is the head hash published with each public notice
(公示): a rebuilt chain over altered events ends in another head.
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from projections import canonical, eventlog
from projections.registry import handles_all, table
from projections.store import ViewStore

table("CREATE TABLE IF NOT EXISTS vl_audit_chain (position BIGINT PRIMARY KEY, prev_hash TEXT NOT NULL, "
      "hash TEXT NOT NULL)", clustered=True)

_INSERT = "INSERT INTO vl_audit_chain (position, prev_hash, hash) VALUES (?, ?, ?)"
_HEAD = "SELECT position, hash FROM vl_audit_chain ORDER BY position DESC LIMIT 1"


@handles_all
def link_event(db: Any, event: Any, position: int) -> None:
    """Chain the event to the one before it."""
    head = db.page.get("chain_head")
    if head is None:  # first event of the page: the chain's head as committed
        row = db.one(_HEAD)
        head = (0, canonical.GENESIS) if row is None else (int(row["position"]), row["hash"])
    if position <= head[0]:
        raise RuntimeError(f"audit chain: position {position} is not after the chain's head {head[0]}")
    hash_ = canonical.link(head[1], canonical.record(event, position))
    db.defer(_INSERT, (position, head[1], hash_))
    db.page["chain_head"] = (position, hash_)


class Link(NamedTuple):  # a tuple: the export builds one per event of the whole store
    position: int
    prev_hash: str
    hash: str


def head(store: ViewStore) -> dict[str, Any]:
    """The chain's head now: `{"position", "hash"}` (position 0 and GENESIS for an empty store)."""
    row = store.query_one(_HEAD)
    if row is None:
        return {"position": 0, "hash": canonical.GENESIS}
    return {"position": int(row["position"]), "hash": row["hash"]}


def _links(rows: list[tuple[Any, ...]]) -> dict[int, Link]:
    return {int(position): Link(int(position), prev_hash, hash_) for position, prev_hash, hash_ in rows}


def links_between(store: ViewStore, first: int, last: int) -> dict[int, Link]:
    """The chain links of positions first..last."""
    return _links(store.query_tuples("SELECT position, prev_hash, hash FROM vl_audit_chain "
                                     "WHERE position >= ? AND position <= ? ORDER BY position", [first, last]))


def links_at(store: ViewStore, positions: list[int], chunk: int = 500) -> dict[int, Link]:
    """The chain links of these positions."""
    found: dict[int, Link] = {}
    for start in range(0, len(positions), chunk):
        part = positions[start:start + chunk]
        found.update(_links(store.query_tuples("SELECT position, prev_hash, hash FROM vl_audit_chain "
                                               f"WHERE position IN ({', '.join('?' * len(part))})", part)))
    return found


def iter_links(store: ViewStore, after: int, stop: int, page_size: int = 1000) -> Iterator[Link]:
    last = after
    while True:
        links = _links(store.query_tuples("SELECT position, prev_hash, hash FROM vl_audit_chain WHERE position > ? "
                                          f"AND position <= ? ORDER BY position LIMIT {int(page_size)}", [last, stop]))
        yield from links.values()
        if len(links) < page_size:
            return
        last = max(links)


def _iter_events(app: Any, after: int, stop: int) -> Iterator[dict[str, Any] | eventlog.Unreadable]:
    for page in eventlog.iter_records(app, after=after, stop=stop):
        yield from page


def _position(item: dict[str, Any] | eventlog.Unreadable) -> int:
    return item.position if isinstance(item, eventlog.Unreadable) else int(item["position"])


def verify(app: Any, store: ViewStore, from_position: int | None = None,
           to_position: int | None = None) -> dict[str, Any]:
    """Recompute the chain from the stored events and compare it with the stored chain.

    `{"ok": true, "checked": N, "head": {...}}`, or `ok: false` with the first `position` that no
    longer matches and the `reason`: `altered` (its record no longer hashes to its link),
    `unreadable` (its state no longer decodes), `deleted` (chained but gone from the store),
    `unchained` (in the store but never chained: inserted behind the projection's back) or
    `link_broken` (the chain table's own prev_hash no longer names the previous hash).
    """
    now = head(store)
    stop = now["position"] if to_position is None else min(to_position, now["position"])
    after = max((from_position or 1) - 1, 0)
    first_row = store.query_one("SELECT prev_hash FROM vl_audit_chain WHERE position > ? ORDER BY position LIMIT 1",
                                [after])
    prev = canonical.GENESIS if after == 0 or first_row is None else first_row["prev_hash"]
    events = _iter_events(app, after, stop)
    links = iter_links(store, after, stop)
    event, link = next(events, None), next(links, None)
    checked = 0

    def broken(position: int, reason: str, **details: Any) -> dict[str, Any]:
        return {"ok": False, "checked": checked, "position": position, "reason": reason, **details,
                "head": now, "range": {"from_position": after + 1, "to_position": stop}}

    while event is not None or link is not None:
        if link is None or (event is not None and _position(event) < link.position):
            assert event is not None
            return broken(_position(event), "unchained")
        if event is None or link.position < _position(event):
            return broken(link.position, "deleted")
        if isinstance(event, eventlog.Unreadable):
            return broken(event.position, "unreadable", error=type(event.error).__name__)
        if link.prev_hash != prev:
            return broken(link.position, "link_broken", expected_prev_hash=prev, stored_prev_hash=link.prev_hash)
        recomputed = canonical.link(prev, event)
        if recomputed != link.hash:
            return broken(link.position, "altered", stored_hash=link.hash, recomputed_hash=recomputed)
        prev = link.hash
        checked += 1
        event, link = next(events, None), next(links, None)
    return {"ok": True, "checked": checked, "head": now, "range": {"from_position": after + 1, "to_position": stop}}
