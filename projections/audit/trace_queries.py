"""Traces served from the trace index (穿透式追溯, API.md "Audit and supervision"; Art. 21-24).

A trace is two rounds: the subject's own positions (with their chain hashes) and its events, then
the context's positions and events. Each round is one read transaction on the views and one
statement on the events table, however many steps: the store is never scanned. The index and the
subject kinds are described in `projections/audit/trace.py`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterable, Mapping

from ledger import errors
from projections.audit.trace import Names, scan, stream_subject
from projections.storage import eventlog
from projections.storage.store import ViewStore

Hashes = dict[int, "str | None"]


def _facts_of(db: Any, entity: str) -> dict[str, Any] | None:
    row = db.one("SELECT facts FROM vl_trace_facts WHERE entity = ?", [entity])
    return None if row is None else json.loads(row["facts"])


def stream_facts(store: ViewStore, entity: str) -> dict[str, Any] | None:
    with store.read() as db:
        return _facts_of(db, entity)


def facts_many(store: ViewStore, entities: Iterable[str], chunk: int = 500) -> dict[str, dict[str, Any] | None]:
    """The facts of many entities in a statement per chunk; None for those that have none."""
    wanted = sorted(set(entities))
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(wanted)
    for start in range(0, len(wanted), chunk):
        part = wanted[start:start + chunk]
        for row in store.query(f"SELECT entity, facts FROM vl_trace_facts WHERE entity IN ({', '.join('?' * len(part))})",
                               part):
            found[row["entity"]] = json.loads(row["facts"])
    return found


def _positions(db: Any, keys: Iterable[tuple[str, str]]) -> Hashes:
    """Positions filed under any of these subjects, with their chain hashes."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    statement = " UNION ".join(
        ["SELECT t.position AS position, c.hash AS hash FROM vl_trace t LEFT JOIN vl_audit_chain c "
         "ON c.position = t.position WHERE t.subject_kind = ? AND t.subject_key = ?"] * len(keys))
    return {int(r["position"]): r["hash"] for r in db.all(statement, [part for key in keys for part in key])}


def positions(store: ViewStore, keys: Iterable[tuple[str, str]]) -> set[int]:
    with store.read() as db:
        return set(_positions(db, keys))


def has_subject(store: ViewStore, kind: str, key: str) -> bool:
    return store.query_one("SELECT position FROM vl_trace WHERE subject_kind = ? AND subject_key = ? LIMIT 1",
                           [kind, key]) is not None


def iter_subject_positions(store: ViewStore, kind: str, key: str, after: int, stop: int,
                           page_size: int = 1000) -> Iterable[list[int]]:
    """Pages of the positions filed under one subject, after < position <= stop, in order."""
    last = after
    while True:
        rows = store.query("SELECT position FROM vl_trace WHERE subject_kind = ? AND subject_key = ? AND position > ? "
                           f"AND position <= ? ORDER BY position LIMIT {int(page_size)}", [kind, key, last, stop])
        if not rows:
            return
        page = [int(r["position"]) for r in rows]
        yield page
        if len(page) < page_size:
            return
        last = page[-1]


def subject_positions_between(store: ViewStore, keys: Iterable[tuple[str, str]], first: int, last: int) -> set[int]:
    """Positions first..last filed under any of these subjects (one export page)."""
    found: set[int] = set()
    for kind, key in sorted(set(keys)):
        found.update(int(r[0]) for r in store.query_tuples(
            "SELECT position FROM vl_trace WHERE subject_kind = ? AND subject_key = ? AND position >= ? "
            "AND position <= ?", [kind, key, first, last]))
    return found


def party_keys(store: ViewStore, kind: str, code: str) -> list[tuple[str, str]]:
    """The index subjects of an enterprise or provider: its own and its every year's ("code/year").

    The years are the store's opened years (a handful), so each key is an exact lookup.
    """
    years = sorted({int(r[0]) for r in store.query_tuples("SELECT year FROM vl_year_ids")})
    return [(kind, code), *((f"{kind}-year", f"{code}/{year}") for year in years)]


def named_by(record: Mapping[str, Any]) -> tuple[Names, Names]:
    """(about, mentions) of a canonical record, from its own stream and fields."""
    about: Names = defaultdict(set)
    mentions: Names = defaultdict(set)
    own = stream_subject(record["stream_type"], record["stream"], record["data"])
    if own is not None:
        about[own[0]].add(own[1])
    scan(record["data"], about, mentions)
    return about, mentions


def _step(record: dict[str, Any] | eventlog.Unreadable, hash_: str | None) -> dict[str, Any]:
    if isinstance(record, eventlog.Unreadable):
        return {"position": record.position, "type": None, "unreadable": True,
                "error": "the stored event no longer decodes; see GET /audit/verify"}
    shown = {
        "position": record["position"], "recorded_at": record["recorded_at"], "stream": record["stream"],
        "stream_type": record["stream_type"], "version": record["version"], "type": record["type"],
        "actor": {"role": record["actor_role"], "id": record["actor_id"]}, "data": record["data"],
        "hash": hash_,
    }
    if record.get("scoped"):
        shown["scoped"] = True
    return shown


def _steps(records: Mapping[int, Any], hashes: Hashes) -> list[dict[str, Any]]:
    return [_step(records[p], hashes.get(p)) for p in sorted(records)]


def _context_keys(records: Iterable[Any]) -> set[tuple[str, str]]:
    """The batches, claims and cases named by these records: their events as a whole join the trace."""
    keys: set[tuple[str, str]] = set()
    for record in records:
        if isinstance(record, eventlog.Unreadable):
            continue
        about, mentions = named_by(record)
        keys.update(("batch.general", b) for b in about.get("batch", ()))
        keys.update(("claim.general", c) for c in about.get("claim", set()) | mentions.get("claim", set()))
        keys.update(("case.general", c) for c in about.get("case", ()))
    return keys


def _other_year(record: Any, year: Any) -> bool:
    if isinstance(record, eventlog.Unreadable) or year is None:
        return False
    own = record["data"].get("year")
    return own is not None and str(own) != str(year)


def _with_context(app: Any, store: ViewStore, own: Hashes, keys: set[tuple[str, str]]) -> dict[str, Any]:
    """The subject's own steps and the context's, read in one more round."""
    records = dict(eventlog.records_at(app, own))
    keys |= _context_keys(records.values())
    with store.read() as db:
        context = {p: h for p, h in _positions(db, keys).items() if p not in own}
    for position, record in eventlog.records_at(app, context).items():
        records[position] = record
    return {"records": records, "hashes": {**context, **own}}


def contract_trace(app: Any, store: ViewStore, contract_id: str) -> dict[str, Any]:
    """Every event of a contract, and what it rests on: identity, voucher, budget, provider, product.

    Back to the enterprise's registration, the voucher's issuance with its quota committed against
    the year's budget, the year's opening and budget allocations, the provider's application and
    signing for the year and the product's listing; forward to its claim, review, approval, notice,
    payment and any sanction.
    """
    with store.read() as db:
        facts = _facts_of(db, contract_id)
        if facts is None or facts.get("kind") != "contract":
            raise errors.NotFound(f"no contract {contract_id}", {"id": contract_id})
        own = _positions(db, [("contract", contract_id)])
    named = facts["about"]
    year = (named.get("year") or [None])[0]
    keys = {("enterprise", e) for e in named.get("enterprise", ())}
    keys.update(("voucher.general", v) for v in named.get("voucher", ()))
    keys.update(("product.general", p) for p in named.get("product", ()))
    keys.update(("provider.general", p) for p in named.get("provider", ()))
    if year is not None:
        keys.add(("year.general", year))
        keys.update(("provider-year.general", f"{p}/{year}") for p in named.get("provider", ()))
    found = _with_context(app, store, own, keys)
    # Context from another year (a product's review for next year) is not this contract's.
    records = {p: r for p, r in found["records"].items() if p in own or not _other_year(r, year)}
    subject = {"type": "contract", "contract_id": contract_id, "year": int(year) if year is not None else None,
               **{f"{kind}_id": (named.get(kind) or [None])[0] for kind in ("voucher", "enterprise", "provider",
                                                                            "product")}}
    return {"subject": subject, "steps": _steps(_own_lines(records, contract_id, subject["provider_id"]),
                                                found["hashes"])}


def _own_lines(records: dict[int, Any], contract_id: str, provider_id: str | None) -> dict[int, Any]:
    """The batch-wide steps of a contract's trace with only its own lines (`scope.contract_lines`)."""
    from projections.audit.scope import contract_lines  # scope reads this module's index queries

    claims = {str(r["data"]["claim_id"]) for r in records.values() if not isinstance(r, eventlog.Unreadable)
              and r["data"].get("claim_id") is not None
              and (str(r["data"].get("contract_id")) == contract_id
                   or contract_id in map(str, r["data"].get("contract_ids") or ()))}
    return {p: r if isinstance(r, eventlog.Unreadable) else contract_lines(r, contract_id, provider_id, claims)
            for p, r in records.items()}


def _batches_named(db: Any, own: Iterable[int]) -> set[str]:
    """The settlement batches filed in the index under any of these positions (a claim, a contract's
    settlement, a payment naming the party's contracts): each batch's positions read on the index's key
    prefix and met with the party's in memory. (Probing 500 positions at a time with `IN` was planned as a
    scan on PostgreSQL: 3.5 s for the busiest provider at scale 0.1.)"""
    positions = set(own)
    found: set[str] = set()
    for row in db.all("SELECT batch_id FROM vl_batches ORDER BY batch_id", []):
        batch = row["batch_id"]
        filed = db.all("SELECT position FROM vl_trace WHERE subject_kind = 'batch' AND subject_key = ?", [batch])
        if any(r["position"] in positions for r in filed):
            found.add(batch)
    return found


def sliced(trace: dict[str, Any], offset: int = 0, limit: int | None = None) -> dict[str, Any]:
    """A page of a trace's steps (issue 19), with how many there are in all."""
    steps = trace["steps"]
    return {**trace, "steps": steps[offset:offset + limit] if limit else steps[offset:], "total": len(steps),
            "offset": offset, "limit": limit}


def _year_trace(app: Any, store: ViewStore, kind: str, code: str, year: int, offset: int = 0,
                limit: int | None = None, viewer: Any = None) -> dict[str, Any]:
    """The party's steps and its context (its year's opening and budget, the batches its steps are filed
    under), every position found in the index first, so that only the page asked for is read and decoded
    (issue 19: a provider's year is thousands of steps).

    With a `viewer` (the party itself, `projections/audit/scope.py`), the steps filed under the party that it
    may not see are left out by the index's `vl_trace_hidden` before paging, and the context's (a few dozen
    steps) by decoding them, so `total` counts what the party sees and only the page of its own steps is
    decoded; the page's steps are then cut down by `scoped`."""
    with store.read() as db:
        if db.one("SELECT position FROM vl_trace WHERE subject_kind = ? AND subject_key = ? LIMIT 1",
                  [kind, code]) is None:
            raise errors.NotFound(f"no {kind} {code}", {"id": code})
        own = _positions(db, [(kind, code), (f"{kind}-year", f"{code}/{year}")])
        keys = {("year.general", str(year))} | {("batch.general", b) for b in _batches_named(db, own)}
        hashes = {**_positions(db, keys), **own}
        if viewer is not None:
            since = db.one("SELECT position FROM vl_trace_hidden_since WHERE id = 1")
            if since is not None and own and min(own) <= int(since["position"]):
                return _decoded_year_trace(app, store, kind, code, year, offset, limit, viewer, hashes)
        hidden = set() if viewer is None else {int(r["position"]) for r in db.all(
            "SELECT position FROM vl_trace_hidden WHERE party_kind = ? AND party_key = ?", [viewer.kind, viewer.code])}
    if viewer is not None:
        # The context (the year's and the batches' steps as a whole) is filed under no party, and a few
        # of its steps are for some parties only (a supervision report's findings): decoded and asked.
        context = eventlog.records_at(app, {p: h for p, h in hashes.items() if p not in own})
        seen = scoped({"steps": _steps(context, hashes)}, viewer, store)["steps"]
        hidden |= set(context) - {step["position"] for step in seen}
    shown = sorted(p for p in hashes if p not in hidden)
    chosen = shown[offset:offset + limit] if limit else shown[offset:]
    records = eventlog.records_at(app, {p: hashes[p] for p in chosen})
    trace = {"subject": {"type": kind, f"{kind}_id": code, "year": year}, "steps": _steps(records, hashes),
             "total": len(shown), "offset": offset, "limit": limit}
    return trace if viewer is None else scoped(trace, viewer, store)


def _decoded_year_trace(app: Any, store: ViewStore, kind: str, code: str, year: int, offset: int,
                        limit: int | None, viewer: Any, hashes: Hashes) -> dict[str, Any]:
    """A party's year on a store upgraded from schema version 3 whose steps reach back before the upgrade
    (`vl_trace_hidden_since`): every step decoded and scoped, then paged."""
    records = eventlog.records_at(app, hashes)
    whole = scoped({"subject": {"type": kind, f"{kind}_id": code, "year": year},
                    "steps": _steps(records, hashes)}, viewer, store)
    return sliced(whole, offset, limit)


def enterprise_trace(app: Any, store: ViewStore, enterprise_id: str, year: int, offset: int = 0,
                     limit: int | None = None, viewer: Any = None) -> dict[str, Any]:
    """An enterprise's year: its registration, vouchers, contracts, claims, settlements and sanctions,
    with the year's opening and budget and the batches that paid its contracts."""
    return _year_trace(app, store, "enterprise", enterprise_id, year, offset, limit, viewer)


def provider_trace(app: Any, store: ViewStore, provider_id: str, year: int, offset: int = 0,
                   limit: int | None = None, viewer: Any = None) -> dict[str, Any]:
    """A provider's year: application, reviews and signing, cap and exceptions, products, contracts,
    claims, settlements, receivables and sanctions, with the year's budget and its batches."""
    return _year_trace(app, store, "provider", provider_id, year, offset, limit, viewer)


def settlement_trace(app: Any, store: ViewStore, batch_id: str) -> dict[str, Any]:
    """A settlement batch: opening, every claim and review, approval, notice, payment, each contract
    redeemed and settled, withdrawals by sanctions, with its year's opening and budget."""
    with store.read() as db:
        facts = _facts_of(db, batch_id)
        if facts is None or facts.get("kind") != "batch":
            raise errors.NotFound(f"no settlement batch {batch_id}", {"id": batch_id})
        year = (facts["about"].get("year") or [None])[0]
        keys = {("batch", batch_id)} | ({("year.general", year)} if year is not None else set())
        found = _positions(db, keys)
    records = eventlog.records_at(app, found)
    return {"subject": {"type": "settlement", "batch_id": batch_id, "year": int(year) if year is not None else None},
            "steps": _steps(records, found)}


def scoped(trace: dict[str, Any], viewer: Any, store: ViewStore | None = None) -> dict[str, Any]:
    """A trace as an enterprise or provider may see it (`projections/audit/scope.py`); whole for readers of every subject.

    Steps that concern only others are left out; shared steps keep the viewer's own lines (`scoped`).
    """
    if viewer is None:
        return trace
    if store is not None:
        viewer.prime(facts_many(store, viewer.wanted([s for s in trace["steps"] if not s.get("unreadable")])))
    steps = []
    for step in trace["steps"]:
        if step.get("unreadable"):
            steps.append(step)  # shows nothing but that the stored event no longer decodes
            continue
        seen = viewer.reduce(step)
        if seen is not None:
            steps.append(seen)
    return {**trace, "steps": steps}
