"""What an enterprise or provider may see of a record (API.md "Data each party may see"; Art. 21-24).

An enterprise or provider sees its own subjects only: in its traces, batch views and its statement
(资金凭证) every other party's identity facts, amounts, caps and totals are left out. `Viewer.reduce`
answers, for one canonical record:
- the record unchanged: it concerns the viewer alone, or no party at all (a year's opening and
  budget), or it is the viewer's own contract (both sides are parties to it);
- None: it concerns only others (another enterprise's registration, another provider's
  application, products, years and claims, a claim or withdrawal of another's contract, also
  one from a claim the viewer shares);
- a copy with `data` cut down and `"scoped": true`: a shared step, shown with the viewer's own lines
  only: a batch's approval and payment keep the viewer's entry of `providers` (an enterprise has
  none: its amounts are its contracts' own steps) and lose the batch-wide totals (`amount_fen`,
  `contracts`); lists of contracts or claims keep the viewer's, and so do maps keyed by contract
  id (`BY_CONTRACT`: a claim's `amounts_fen`, a payment's `held_back`, the contracts it found held
  or failed, with their claims and amounts); a claim naming an enterprise's contracts among others
  keeps those contracts' amounts and loses the claim's total and the provider's documents; the
  viewer's contract loses the other side's figures (`OTHER_SIDE`).

A scoped step keeps its chain `hash` (the link of the whole record), so it is evidence of where
the step sits, not of the cut-down data; in the party's export such a record is a redacted line
(`projections/audit/export.py`), which verifies without it.

Which party a record concerns comes from the record's own fields (`enterprise_id`, `provider_id`,
a stream's code, a case's subject, the keys of `providers`) and the facts the trace index keeps of
its stream, claim and contracts (`vl_trace_facts`, projections/audit/trace.py), looked up by `facts`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

from projections.audit import trace_queries
from projections.audit.trace import Names

ENTERPRISE, PROVIDER = "enterprise", "provider"
PARTIES = (ENTERPRISE, PROVIDER)
# Figures in a contract's events that belong to the other side: the provider's cap, the voucher's balance.
OTHER_SIDE = {ENTERPRISE: frozenset({"provider_cap_fen", "provider_exceptions_fen"}),
              PROVIDER: frozenset({"voucher_available_fen"})}
# Fields of a batch step that add up every party's claims.
BATCH_TOTALS = frozenset({"amount_fen", "contracts"})
# Fields of a batch step keyed by contract id: a claim's amounts, the contracts a payment held back.
BY_CONTRACT = frozenset({"amounts_fen", "held_back"})
BATCH_STREAM = "SettlementBatch"
# A supervision report names many subjects in its findings: each party sees its own findings only.
REPORT_STREAM = "SupervisionReport"
FACTS_MEMO = 10_000  # facts kept per viewer (an export reads the whole store: memory stays bounded)

Facts = Callable[[str], "dict[str, Any] | None"]


def sees_named(kind: str, code: str, named: Names) -> bool:
    """May this party see a record (not a batch's or report's step) naming these parties: its own, or one
    naming no party at all. The trace index decides its `vl_trace_hidden` by this too (trace.py)."""
    return code in named[kind] or not (named[ENTERPRISE] | named[PROVIDER])


class Viewer:
    """An enterprise or provider (`kind`, `code`) reading records; `facts(entity)` reads vl_trace_facts."""

    def __init__(self, kind: str, code: str, facts: Facts) -> None:
        if kind not in PARTIES:
            raise ValueError(f"a viewer is an enterprise or a provider, not {kind!r}")
        self.kind, self.code = kind, code
        self._lookup = facts
        self._memo: OrderedDict[str, dict[str, Any] | None] = OrderedDict()

    def prime(self, found: dict[str, dict[str, Any] | None]) -> None:
        """Facts read ahead in bulk (a trace's streams, contracts and claims): no lookup one by one."""
        for entity, facts in found.items():
            self._memo[entity] = facts

    def wanted(self, records: list[dict[str, Any]]) -> set[str]:
        """The entities whose facts `reduce` may ask for, for these records."""
        entities: set[str] = set()
        for record in records:
            if record.get("stream") is None:
                continue
            entities.add(str(record["stream"]))
            for name, value in record["data"].items():
                if name == "contract_id" or name == "claim_id":
                    entities.add(str(value) if name == "contract_id" else f"claim:{value}")
                elif name.endswith("contract_ids") and isinstance(value, list):
                    entities.update(map(str, value))
                elif name.endswith("claim_ids") and isinstance(value, list):
                    entities.update(f"claim:{c}" for c in value)
                elif name in BY_CONTRACT and isinstance(value, dict):
                    entities.update(map(str, value))
        return entities

    def facts(self, entity: str) -> dict[str, Any] | None:
        if entity in self._memo:
            return self._memo[entity]
        found = self._memo[entity] = self._lookup(entity)
        if len(self._memo) > FACTS_MEMO:
            self._memo.popitem(last=False)
        return found

    # --- whose is it ------------------------------------------------------------------------------

    def parties(self, record: dict[str, Any]) -> Names:
        """The enterprises and providers a record names, itself or through its stream's facts."""
        named: Names = {ENTERPRISE: set(), PROVIDER: set()}
        about, _ = trace_queries.named_by(record)
        stream_facts = self.facts(record["stream"]) or {}
        for kind in PARTIES:
            named[kind].update(about.get(kind, ()))
            named[kind].update(stream_facts.get("about", {}).get(kind, ()))
        providers = record["data"].get("providers")
        if isinstance(providers, dict):
            named[PROVIDER].update(str(k) for k in providers)
        return named

    def own_contract(self, contract_id: Any) -> bool:
        facts = self.facts(str(contract_id)) or {}
        return self.code in facts.get("about", {}).get(self.kind, ())

    def own_claim(self, claim_id: Any) -> bool:
        facts = self.facts(f"claim:{claim_id}") or {}
        if self.kind == PROVIDER:
            return self.code in facts.get("about", {}).get(PROVIDER, ())
        return any(self.own_contract(c) for c in facts.get("contracts", ()))

    # --- what it may see --------------------------------------------------------------------------

    def reduce(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record as this viewer may see it: unchanged, cut down (`scoped`), or None."""
        if record["stream_type"] == BATCH_STREAM:
            return self._batch_step(record)
        if record["stream_type"] == REPORT_STREAM:
            return self._report_step(record)
        named = self.parties(record)
        if not sees_named(self.kind, self.code, named):
            return None
        others = (named[ENTERPRISE] | named[PROVIDER]) - {self.code}
        return self._without(record, OTHER_SIDE[self.kind] & record["data"].keys()) if others else record

    def shows_whole(self, record: dict[str, Any]) -> bool:
        """True when the viewer may see the whole record (its statement then carries it unredacted)."""
        return self.reduce(record) is record

    def _batch_step(self, record: dict[str, Any]) -> dict[str, Any] | None:
        data = record["data"]
        claim_id, contract_id = data.get("claim_id"), data.get("contract_id")
        if claim_id is not None:
            if not self.own_claim(claim_id):
                return None
            if self.kind == PROVIDER:
                return record  # the provider's own claim, reviewed or withdrawn from
            if contract_id is not None and not self.own_contract(contract_id):
                return None  # another enterprise's contract leaving a claim this one shares
        elif contract_id is not None:
            return record if self.own_contract(contract_id) else None
        elif self.kind == PROVIDER and data.get("provider_id") not in (None, self.code):
            return None
        kept = lines_of(data, provider=lambda code: self.kind == PROVIDER and code == self.code,
                        contract=self.own_contract, claim=self.own_claim, totals=False)
        if kept == data:
            return record
        return {**record, "data": kept, "scoped": True}

    def _report_step(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """A supervision report's filing, cut down to the viewer's own findings (none: not shown); a
        referral to a case is the operator's step, seen by the subject through its case once sanctioned."""
        findings = record["data"].get("findings")
        if not isinstance(findings, list):
            return None
        own = [f for f in findings if isinstance(f, dict) and f.get("subject_type") == self.kind
               and f.get("subject_id") == self.code]
        if not own:
            return None
        return {**record, "data": {**record["data"], "findings": own}, "scoped": True}

    def _without(self, record: dict[str, Any], names: set[str] | frozenset[str]) -> dict[str, Any]:
        if not names:
            return record
        return {**record, "data": {k: v for k, v in record["data"].items() if k not in names}, "scoped": True}


def lines_of(data: dict[str, Any], *, provider: Callable[[str], bool], contract: Callable[[Any], bool],
             claim: Callable[[Any], bool], totals: bool) -> dict[str, Any]:
    """A batch-wide step's data with only the lines these predicates keep: `providers` entries, lists of
    contracts and claims, maps keyed by contract (`BY_CONTRACT`); the batch's totals and a claim's
    documents too when `totals`, else they are left out."""
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if name == "providers" and isinstance(value, dict):
            kept[name] = {k: v for k, v in value.items() if provider(str(k))}
        elif name.endswith("contract_ids") and isinstance(value, list):
            kept[name] = [c for c in value if contract(c)]
        elif name in BY_CONTRACT and isinstance(value, dict):
            kept[name] = {c: v for c, v in value.items() if contract(c)}
        elif name.endswith("claim_ids") and isinstance(value, list):
            kept[name] = [c for c in value if claim(c)]
        elif not totals and (name in BATCH_TOTALS or name == "documents"):
            continue  # the batch's or another party's claim's figures and materials
        else:
            kept[name] = value
    return kept


def contract_lines(record: dict[str, Any], contract_id: str, provider_id: str | None,
                   claim_ids: set[str]) -> dict[str, Any]:
    """A batch-wide step (approval, notice, payment) as a contract's trace shows it to every reader: the
    batch's totals and references, with only this contract's lines (its provider's entry, its claim, its
    own amount), `"scoped": true`. The whole step, every provider's lines, is the batch's trace's
    (`GET /trace/settlements/{batch_id}`), and `hash` links the whole record.

    Why: at scale 1 a payment lists 1,883 providers (195 KB), so every settled contract's trace carried
    about 400 KB of other contracts' lines, and took p99 15 ms over HTTP against a 10 ms target (issue 21).
    A step about one claim or contract is left whole: it is this contract's claim.
    """
    data = record["data"]
    if record["stream_type"] != BATCH_STREAM or data.get("claim_id") is not None or data.get("contract_id") is not None:
        return record
    kept = lines_of(data, provider=lambda code: code == provider_id, contract=lambda c: str(c) == contract_id,
                    claim=lambda c: str(c) in claim_ids, totals=True)
    return record if kept == data else {**record, "data": kept, "scoped": True}


def viewer_of(actor: Any, facts: Facts) -> Viewer | None:
    """The viewer an actor reads as: an enterprise or provider bound to its subject; None for the rest."""
    if getattr(actor, "role", None) in PARTIES and getattr(actor, "subject", None):
        return Viewer(actor.role, actor.subject, facts)
    return None
