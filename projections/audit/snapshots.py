"""Snapshots and cached aggregates checked against the events they came from (`GET /audit/verify`).

API.md "Audit and supervision": "snapshots and every cached state are checked against the events
they came from, so a changed snapshot row is reported, never used". The repository checks a
snapshot before its first use in a process (`ledger/cache.py`); here the auditor's verification
checks every stored snapshot, every aggregate in this process's cache, and reports what the
repository found at load time.

Every snapshot of a stream is compared with one incremental fold of that stream's events (one
replay per snapshotted aggregate, however many snapshots it has). Snapshots are read from the
library's own snapshots table, a page at a time, in (stream, version) order: `ledger/` knows no
SQL (ARCHITECTURE.md), so the bulk read lives in projections/storage/snapshots.py and the comparison
in the repository.
"""

from __future__ import annotations

from typing import Any, Iterator
from uuid import UUID

from ledger.cache import mutate_all
from projections.storage.snapshots import stored_snapshots


def _stream_id(stored_id: Any) -> str:
    """A stream id as the ledger writes it (SQLite keeps a UUID as 32 hex digits)."""
    try:
        return str(UUID(str(stored_id)))
    except ValueError:
        return str(stored_id)


def _by_stream(app: Any, unreadable: list[dict[str, Any]]) -> Iterator[list[Any]]:
    """The decoded snapshots of one stream at a time, in version order; those that no longer decode go to `unreadable`."""
    mapper = app.snapshots.mapper
    stream: list[Any] = []
    for stored in stored_snapshots(app):
        try:
            snapshot = mapper.to_domain_event(stored)
        except Exception:  # noqa: BLE001 - a row changed into something that does not decode: reported
            unreadable.append({"stream": _stream_id(stored.originator_id), "version": stored.originator_version,
                               "type": "unreadable", "found_by": "audit"})
            continue
        if stream and stream[-1].originator_id != snapshot.originator_id:
            yield stream
            stream = []
        stream.append(snapshot)
    if stream:
        yield stream


def check(app: Any) -> dict[str, Any]:
    """`{"checked": N, "cached": M, "mismatches": [...]}`: every snapshot, and this process's cache."""
    repository = app.repository
    checked = 0
    mismatches: dict[tuple[str, int], dict[str, Any]] = {}
    unreadable: list[dict[str, Any]] = []
    for snapshots in _by_stream(app, unreadable):
        aggregate_id = snapshots[0].originator_id
        folded, version = None, 0
        for snapshot in snapshots:
            events = app.events.get(originator_id=aggregate_id, gt=version, lte=snapshot.originator_version)
            folded, version = mutate_all(folded, events), snapshot.originator_version
            checked += 1
            if not repository.snapshot_matches(snapshot, folded, found_by="audit"):
                found = repository.snapshot_mismatches[(snapshot.originator_id, snapshot.originator_version)]
                mismatches[(found["stream"], found["version"])] = found
    checked += len(unreadable)
    cached, stale = repository.check_cached() if hasattr(repository, "check_cached") else (0, [])
    for found in unreadable:
        mismatches.setdefault((found["stream"], found["version"]), found)
    named = {stream for stream, _ in mismatches}
    for found in [*getattr(repository, "snapshot_mismatches", {}).values(), *stale]:
        if found["version"] is None and found["stream"] in named:
            continue  # an unreadable snapshot met at load time, found above with its version
        mismatches.setdefault((found["stream"], found["version"]), found)
    return {"checked": checked, "cached": cached, "mismatches": list(mismatches.values())}


def with_snapshots(app: Any, result: dict[str, Any]) -> dict[str, Any]:
    """The chain's verification with the snapshots' and the cache's: not ok if any of them differs."""
    found = check(app)
    merged = {**result, "snapshots": found}
    if result["ok"] and found["mismatches"]:
        first = found["mismatches"][0]
        merged.update(ok=False, reason="snapshot_mismatch", stream=first["stream"], version=first["version"])
    return merged
