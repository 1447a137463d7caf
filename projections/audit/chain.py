"""The audit hash chain (ARCHITECTURE.md "The audit chain"; Art. 21-24: supervision and audit).

Part of the one sequential projection: for every event, in global position order, the handler
stores `(position, prev_hash, hash)` with `hash = sha256(prev_hash ‖ digest)`, `digest = sha256(canonical
JSON of the event)` (`projections/audit/canonical.py` defines the canonical form). `verify` recomputes the chain from the
events as the store holds them now and names the first position that no longer matches: an
altered event, a deleted one, one that appeared without a link, or a broken link in the table.

The chain is a read model, but it is not silently recomputed: `projections rebuild` first checks
the stored chain against the events (`check_for_rebuild`) and stops, naming the first mismatch, if
any event no longer matches its link; only a chain that still matches is replaced. An operator who
meets that stop investigates with `GET /audit/verify`; if the altered history is to be kept (a
restored backup, an ordered correction), `projections rebuild --rechain` re-chains it, and the old
chain's head it prints, and the head published with each public notice (公示), remain the evidence
that the past changed. A chain table of the first form (before issue 15, `canonical.link_v1`) is
recognised by the same check, verified in its own form, and rebuilt in the digest form: after the
upgrade, run `projections rebuild` once; until then `/audit/verify` answers `reason: "old_form"`.

Both verifiers also check the chain against a head published earlier (`head`, `head_position`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple

from projections.audit import canonical, fasthash
from projections.storage import eventlog
from projections.storage.store import ViewStore
from projections.views.model import ReadModel

MODEL = ReadModel("chain")

MODEL.table("CREATE TABLE IF NOT EXISTS vl_audit_chain (position BIGINT PRIMARY KEY, prev_hash TEXT NOT NULL, "
      "hash TEXT NOT NULL)", clustered=True)

_INSERT = "INSERT INTO vl_audit_chain (position, prev_hash, hash) VALUES (?, ?, ?)"
_HEAD = "SELECT position, hash FROM vl_audit_chain ORDER BY position DESC LIMIT 1"
VERIFY_PAGE = 1000  # events (and links) read per statement by verify


@MODEL.handles_all
def link_event(db: Any, event: Any, position: int) -> None:
    """Chain the event to the one before it."""
    head = db.page.get("chain_head")
    if head is None:  # first event of the page: the chain's head as committed
        row = db.one(_HEAD)
        head = (0, canonical.GENESIS) if row is None else (int(row["position"]), row["hash"])
    if position <= head[0]:
        raise RuntimeError(f"audit chain: position {position} is not after the chain's head {head[0]}")
    hash_ = fasthash.link(head[1], canonical.record(event, position))
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


def iter_links(store: ViewStore, after: int, stop: int, page_size: int = 1000) -> Iterator[Link]:
    last = after
    while True:
        links = _links(store.query_tuples("SELECT position, prev_hash, hash FROM vl_audit_chain WHERE position > ? "
                                          f"AND position <= ? ORDER BY position LIMIT {int(page_size)}", [last, stop]))
        yield from links.values()
        if len(links) < page_size:
            return
        last = max(links)


class ChainMismatch(Exception):
    """The stored chain no longer matches the events: a rebuild would re-chain altered history."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(f"audit chain mismatch at position {result.get('position')}: {result.get('reason')}")
        self.result = result


def stored_form(app: Any, store: ViewStore) -> Callable[[str, Any], str]:
    """The link function the stored chain was written with: `canonical.link`, or `link_v1` (old form).

    Decided by the chain's first row; a first row that matches neither is left to `verify` to report.
    """
    row = store.query_one("SELECT position, prev_hash, hash FROM vl_audit_chain ORDER BY position LIMIT 1")
    if row is None:
        return canonical.link
    for page in eventlog.iter_records(app, after=int(row["position"]) - 1, stop=int(row["position"]), page_size=1):
        for rec in page:
            if not isinstance(rec, eventlog.Unreadable) and rec["position"] == int(row["position"]) \
                    and canonical.link(row["prev_hash"], rec) != row["hash"] \
                    and canonical.link_v1(row["prev_hash"], rec) == row["hash"]:
                return canonical.link_v1
    return canonical.link


def check_for_rebuild(app: Any, store: ViewStore) -> dict[str, Any]:
    """The stored chain checked, in the form it was written in, before a rebuild replaces it.

    Raises ChainMismatch naming the first position that no longer matches; returns the check
    (with `form`: "digest" or "v1") when the whole stored chain still matches the events.
    """
    form = stored_form(app, store)
    result = verify(app, store, form=form)
    if not result["ok"]:
        raise ChainMismatch(result)
    return {**result, "form": "v1" if form is canonical.link_v1 else "digest"}


def _iter_events(app: Any, after: int, stop: int) -> Iterator[dict[str, Any] | eventlog.Unreadable]:
    """The records of the stored events, decoded by `fastlog` (issue 21: the library's mapper was half of
    verify's time). Its records equal the mapper's for every stored event (tests/projections/test_fastlog.py)
    and it hands the mapper whatever is unusual, so an altered or unreadable event shows here as there;
    were the two ever to differ, verify would name the event altered: it can give a false alarm, never
    hide a change."""
    from projections.storage import fastlog  # it imports this module

    records = fastlog.Records(app)
    for rows in fastlog.iter_pages(app, after, stop, VERIFY_PAGE):
        for row in rows:
            yield records(row)


def _position(item: dict[str, Any] | eventlog.Unreadable) -> int:
    return item.position if isinstance(item, eventlog.Unreadable) else int(item["position"])


def verify(app: Any, store: ViewStore, from_position: int | None = None, to_position: int | None = None,
           head_hash: str | None = None, head_position: int | None = None,
           form: Callable[[str, Any], str] | None = None) -> dict[str, Any]:
    """Recompute the chain from the stored events and compare it with the stored chain.

    `{"ok": true, "checked": N, "head": {...}}`, or `ok: false` with the first `position` that no
    longer matches and the `reason`: `altered` (its record no longer hashes to its link),
    `unreadable` (its state no longer decodes), `deleted` (chained but gone from the store),
    `unchained` (in the store but never chained: inserted behind the projection's back) or
    `link_broken` (the chain table's own prev_hash no longer names the previous hash), `old_form`
    (the table still holds the chain's first form: run `projections rebuild`), `head_mismatch` (the
    chain's hash at `head_position` is not the published `head_hash`) or `head_not_found` (no
    position in the checked range carries the published head, when its position is not given).
    """
    # The digest form through orjson (fasthash.py: the same bytes as canonical.link).
    link_of = fasthash.link if form is None or form is canonical.link else form
    now = head(store)
    stop = now["position"] if to_position is None else min(to_position, now["position"])
    after = max((from_position or 1) - 1, 0)
    first_row = store.query_one("SELECT prev_hash FROM vl_audit_chain WHERE position > ? ORDER BY position LIMIT 1",
                                [after])
    prev = canonical.GENESIS if after == 0 or first_row is None else first_row["prev_hash"]
    events = _iter_events(app, after, stop)
    links = iter_links(store, after, stop, VERIFY_PAGE)
    event, link = next(events, None), next(links, None)
    checked = 0
    head_found: int | None = None

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
        recomputed = link_of(prev, event)
        if recomputed != link.hash and form is canonical.link_v1 and fasthash.link(prev, event) == link.hash:
            recomputed = link.hash  # a chain of the old form, continued in the digest form after the upgrade
        if recomputed != link.hash:
            if checked == 0 and form is None and canonical.link_v1(prev, event) == link.hash:
                return broken(link.position, "old_form")
            return broken(link.position, "altered", stored_hash=link.hash, recomputed_hash=recomputed)
        if head_hash is not None and (link.position == head_position or head_position is None
                                      and recomputed == head_hash):
            if recomputed != head_hash:
                return broken(link.position, "head_mismatch", published_hash=head_hash, chain_hash=recomputed)
            head_found = link.position
        prev = link.hash
        checked += 1
        event, link = next(events, None), next(links, None)
    if head_hash is not None and head_found is None:
        return broken(head_position if head_position is not None else stop, "head_not_found",
                      published_hash=head_hash)
    published = {} if head_hash is None else {"published_head": {"position": head_found, "hash": head_hash}}
    return {"ok": True, "checked": checked, "head": now, "range": {"from_position": after + 1, "to_position": stop},
            **published}
