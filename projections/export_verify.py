"""Checking an export offline (`voucher-ledger verify-export FILE`): no database, standard library only.

For every event line: its `hash` must equal sha256(prev_hash ‖ canonical JSON of its record)
(`projections/canonical.py`), and positions must increase. Unless the export was filtered by year,
each line's `prev_hash` must be the previous line's `hash`, and an export from the first event must
start from GENESIS. The manifest must be the last line, once, and agree with the lines (count,
first and last positions, head hash). The first break is named: its line, position and reason.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from projections import canonical


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


def _jsonl(handle: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
    for number, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError:
            raise Break(number, "not a JSON line") from None
        if not isinstance(value, dict):
            raise Break(number, "not a JSON object")
        if set(value) == {"manifest"}:
            yield number, "manifest", value["manifest"]
        else:
            yield number, "event", value


def _csv(handle: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
    reader = csv.reader(handle)
    header = next(reader, None)
    expected = [canonical.EXPORT_LABELS[name] for name in canonical.EXPORT_FIELDS]
    if header != expected:
        raise Break(1, "the header is not the export's header")
    for row in reader:
        number = reader.line_num
        if not row:
            continue
        if row[0] == canonical.MANIFEST_MARK:
            try:
                yield number, "manifest", json.loads(row[1])["manifest"]
            except (IndexError, ValueError, KeyError, TypeError):
                raise Break(number, "the manifest row is not readable") from None
            continue
        if len(row) != len(expected):
            raise Break(number, f"expected {len(expected)} cells, found {len(row)}")
        cells = dict(zip(canonical.EXPORT_FIELDS, row))
        try:
            line = {**cells, "position": int(cells["position"]), "version": int(cells["version"]),
                    "data": json.loads(cells["data"]), "prev_hash": cells["prev_hash"] or None,
                    "hash": cells["hash"] or None}
        except ValueError:
            raise Break(number, "a cell is not readable (position, version or data)") from None
        yield number, "event", line


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


def _filters(path: str, fmt: str) -> dict[str, Any] | None:
    """The manifest's filter, read first, so links are checked in the same pass as hashes."""
    text = _last_line(path)
    try:
        if fmt == "jsonl":
            manifest = json.loads(text)["manifest"]
        else:
            row = next(csv.reader([text]))
            if row[0] != canonical.MANIFEST_MARK:
                return None
            manifest = json.loads(row[1])["manifest"]
        return dict(manifest.get("filter") or {})
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, StopIteration):
        return None


def verify_export(path: str) -> ExportCheck:
    """Check an exported file; the answer names the first break, if any."""
    fmt = _detect(path)
    result = ExportCheck(ok=False, format=fmt)
    try:
        filters = _filters(path, fmt)
        with open(path, encoding="utf-8-sig", newline="" if fmt == "csv" else None) as handle:
            _check(_jsonl(handle) if fmt == "jsonl" else _csv(handle), result, filters)
    except Break as broken:
        result.ok, result.line, result.reason = False, broken.line, broken.reason
        result.position, result.details = broken.position, broken.details
    except UnicodeDecodeError:
        result.ok, result.reason = False, "the file is not UTF-8"
    return result


def check_file(path: str) -> ExportCheck:
    """`verify_export`, answering an unreadable path as a failed check rather than an exception."""
    try:
        return verify_export(path)
    except OSError as exc:
        return ExportCheck(ok=False, reason=f"cannot read the file: {exc.strerror or exc}")


def _check(lines: Iterator[tuple[int, str, dict[str, Any]]], result: ExportCheck,
           filters: dict[str, Any] | None) -> None:
    # Without a readable manifest the links are checked too: a truncated file is reported anyway.
    linked = filters is None or filters.get("year") is None
    from_start = filters is None or not filters.get("from_position")
    previous: dict[str, Any] | None = None
    first: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    manifest_line = 0
    count = 0
    for number, kind, value in lines:
        if manifest is not None:
            raise Break(number, "a line follows the manifest")
        if kind == "manifest":
            manifest, manifest_line = value, number
            continue
        missing = [name for name in canonical.EXPORT_FIELDS if name not in value]
        if missing:
            raise Break(number, f"fields missing: {', '.join(missing)}")
        position = value["position"]
        if not isinstance(position, int) or isinstance(position, bool):
            raise Break(number, "position is not an integer")
        if previous is not None and position <= previous["position"]:
            raise Break(number, "positions do not increase", position)
        if not isinstance(value["prev_hash"], str) or not isinstance(value["hash"], str):
            raise Break(number, "the event has no chain link", position)
        try:
            recomputed = canonical.link(value["prev_hash"], value)
        except (TypeError, ValueError):
            raise Break(number, "the record has no canonical form", position) from None
        if recomputed != value["hash"]:
            raise Break(number, "hash mismatch: the event or its link was altered", position,
                        recorded_hash=value["hash"], recomputed_hash=recomputed)
        if linked and previous is None and from_start and value["prev_hash"] != canonical.GENESIS:
            raise Break(number, "an export from the first event must start from the genesis hash "
                                "(lines are missing before it)", position)
        if linked and previous is not None and value["prev_hash"] != previous["hash"]:
            raise Break(number, "prev_hash is not the previous line's hash (a line is missing or moved)", position)
        first = value if first is None else first
        previous = {"position": position, "hash": value["hash"], "line": number}
        count += 1
        result.checked = count
    if manifest is None:
        raise Break((previous or {}).get("line", 0) + 1, "no manifest: the export is incomplete")
    result.manifest = manifest
    _check_manifest(manifest, manifest_line, count, first, previous)
    result.ok = True


def _check_manifest(manifest: dict[str, Any], number: int, count: int, first: dict[str, Any] | None,
                    last: dict[str, Any] | None) -> None:
    if not isinstance(manifest, dict):
        raise Break(number, "the manifest is not an object")
    if manifest.get("count") != count:
        raise Break(number, f"the manifest counts {manifest.get('count')} events, the file holds {count}")
    if manifest.get("first_position") != (first or {}).get("position"):
        raise Break(number, "the manifest's first position is not the first line's")
    if manifest.get("last_position") != (last or {}).get("position"):
        raise Break(number, "the manifest's last position is not the last line's")
    if manifest.get("head_hash") != (last or {}).get("hash"):
        raise Break(number, "the manifest's head hash is not the last line's hash")
