"""The export for the supervisor and auditors, and each party's statement (资金凭证): events with their chain links, streamed (Art. 21-24).

`export_chunks(...)` yields UTF-8 bytes in pages (an HTTP body or a file, never re-encoded): each
page of events is read from the store's own events table, decoded into canonical records (`projections/audit/canonical.py`) by `projections/storage/fastlog.py`
(equal to the library's mapper's way, which it falls back to for anything unusual) and joined with
the chain links of the same positions, so memory stays flat however large the store. The export
stops at the chain's head when it starts: a consistent prefix of the log.

Every export carries every position of its range, so it is one unbroken chain (API.md, issue 15).
A filter decides which lines are whole; a line outside it is reduced to
`{"position", "prev_hash", "hash", "redacted": digest}` (the digest of the record left out, so its
link still verifies). Filters: `year` keeps whole the events filed under that year in the trace
index (its opening and budget, vouchers, contracts, providers' years, reviews, batches, and cases
naming its contracts); `party` (an enterprise's or provider's own statement) keeps whole the events
filed under that party that show nothing of another party (`projections/audit/scope.py`): a shared step
such as a batch payment is redacted in the file, and shown with the party's own lines in its trace.
`from_position`/`to_position` bound the range.

Formats
- `jsonl`: one JSON object per line with `position, recorded_at, stream, stream_type, version,
  type, actor_role, actor_id, data, prev_hash, hash` (in that order; `data` an object), or a
  redacted line, then one last line `{"manifest": {"count", "first_position", "last_position",
  "head_hash", "redacted", "filter", "chain_head"}}`. `count` counts every line (redacted ones
  too, `redacted` counts those); `head_hash` is the hash of the last line; `chain_head` the store's
  chain head when the export started.
- `csv`: UTF-8 with a byte-order mark, a header row of exactly the field names (`position`, ...,
  `prev_hash`, `hash`, then `redacted`, the column of a redacted line's digest, empty on a full
  line), one row per event with `data` as canonical JSON, and a last row whose first cell is
  `#manifest` and whose second cell is the manifest JSON (with `"csv_escaped": true`). Cells that
  a spreadsheet would read as a formula are escaped with a leading `'` (`canonical.csv_escape`);
  `verify-export` un-escapes them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Callable, Iterator

import orjson

from projections.audit import canonical, chain, fasthash, scope, trace_queries
from projections.storage import eventlog, fastlog
from projections.storage.store import ViewStore

FORMATS = ("jsonl", "csv")
MEDIA_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}
PAGE_SIZE = 500

Progress = Callable[[int, int], None]


Party = tuple[str, str]  # ("enterprise" | "provider", its code)


def _pages(app: Any, store: ViewStore, year: int | None, party: Party | None, after: int,
           stop: int, page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    """Pages of export lines in position order: every position, the ones outside the filter redacted."""
    records = fastlog.Records(app)
    party_keys = [] if party is None else trace_queries.party_keys(store, party[0], party[1])
    viewer = None if party is None else scope.Viewer(party[0], party[1],
                                                     lambda entity: trace_queries.stream_facts(store, entity))
    for rows, links in fastlog.iter_linked_pages(app, store, after, stop, page_size):
        if year is None and party is None:
            yield [_line(records(row), links.get(row.position)) for row in rows]
            continue
        first, last = rows[0].position, rows[-1].position
        if party is None:
            kept = trace_queries.subject_positions_between(store, [("year", str(year))], first, last)
        else:
            kept = trace_queries.subject_positions_between(store, party_keys, first, last)
            if year is not None:
                kept &= trace_queries.subject_positions_between(store, [("year", str(year))], first, last)
        lines = []
        for row in rows:
            record = records(row)
            whole = row.position in kept and not isinstance(record, eventlog.Unreadable) and (
                viewer is None or viewer.shows_whole(record))
            lines.append(_line(record, links.get(row.position)) if whole
                         else _redacted(record, links.get(row.position)))
        yield lines


def record_pages(app: Any, store: ViewStore, after: int, stop: int,
                 page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
    """Pages of whole export lines (records with `prev_hash`, `hash`), after < position <= stop: the
    event feed and the webhooks' bodies (projections/audit/feed.py) are these very lines."""
    return _pages(app, store, None, None, after, stop, page_size)


def _redacted(record: Any, link: chain.Link | None) -> dict[str, Any]:
    """A line outside the filter: its position, links and the digest of its record (canonical.py)."""
    if isinstance(record, eventlog.Unreadable):
        return _line(record, link)  # no digest to give: exported as it is, so the break shows where it is
    prev_hash, hash_ = (None, None) if link is None else (link.prev_hash, link.hash)
    return {"position": record["position"], "prev_hash": prev_hash, "hash": hash_,
            canonical.REDACTED: fasthash.digest(record)}


def _line(record: Any, link: chain.Link | None) -> dict[str, Any]:
    """The record's fields in order (canonical.RECORD_FIELDS), then its chain links; None if never chained."""
    prev_hash, hash_ = (None, None) if link is None else (link.prev_hash, link.hash)
    if isinstance(record, eventlog.Unreadable):
        # Still exported, so the break shows where it is: verify-export names this position.
        return {"position": record.position, "recorded_at": None, "stream": None, "stream_type": None,
                "version": None, "type": None, "actor_role": None, "actor_id": None,
                "data": {"unreadable": type(record.error).__name__}, "prev_hash": prev_hash, "hash": hash_}
    # Records are built fresh for this page in field order (canonical.record, fastlog): links go last.
    record["prev_hash"], record["hash"] = prev_hash, hash_
    return record


def export_chunks(app: Any, store: ViewStore, fmt: str, *, year: int | None = None, party: Party | None = None,
                  from_position: int | None = None, to_position: int | None = None,
                  progress: Progress | None = None) -> Iterator[bytes]:
    """The export as UTF-8 chunks (a page of events each), ending with the manifest."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    head = chain.head(store)
    stop = head["position"] if to_position is None else min(to_position, head["position"])
    after = max((from_position or 1) - 1, 0)
    count, redacted, first, last, last_hash = 0, 0, None, None, None
    if fmt == "csv":
        yield ("\ufeff" + _csv_row(list(canonical.CSV_FIELDS))).encode("utf-8")
    for lines in _pages(app, store, year, party, after, stop) if stop > after else iter(()):
        if not lines:
            continue
        count += len(lines)
        redacted += sum(1 for line in lines if canonical.REDACTED in line)
        first = lines[0]["position"] if first is None else first
        last, last_hash = lines[-1]["position"], lines[-1]["hash"]
        if fmt == "jsonl":
            yield b"\n".join(_json_line(line) for line in lines) + b"\n"
        else:
            rows = "".join(_csv_row([_cell(line.get(name)) for name in canonical.CSV_FIELDS]) for line in lines)
            yield rows.encode("utf-8")
        if progress and last < stop:
            progress(last - after, stop - after)
    manifest: dict[str, Any] = {
        "count": count, "first_position": first, "last_position": last, "head_hash": last_hash, "redacted": redacted,
        "filter": {"year": year, "from_position": from_position, "to_position": to_position,
                   **({} if party is None else {"party": {"kind": party[0], "id": party[1]}})},
        "chain_head": head}
    if fmt == "csv":
        manifest["csv_escaped"] = True
    if fmt == "jsonl":
        yield (json.dumps({"manifest": manifest}, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    else:
        yield _csv_row([canonical.MANIFEST_MARK, canonical.canonical_json({"manifest": manifest})]).encode("utf-8")
    if progress:
        progress(stop - after, stop - after)


def _json_line(line: dict[str, Any]) -> bytes:
    """One JSONL line: orjson, several times faster than json.dumps (issue 7), UTF-8 and no spaces.

    What orjson refuses (an integer beyond 64 bits, a lone surrogate: only in an altered event) is
    written by json.dumps with escapes, the same values in plain ASCII.
    """
    try:
        return orjson.dumps(line)
    except TypeError:
        return json.dumps(line, separators=(",", ":")).encode("ascii")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return canonical.canonical_json(value)  # begins with { or [: never a formula
    if type(value) is int:
        return str(value)
    return canonical.csv_escape(str(value))


def _csv_row(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()
