"""Checking an export offline (`voucher-ledger verify-export FILE [--head HASH [--position N]]`): no database, standard library only.

Every export is one unbroken chain over its range (filtered ones too: lines outside the filter are
redacted, `projections/audit/export.py`), so every line is checked the same way:
- a full line has exactly the export's fields and `hash = sha256(prev_hash ‖ digest of its
  record)`; a redacted line has exactly `position, prev_hash, hash, redacted` and `hash =
  sha256(prev_hash ‖ redacted)` (`projections/audit/canonical.py`); an unfiltered export has no redacted line;
- positions increase and each `prev_hash` is the previous line's `hash`; an export from the first
  event starts from GENESIS;
- a JSON object with a key twice is a break (readers disagree on which value counts);
- the manifest is the last line, once, and agrees with the lines (count, redacted count, first and
  last positions, head hash) and with the chain's head it records: an export that was not bounded
  by `to_position` ends at that head, so a truncated file with a rewritten count is still a break;
- CSV: the header row is exactly the field names; when the manifest says `csv_escaped`, one leading
  `'` is stripped from each cell first (`canonical.csv_unescape`).
With `head` (a hash published earlier, 公示) the export must carry it: at `head_position` if given,
else anywhere in the file. A rewritten and re-chained export verifies on its own; only the published
head shows it. The first break is named: its line, position and reason.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from projections.audit import canonical


@dataclass
class ExportCheck:
    ok: bool
    checked: int = 0
    format: str = ""
    manifest: dict[str, Any] | None = None
    line: int | None = None
    position: int | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        if self.ok:
            head = (self.manifest or {}).get("head_hash")
            return f"导出文件校验通过 / export verified: {self.checked} events, head {head}"
        if not self.line:
            return f"校验失败 / verification failed: {self.reason}"
        where = f"line {self.line}" + (f", position {self.position}" if self.position is not None else "")
        return f"校验失败 / verification failed at {where}: {self.reason}"


class Break(Exception):
    def __init__(self, line: int, reason: str, position: int | None = None, **details: Any) -> None:
        super().__init__(reason)
        self.line, self.reason, self.position, self.details = line, reason, position, details


class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise DuplicateKey(twice)
    return value


def loads(text: str) -> Any:
    """json.loads refusing an object with a key twice (DuplicateKey)."""
    return json.loads(text, object_pairs_hook=_no_duplicates)


def _jsonl(handle: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            value = loads(text)
        except DuplicateKey as twice:
            raise Break(number, f"the key {str(twice)!r} appears twice in one object") from None
        except ValueError:
            raise Break(number, "not a JSON line") from None
        if not isinstance(value, dict):
            raise Break(number, "not a JSON object")
        if set(value) == {"manifest"}:
            yield number, "manifest", value["manifest"]
        else:
            yield number, "event", value


def _csv(handle: Any, escaped: bool) -> Iterator[tuple[int, str, dict[str, Any]]]:
    reader = csv.reader(handle)
    header = next(reader, None)
    expected = list(canonical.CSV_FIELDS)
    if header != expected:
        raise Break(1, f"the header is not the export's field names ({','.join(expected)})")
    for row in reader:
        number = reader.line_num
        if not row:
            continue
        if row[0] == canonical.MANIFEST_MARK:
            try:
                yield number, "manifest", loads(row[1])["manifest"]
            except DuplicateKey as twice:
                raise Break(number, f"the key {str(twice)!r} appears twice in the manifest") from None
            except (IndexError, ValueError, KeyError, TypeError):
                raise Break(number, "the manifest row is not readable") from None
            continue
        if len(row) != len(expected):
            raise Break(number, f"expected {len(expected)} cells, found {len(row)}")
        cells = dict(zip(canonical.CSV_FIELDS, map(canonical.csv_unescape, row) if escaped else row))
        try:
            if cells[canonical.REDACTED]:
                if any(cells[name] for name in canonical.CSV_FIELDS if name not in canonical.REDACTED_FIELDS):
                    raise Break(number, "a redacted row carries record cells", _int_or_none(cells["position"]))
                yield number, "event", {"position": int(cells["position"]), "prev_hash": cells["prev_hash"] or None,
                                        "hash": cells["hash"] or None, canonical.REDACTED: cells[canonical.REDACTED]}
                continue
            del cells[canonical.REDACTED]
            line = {**cells, "position": int(cells["position"]), "version": int(cells["version"]),
                    "data": loads(cells["data"]), "prev_hash": cells["prev_hash"] or None,
                    "hash": cells["hash"] or None}
        except DuplicateKey as twice:
            raise Break(number, f"the key {str(twice)!r} appears twice in one object") from None
        except ValueError:
            raise Break(number, "a cell is not readable (position, version or data)") from None
        yield number, "event", line


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _detect(path: str) -> str:
    with open(path, encoding="utf-8-sig") as handle:
        for text in handle:
            if text.strip():
                return "jsonl" if text.lstrip().startswith("{") else "csv"
    return "jsonl"


def _last_line(path: str) -> str:
    """The file's last non-empty line (read through once: flat memory however large the file)."""
    last = ""
    with open(path, encoding="utf-8-sig") as handle:
        for text in handle:
            if text.strip():
                last = text
    return last


def _manifest_first(path: str, fmt: str) -> dict[str, Any] | None:
    """The manifest, read first (filter, CSV escaping), so the file is checked in one more pass.

    What it says is checked against the lines at the end; None if the last line is no manifest.
    """
    text = _last_line(path)
    try:
        if fmt == "jsonl":
            manifest = loads(text)["manifest"]
        else:
            row = next(csv.reader([text]))
            if row[0] != canonical.MANIFEST_MARK:
                return None
            manifest = loads(row[1])["manifest"]
        return manifest if isinstance(manifest, dict) else None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, StopIteration):
        return None


def verify_export(path: str, head: str | None = None, head_position: int | None = None) -> ExportCheck:
    """Check an exported file (against a published head, if given); the answer names the first break."""
    fmt = _detect(path)
    result = ExportCheck(ok=False, format=fmt)
    try:
        manifest = _manifest_first(path, fmt)
        filters = None if manifest is None else dict(manifest.get("filter") or {})
        escaped = manifest is not None and manifest.get("csv_escaped") is True
        with open(path, encoding="utf-8-sig", newline="" if fmt == "csv" else None) as handle:
            _check(_jsonl(handle) if fmt == "jsonl" else _csv(handle, escaped), result, filters,
                   head, head_position)
    except Break as broken:
        result.ok, result.line, result.reason = False, broken.line, broken.reason
        result.position, result.details = broken.position, broken.details
    except UnicodeDecodeError:
        result.ok, result.reason = False, "the file is not UTF-8"
    return result


def check_file(path: str, head: str | None = None, head_position: int | None = None) -> ExportCheck:
    """`verify_export`, answering an unreadable path as a failed check rather than an exception."""
    try:
        return verify_export(path, head, head_position)
    except OSError as exc:
        return ExportCheck(ok=False, reason=f"cannot read the file: {exc.strerror or exc}")


def _check(lines: Iterator[tuple[int, str, dict[str, Any]]], result: ExportCheck, filters: dict[str, Any] | None,
           head: str | None = None, head_position: int | None = None) -> None:
    filtered = filters is None or any(filters.get(name) is not None for name in ("year", "party"))
    from_start = filters is None or not filters.get("from_position")
    previous: dict[str, Any] | None = None
    first: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    manifest_line = 0
    count = redacted = 0
    head_line: int | None = None
    for number, kind, value in lines:
        if manifest is not None:
            raise Break(number, "a line follows the manifest")
        if kind == "manifest":
            manifest, manifest_line = value, number
            continue
        position = _checked_line(number, value, filtered)
        if previous is not None and position <= previous["position"]:
            raise Break(number, "positions do not increase (a line was moved or inserted)", position)
        if previous is None and from_start and value["prev_hash"] != canonical.GENESIS:
            raise Break(number, "an export from the first event must start from the genesis hash "
                                "(lines are missing before it)", position)
        if previous is not None and value["prev_hash"] != previous["hash"]:
            raise Break(number, "prev_hash is not the previous line's hash (a line is missing or moved)", position)
        if head is not None and (position == head_position or head_position is None and value["hash"] == head):
            if value["hash"] != head:
                raise Break(number, "the hash at the published head's position is not the published head "
                                    "(the history before it was rewritten)", position,
                            published_hash=head, export_hash=value["hash"])
            head_line = number
        first = value if first is None else first
        previous = {"position": position, "hash": value["hash"], "line": number}
        count += 1
        redacted += canonical.REDACTED in value
        result.checked = count
    end = (previous or {}).get("line", 0) + 1
    if manifest is None:
        raise Break(end, "no manifest: the export is incomplete (truncated)")
    result.manifest = manifest
    _check_manifest(manifest, manifest_line, count, redacted, first, previous)
    if head is not None and head_line is None:
        where = f"at position {head_position}" if head_position is not None else "anywhere"
        raise Break(end, f"the published head is not in this export ({where}): the history was rewritten, "
                         "or the head is outside the export's range", head_position, published_hash=head)
    result.ok = True


def _checked_line(number: int, value: dict[str, Any], filtered: bool) -> int:
    """A line's own checks: its fields, and its hash from its prev_hash and its record (or digest)."""
    position = value.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        raise Break(number, "position is not an integer")
    if canonical.REDACTED in value:
        if set(value) != set(canonical.REDACTED_FIELDS):
            raise Break(number, f"a redacted line has exactly {', '.join(canonical.REDACTED_FIELDS)}", position)
        if not filtered:
            raise Break(number, "a redacted line in an unfiltered export", position)
        digest = value[canonical.REDACTED]
        if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            raise Break(number, "the redacted digest is not a sha256 hex digest", position)
    else:
        missing = [name for name in canonical.EXPORT_FIELDS if name not in value]
        if missing:
            raise Break(number, f"fields missing: {', '.join(missing)}", position)
        extra = sorted(set(value) - set(canonical.EXPORT_FIELDS))
        if extra:
            raise Break(number, f"fields the export does not write: {', '.join(extra)}", position)
    if not isinstance(value["prev_hash"], str) or not isinstance(value["hash"], str):
        raise Break(number, "the event has no chain link", position)
    try:
        recomputed = (canonical.chain_hash(value["prev_hash"], value[canonical.REDACTED])
                      if canonical.REDACTED in value else canonical.link(value["prev_hash"], value))
    except (TypeError, ValueError):
        raise Break(number, "the record has no canonical form", position) from None
    if recomputed != value["hash"]:
        raise Break(number, "hash mismatch: the event or its link was altered", position,
                    recorded_hash=value["hash"], recomputed_hash=recomputed)
    return position


def _check_manifest(manifest: dict[str, Any], number: int, count: int, redacted: int,
                    first: dict[str, Any] | None, last: dict[str, Any] | None) -> None:
    if not isinstance(manifest, dict):
        raise Break(number, "the manifest is not an object")
    if manifest.get("count") != count:
        raise Break(number, f"the manifest counts {manifest.get('count')} lines, the file holds {count}")
    if manifest.get("redacted", 0) != redacted:
        raise Break(number, f"the manifest counts {manifest.get('redacted')} redacted lines, the file holds {redacted}")
    if manifest.get("first_position") != (first or {}).get("position"):
        raise Break(number, "the manifest's first position is not the first line's")
    if manifest.get("last_position") != (last or {}).get("position"):
        raise Break(number, "the manifest's last position is not the last line's")
    if manifest.get("head_hash") != (last or {}).get("hash"):
        raise Break(number, "the manifest's head hash is not the last line's hash")
    filters = manifest.get("filter")
    chain_head = manifest.get("chain_head")
    if not isinstance(filters, dict) or not isinstance(chain_head, dict):
        raise Break(number, "the manifest has no filter or chain head")
    bound, start = filters.get("to_position"), filters.get("from_position")
    at_head = chain_head.get("position")
    if not isinstance(at_head, int) or (last is not None and last["position"] > at_head):
        raise Break(number, "the manifest's chain head is not at or after the last line")
    reaches_head = (bound is None or (isinstance(bound, int) and bound >= at_head)) and (
        not isinstance(start, int) or start <= at_head)
    if reaches_head and at_head > 0 and (
            last is None or last["position"] != at_head or last["hash"] != chain_head.get("hash")):
        raise Break(number, "the export does not end at the chain head it records (truncated)",
                    (last or {}).get("position"), chain_head=chain_head)
    if start is not None and first is not None and (not isinstance(start, int) or first["position"] < start):
        raise Break(number, "the first line is before the manifest's from_position")
