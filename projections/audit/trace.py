"""The trace index: every event filed under the subjects it concerns (穿透式追溯, Art. 21-24).

Part of the one sequential projection. Each event is indexed under the subjects its stream and
its fields name, generically: the stream's own subject (a contract, voucher, product, settlement
batch, case, enterprise, provider or year), the singular fields `contract_id`, `claim_id`,
`voucher_id`, `batch_id`, `case_id`, `product_id`, `enterprise_id`, `provider_id`, `year` and a
case's `subject_type`/`subject_id` (the event is *about* these), and the list fields ending in
`contract_ids` or `claim_ids`, or lists of objects carrying `contract_id`/`claim_id` (the event
*mentions* these). A stream's creation event fixes the stream's facts (a voucher's enterprise and
year, a contract's voucher, enterprise, provider, product and year, a batch's year...), which every
later event of the stream and every event naming the stream inherits; a claim's facts (batch,
provider, contracts) come from the event that lists its contracts.

Subject kinds (`vl_trace.subject_kind`, key in `subject_key`):
- every event about or mentioning it: `contract` (id), `batch` (id), `enterprise` (code; events
  with no year), `enterprise-year` and `provider-year` ("code/year"), `provider` (code; events with
  no year), `year` ("2026").
- `*.general`, only the events about the subject as a whole, naming no finer subject (no single
  contract or claim...): `voucher.general` (issuance, quota committed, expiry), `product.general`
  (submission, reviews, listing), `batch.general` (opening, approval, notice, payment),
  `provider.general` (application, termination, cases against it),
  `claim.general`, `case.general`, `provider-year.general` (reviews, signing, cap, exceptions),
  `year.general` (opening, budget, closing). These give a contract's trace its context without
  the thousands of other contracts sharing its year, voucher or provider.

A trace is a few index lookups, then the events read from the store by position
(`projections/audit/trace_queries.py`), never a scan of the store.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterable, Mapping

from projections.views.model import ReadModel

MODEL = ReadModel("trace")

MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_trace (subject_kind TEXT NOT NULL, subject_key TEXT NOT NULL, "
    "position BIGINT NOT NULL, PRIMARY KEY (subject_kind, subject_key, position))",
    clustered=True,
)
# A store upgraded from schema version 3 (`migrate`) had its events indexed before vl_trace_hidden existed:
# the position the views had reached then. A party's trace reaching back to it decides visibility by
# decoding, as before; `projections rebuild` makes fresh tables without the row (projections/storage/schema.py).
MODEL.table("CREATE TABLE IF NOT EXISTS vl_trace_hidden_since (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "position BIGINT NOT NULL)")
MODEL.table("CREATE TABLE IF NOT EXISTS vl_trace_facts (entity TEXT PRIMARY KEY, facts TEXT NOT NULL)")
# The events filed under an enterprise's or provider's key that the party itself may not see (API.md "Data
# each party may see": a voucher's reservation filed under the contract's provider is the enterprise's
# balance), decided when the event is indexed by the traces' own rule (`scope.sees_named`; `Viewer.reduce`
# for a batch's or report's step). A party's year trace then counts and pages its steps without decoding
# them, and decodes only the page (issue 19).
MODEL.table(
    "CREATE TABLE IF NOT EXISTS vl_trace_hidden (party_kind TEXT NOT NULL, party_key TEXT NOT NULL, "
    "position BIGINT NOT NULL, PRIMARY KEY (party_kind, party_key, position))",
    clustered=True,
)

# A stream's own subject: (kind, field holding its natural key, or None for the stream id).
STREAM_SUBJECTS = {
    "Contract": ("contract", None),
    "Voucher": ("voucher", None),
    "Product": ("product", None),
    "SettlementBatch": ("batch", None),
    "Case": ("case", None),
    "Enterprise": ("enterprise", "code"),
    "Provider": ("provider", "code"),
    "Year": ("year", "year"),
}
# Singular fields: the event is about this subject.
ABOUT_FIELDS = {
    "contract_id": "contract", "claim_id": "claim", "voucher_id": "voucher", "batch_id": "batch",
    "case_id": "case", "product_id": "product", "enterprise_id": "enterprise", "provider_id": "provider",
    "year": "year",
}
# Lists naming subjects: the event mentions them (a claim's contracts, a notice's disputed claims).
MENTION_SUFFIXES = (("contract_ids", "contract"), ("claim_ids", "claim"))
ITEM_FIELDS = {"contract_id": "contract", "claim_id": "claim"}
CASE_SUBJECTS = ("enterprise", "provider")
# What a stream's facts keep: the subjects that identify where its money belongs.
FACT_KINDS = ("contract", "voucher", "product", "batch", "case", "enterprise", "provider", "year")
# Subjects whose own facts an event about them inherits.
EXPANDED_KINDS = ("contract", "voucher", "batch", "product", "case")
# For each `*.general` kind: the subjects an event may be about and still concern it as a whole.
GENERAL = {
    "voucher": frozenset({"voucher", "enterprise", "year"}),
    "product": frozenset({"product", "provider", "year"}),
    "batch": frozenset({"batch", "year"}),
    "provider-year": frozenset({"provider", "year"}),
    "provider": frozenset({"provider", "case"}),
    "year": frozenset({"year"}),
}

_INSERT = "INSERT INTO vl_trace (subject_kind, subject_key, position) VALUES (?, ?, ?)"
_INSERT_FACTS = "INSERT INTO vl_trace_facts (entity, facts) VALUES (?, ?)"
_INSERT_HIDDEN = "INSERT INTO vl_trace_hidden (party_kind, party_key, position) VALUES (?, ?, ?)"
PARTY_KINDS = ("enterprise", "provider")

Names = dict[str, set[str]]


# --- what an event names ----------------------------------------------------------------------------

def _key(value: Any) -> str | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    return str(value)


def scan(fields: Mapping[str, Any], about: Names, mentions: Names) -> None:
    """The subjects named by an event's fields (or a record's `data`)."""
    for name, value in fields.items():
        kind = ABOUT_FIELDS.get(name)
        if kind is not None and not isinstance(value, (list, dict)):
            key = _key(value)
            if key is not None:
                about[kind].add(key)
            continue
        if isinstance(value, list):
            listed = next((k for suffix, k in MENTION_SUFFIXES if name.endswith(suffix)), None)
            for item in value:
                if listed is not None and not isinstance(item, (list, dict)):
                    key = _key(item)
                    if key is not None:
                        mentions[listed].add(key)
                elif isinstance(item, Mapping):
                    for item_field, item_kind in ITEM_FIELDS.items():
                        key = _key(item.get(item_field)) if not isinstance(item.get(item_field), (list, dict)) else None
                        if key is not None:
                            mentions[item_kind].add(key)
                    for suffix, item_kind in MENTION_SUFFIXES:
                        for item_name, listed_ids in item.items():
                            if item_name.endswith(suffix) and isinstance(listed_ids, list):
                                mentions[item_kind].update(k for k in map(_key, listed_ids) if k)
    subject_type, subject_id = fields.get("subject_type"), _key(fields.get("subject_id"))
    if subject_type in CASE_SUBJECTS and subject_id is not None:
        about[str(subject_type)].add(subject_id)


def stream_subject(stream_type: str, stream: str, fields: Mapping[str, Any]) -> tuple[str, str] | None:
    spec = STREAM_SUBJECTS.get(stream_type)
    if spec is None:
        return None
    kind, field = spec
    key = stream if field is None else _key(fields.get(field))
    return None if key is None else (kind, key)


# --- facts ----------------------------------------------------------------------------------------

def _facts(db: Any, entity: str) -> dict[str, Any] | None:
    if ("facts", entity) in db.page:  # written this page, perhaps not yet flushed
        return db.page[("facts", entity)]

    def load() -> dict[str, Any] | None:
        row = db.one("SELECT facts FROM vl_trace_facts WHERE entity = ?", [entity])
        return None if row is None else json.loads(row["facts"])

    # Facts never change once written, so the process-wide memo may keep them.
    return db.fact("trace", entity, load)


def _remember(db: Any, entity: str, facts: dict[str, Any]) -> None:
    db.page[("facts", entity)] = facts
    db.remember("trace", entity, facts)


def _record_facts(db: Any, entity: str, facts: dict[str, Any]) -> None:
    db.defer(_INSERT_FACTS, (entity, json.dumps(facts, sort_keys=True, ensure_ascii=False)))
    _remember(db, entity, facts)


def _merge(into: Names, facts: Mapping[str, Iterable[str]]) -> None:
    for kind, keys in facts.items():
        into[kind].update(keys)


def subjects(db: Any, event: Any, position: int) -> tuple[Names, Names]:
    """(about, mentions) of an event, with inherited facts; recording new facts as it goes."""
    cached = db.page.get(("subjects", position))
    if cached is not None:
        return cached
    fields = vars(event)
    stream = str(event.originator_id)
    qualname = type(event).__qualname__
    stream_type = qualname.rsplit(".", 1)[0]
    about: Names = defaultdict(set)
    mentions: Names = defaultdict(set)
    own = stream_subject(stream_type, stream, fields)
    creation = event.originator_version == 1
    if own is not None:
        about[own[0]].add(own[1])
    if not creation:
        facts = _facts(db, stream)
        if facts is not None:
            _merge(about, facts["about"])
    scan(fields, about, mentions)
    # The parties the record names itself or through its stream's facts: the ones `Viewer.parties` finds
    # (a creation's stream facts are its whole expanded `about`: taken below, once expanded).
    if not creation:
        db.page[("named", position)] = {kind: set(about.get(kind, ())) for kind in PARTY_KINDS}
    for kind in EXPANDED_KINDS:
        for key in list(about.get(kind, ())):
            if key != stream:
                facts = _facts(db, key)
                if facts is not None:
                    _merge(about, facts["about"])
    # An event about a claim (its review) or mentioning claims (a notice's objections) concerns the
    # claims' contracts; not so an event about one contract of a claim (it concerns that contract).
    about_contract = bool(about.get("contract"))
    for claim in sorted(about.get("claim", ())):
        facts = _facts(db, f"claim:{claim}")
        if facts is not None:
            _merge(about, facts["about"])
            if not about_contract:
                mentions["contract"].update(facts["contracts"])
    for claim in sorted(mentions.get("claim", ())):
        facts = _facts(db, f"claim:{claim}")
        if facts is not None and not about_contract:
            mentions["contract"].update(facts["contracts"])
    if creation:
        db.page[("named", position)] = {kind: set(about.get(kind, ())) for kind in PARTY_KINDS}
        kept = {kind: sorted(about[kind]) for kind in FACT_KINDS if about.get(kind)}
        if kept:  # credentials and idempotency records concern no subject of the fund
            _record_facts(db, stream, {"kind": own[0] if own else stream_type, "type": stream_type, "about": kept})
    claims = about.get("claim", set())
    if len(claims) == 1 and mentions.get("contract"):
        claim = next(iter(claims))
        if _facts(db, f"claim:{claim}") is None:
            _record_facts(db, f"claim:{claim}", {"kind": "claim", "about": {
                kind: sorted(about[kind]) for kind in ("batch", "provider", "year") if about.get(kind)},
                "contracts": sorted(mentions["contract"])})
    result = (about, mentions)
    db.page[("subjects", position)] = result
    return result


def index_rows(db: Any, about: Names, mentions: Names) -> set[tuple[str, str]]:
    """The (subject_kind, subject_key) rows of an event."""
    rows: set[tuple[str, str]] = set()
    kinds = {kind for kind, keys in about.items() if keys}
    years = sorted(about.get("year", ()))
    for contract in about.get("contract", set()) | mentions.get("contract", set()):
        rows.add(("contract", contract))
    for batch in about.get("batch", ()):
        rows.add(("batch", batch))
    for kind in ("enterprise", "provider"):
        for code in about.get(kind, ()):
            if years:
                rows.update((f"{kind}-year", f"{code}/{year}") for year in years)
            else:
                rows.add((kind, code))
    rows.update(("year", year) for year in years)
    # Context: the event concerns these subjects as a whole.
    if "contract" not in kinds:
        rows.update(("claim.general", claim) for claim in about.get("claim", set()) | mentions.get("claim", set()))
        rows.update(("case.general", case) for case in about.get("case", ()))
    for kind in ("voucher", "product", "batch"):
        if kinds <= GENERAL[kind]:
            rows.update((f"{kind}.general", key) for key in about.get(kind, ()))
    if kinds <= GENERAL["provider"] and not years:
        rows.update(("provider.general", code) for code in about.get("provider", ()))
    if kinds <= GENERAL["provider-year"]:
        rows.update(("provider-year.general", f"{code}/{year}") for code in about.get("provider", ()) for year in years)
    if kinds <= GENERAL["year"]:
        rows.update(("year.general", year) for year in years)
    # Where the contracts it mentions belong: their enterprise's and provider's year, and the year.
    for contract in mentions.get("contract", set()) - about.get("contract", set()):
        facts = _facts(db, contract)
        if facts is None:
            continue
        named = facts["about"]
        for year in named.get("year", ()):
            rows.add(("year", year))
            rows.update(("enterprise-year", f"{code}/{year}") for code in named.get("enterprise", ()))
            rows.update(("provider-year", f"{code}/{year}") for code in named.get("provider", ()))
    return rows


def years_of(db: Any, event: Any, position: int) -> set[str]:
    """The years whose money an event may concern (its own and its mentioned contracts')."""
    about, mentions = subjects(db, event, position)
    years = set(about.get("year", ()))
    for contract in mentions.get("contract", ()):
        facts = _facts(db, contract)
        if facts is not None:
            years.update(facts["about"].get("year", ()))
    return years


@MODEL.handles_all
def index_event(db: Any, event: Any, position: int) -> None:
    """File the event under every subject it concerns."""
    about, mentions = subjects(db, event, position)
    rows = index_rows(db, about, mentions)
    for kind, key in sorted(rows):
        db.defer(_INSERT, (kind, key, position))
    for party_kind, code in sorted(hidden_from(db, event, position, rows)):
        db.defer(_INSERT_HIDDEN, (party_kind, code, position))


def filed_parties(rows: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (enterprise|provider, code) whose traces an event's index rows put it in."""
    return {(kind.split("-", 1)[0], key.split("/", 1)[0]) for kind, key in rows
            if kind in PARTY_KINDS or kind in ("enterprise-year", "provider-year")}


def hidden_from(db: Any, event: Any, position: int, rows: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The parties an event is filed under that may not see it, by the traces' own rules
    (`projections/audit/scope.py`): `sees_named` on the parties the record names itself or through its
    stream's facts (what `Viewer.parties` finds), computed here without building the record; a batch's
    or report's step is asked of `Viewer.reduce` on its canonical record, with the facts the traces read."""
    from projections.audit import canonical, scope  # scope reads the index's queries, which import this module

    filed = filed_parties(rows)
    if not filed:
        return set()
    stream_type = type(event).__qualname__.rsplit(".", 1)[0]
    named = db.page.get(("named", position))
    hidden: set[tuple[str, str]] = set()
    # A batch's and a report's steps are seen by rules of their own (claims, findings), not by whom they name.
    if stream_type not in (scope.BATCH_STREAM, scope.REPORT_STREAM) and named is not None:
        providers = getattr(event, "providers", None)
        if isinstance(providers, dict):
            named = {**named, "provider": named["provider"] | {str(p) for p in providers}}
        return {(kind, code) for kind, code in filed if not scope.sees_named(kind, code, named)}
    record = canonical.record(event, position)
    for kind, code in sorted(filed):
        if scope.Viewer(kind, code, lambda entity: _facts(db, entity)).reduce(record) is None:
            hidden.add((kind, code))
    return hidden
