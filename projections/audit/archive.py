"""A subject's service archive (服务档案, Art. 18(二), 21, 22), read from the events through the trace index.

The entries are the events the trace index files under the enterprise or provider (`projections/audit/
trace.py`: its own stream and its contracts, every year), filtered to the archive's types:
- on the subject's own stream: commitments, spot checks, supervision findings, bad-credit records;
- on its contracts' streams: satisfaction surveys and acceptance checks;
- on the cases whose subject it is: filing (and the finding it came from), sanction, credit record.
Nothing is read from a read model, and `as_of` keeps the entries recorded by then, so an answer (a
provider's grade) can be reproduced for any past instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from ledger import errors
from ledger.grading import RULE, grade, grade_inputs
from projections.audit import trace_queries
from projections.storage import eventlog
from projections.storage.store import ViewStore

OWN_TYPES = ("CommitmentMade", "SpotChecked", "FindingRecorded", "BadCreditRecorded", "Terminated")
CONTRACT_TYPES = ("Contract.SurveyRecorded", "Contract.AcceptanceChecked")
CASE_TYPES = ("Case.Filed", "Case.FindingLinked", "Case.Sanctioned", "Case.CreditRecorded")
# A contract's course, read with the archive for the grade's completion rate.
CONTRACT_COURSE = ("Contract.Signed", "Contract.Completed", "Contract.Terminated")
STREAM_TYPES = {"enterprise": "Enterprise", "provider": "Provider"}


def _archive_types(kind: str, course: bool = False) -> frozenset[str]:
    """Every type `_entries` may keep: only these are decoded (a busy provider's year is thousands of
    events, of which a few are archive entries: decoding them all took 1.1 s at scale 0.1)."""
    return frozenset({f"{STREAM_TYPES[kind]}.{t}" for t in OWN_TYPES} | set(CONTRACT_TYPES) | set(CASE_TYPES)
                     | (set(CONTRACT_COURSE) if course else set()))


def _records(app: Any, store: ViewStore, keys: Iterable[tuple[str, str]],
             as_of: datetime | None, types: frozenset[str]) -> list[dict[str, Any]]:
    with store.read() as db:
        found = trace_queries._positions(db, keys)
    records = eventlog.records_at(app, found, types)
    kept = [r for _, r in sorted(records.items()) if not isinstance(r, eventlog.Unreadable)]
    if as_of is not None:
        kept = [r for r in kept if datetime.fromisoformat(r["recorded_at"]) <= as_of]
    return kept


def _entries(kind: str, code: str, records: list[dict[str, Any]], course: bool = False) -> list[dict[str, Any]]:
    own_types = {f"{STREAM_TYPES[kind]}.{t}" for t in OWN_TYPES}
    cases = {r["stream"] for r in records
             if r["type"] == "Case.Filed" and r["data"].get("subject_type") == kind and r["data"].get("subject_id") == code}
    kept = []
    for record in records:
        kind_of = record["type"]
        if kind_of in own_types or kind_of in CONTRACT_TYPES or (course and kind_of in CONTRACT_COURSE) \
                or (kind_of in CASE_TYPES and record["stream"] in cases):
            kept.append(record)
    return kept


def entry(record: dict[str, Any]) -> dict[str, Any]:
    return {"position": record["position"], "recorded_at": record["recorded_at"], "type": record["type"],
            "stream": record["stream"], "actor": {"role": record["actor_role"], "id": record["actor_id"]},
            "data": record["data"]}


def subject_archive(app: Any, store: ViewStore, kind: str, code: str, *, for_subject: bool = False,
                    as_of: datetime | None = None) -> dict[str, Any]:
    """Every archive entry of an enterprise or provider, in position order.

    Its own view (`for_subject`) leaves out cases still under way (as `GET /cases/{id}` does): a
    case enters the subject's own archive once sanctioned.
    """
    if not trace_queries.has_subject(store, kind, code):
        raise errors.NotFound(f"no {kind} {code}", {"id": code})
    records = _entries(kind, code, _records(app, store, trace_queries.party_keys(store, kind, code), as_of,
                                            _archive_types(kind)))
    if for_subject:
        sanctioned = {r["stream"] for r in records if r["type"] == "Case.Sanctioned"}
        records = [r for r in records if r["type"] not in CASE_TYPES or r["stream"] in sanctioned]
    return {"subject_type": kind, "subject_id": code, "entries": [entry(r) for r in records]}


def provider_year_records(app: Any, store: ViewStore, code: str, year: int,
                          as_of: datetime | None = None) -> list[dict[str, Any]]:
    """A provider's archive of the year and its contracts' course (signed, completed, terminated),
    and the records without a year (its cases and bad credit), as they stood at `as_of`."""
    if not trace_queries.has_subject(store, "provider", code):
        raise errors.NotFound(f"no provider {code}", {"id": code})
    keys = [("provider", code), ("provider-year", f"{code}/{year}")]
    return _entries("provider", code, _records(app, store, keys, as_of, _archive_types("provider", course=True)),
                    course=True)


def provider_grade(app: Any, store: ViewStore, code: str, year: int, as_of: datetime | None = None) -> dict[str, Any]:
    """A provider's grade for the year (分级评价, `ledger/grading.py`), from its archive as it stood at `as_of`."""
    inputs = grade_inputs(code, year, provider_year_records(app, store, code, year, as_of))
    return {"provider_id": code, "year": year, **grade(inputs), "inputs": inputs, "rule": RULE,
            "as_of": None if as_of is None else as_of.isoformat()}
