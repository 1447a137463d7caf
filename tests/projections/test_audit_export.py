"""The export for the supervisor and auditors, and its offline check (API.md "Audit and supervision").

JSONL and CSV, whole or filtered by year and position range, each ending with its manifest;
`voucher-ledger export` writes the same to a file and `voucher-ledger verify-export` checks it
with no database, exiting non-zero at the first break and naming it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import cli
from projections import canonical, chain, export, trace_queries
from projections.export_verify import verify_export
from tests.audit_support import build


@pytest.fixture
def history(scenario: Any, views: Any) -> Any:
    built = build(scenario)
    views.catch_up()
    return built


def exported(ledger: Any, views: Any, fmt: str = "jsonl", **filters: Any) -> str:
    return b"".join(export.export_chunks(ledger, views.store, fmt, **filters)).decode("utf-8")


def jsonl(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines()]
    return lines[:-1], lines[-1]["manifest"]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_jsonl_export_is_every_event_with_its_links_and_ends_with_the_manifest(history, ledger, views):
    events, manifest = jsonl(exported(ledger, views))
    head = chain.head(views.store)
    assert [e["position"] for e in events] == list(range(1, head["position"] + 1))
    assert list(events[0]) == list(canonical.EXPORT_FIELDS)
    assert events[0]["prev_hash"] == canonical.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:]))
    assert all(canonical.link(e["prev_hash"], e) == e["hash"] for e in events)
    assert manifest == {"count": len(events), "first_position": 1, "last_position": head["position"],
                        "head_hash": head["hash"], "filter": {"year": None, "from_position": None, "to_position": None},
                        "chain_head": head}
    paid = next(e for e in events if e["type"] == "SettlementBatch.Paid")
    assert (paid["actor_role"], paid["actor_id"]) == ("finance", "finance-qian")
    assert paid["data"]["reference"] == "桂财工兑〔2026〕1号"


def test_csv_export_has_chinese_first_headers_and_the_manifest_row(history, ledger, views, tmp_path):
    text = exported(ledger, views, "csv")
    assert text.startswith("\ufeff位置 position,记录时间 recorded_at,")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [canonical.EXPORT_LABELS[f] for f in canonical.EXPORT_FIELDS]
    assert rows[-1][0] == "#manifest"
    manifest = json.loads(rows[-1][1])["manifest"]
    assert manifest["count"] == len(rows) - 2 == chain.head(views.store)["position"]
    budget = next(r for r in rows[1:-1] if r[5] == "Year.BudgetAllocated")
    assert json.loads(budget[8])["amount_fen"] == 1_000_000_000
    assert verify_export(write(tmp_path, "export.csv", text)).ok


def test_year_filter_keeps_the_years_events_and_each_line_verifies(history, ledger, views, tmp_path):
    events, manifest = jsonl(exported(ledger, views, year=2026))
    types = {e["type"] for e in events}
    # The year's opening and budget, vouchers, contracts, reviews, batches and the case on its contract...
    assert {"Year.Opened", "Year.BudgetAllocated", "Voucher.Issued", "Contract.Settled", "Provider.Reviewed",
            "SettlementBatch.Paid", "Case.Filed"} <= types
    # ...but not what belongs to no year (registrations, tokens) or to the next year.
    assert not types & {"Enterprise.Registered", "Provider.Applied", "Credential.Issued"}
    assert all(e["data"].get("year") in (None, 2026) for e in events)
    expected = [p for page in trace_queries.iter_subject_positions(views.store, "year", "2026", 0, 10**9) for p in page]
    assert [e["position"] for e in events] == expected
    assert manifest["filter"]["year"] == 2026 and manifest["count"] == len(events)
    assert verify_export(write(tmp_path, "2026.jsonl", exported(ledger, views, year=2026))).ok


def test_position_range_is_one_unbroken_chain(history, ledger, views, tmp_path):
    events, manifest = jsonl(exported(ledger, views, from_position=10, to_position=20))
    assert [e["position"] for e in events] == list(range(10, 21))
    assert (manifest["first_position"], manifest["last_position"], manifest["count"]) == (10, 20, 11)
    assert manifest["head_hash"] == events[-1]["hash"]
    assert verify_export(write(tmp_path, "range.jsonl", exported(ledger, views, from_position=10,
                                                                 to_position=20))).ok
    empty_events, empty = jsonl(exported(ledger, views, from_position=10**6))
    assert empty_events == [] and empty["count"] == 0 and empty["head_hash"] is None


def test_verify_export_accepts_an_intact_file_and_names_the_first_break_of_an_altered_one(history, ledger, views,
                                                                                          tmp_path):
    text = exported(ledger, views)
    intact = verify_export(write(tmp_path, "intact.jsonl", text))
    assert intact.ok and intact.checked == chain.head(views.store)["position"]
    lines = text.splitlines(keepends=True)
    # An amount changed on line 2 (the budget): its hash no longer matches.
    altered = lines.copy()
    altered[1] = altered[1].replace('"amount_fen":1000000000', '"amount_fen":1000000100')
    result = verify_export(write(tmp_path, "altered.jsonl", "".join(altered)))
    assert (result.ok, result.line, result.position) == (False, 2, 2)
    assert "hash mismatch" in result.reason
    # A line removed from an unfiltered export: the next line no longer links to its predecessor.
    removed = verify_export(write(tmp_path, "removed.jsonl", "".join(lines[:5] + lines[6:])))
    assert (removed.ok, removed.line, removed.position) == (False, 6, 7)
    assert "previous line" in removed.reason
    # The first line removed: an export from the start must begin at the genesis hash.
    headless = verify_export(write(tmp_path, "headless.jsonl", "".join(lines[1:])))
    assert (headless.ok, headless.position) == (False, 2)
    # Truncated: no manifest.
    truncated = verify_export(write(tmp_path, "truncated.jsonl", "".join(lines[:-1])))
    assert not truncated.ok and "no manifest" in truncated.reason
    # A manifest that disagrees with the lines.
    manifest = json.loads(lines[-1])
    manifest["manifest"]["count"] += 1
    miscounted = verify_export(write(tmp_path, "miscounted.jsonl", "".join(lines[:-1]) + json.dumps(manifest) + "\n"))
    assert not miscounted.ok and "counts" in miscounted.reason


def test_verify_export_checks_a_csv_cell_by_cell(history, ledger, views, tmp_path):
    text = exported(ledger, views, "csv")
    altered = text.replace("finance-qian", "finance-zhao", 1)
    result = verify_export(write(tmp_path, "altered.csv", altered))
    assert not result.ok and "hash mismatch" in result.reason
    assert result.position == 2  # the budget was allocated by finance-qian


def test_cli_export_and_verify_export(history, store, ledger, views, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEDGER_DATABASE_URL", store.url)
    target = tmp_path / "ledger.jsonl"
    assert cli.main(["export", "--format", "jsonl", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == exported(ledger, views)
    assert cli.main(["verify-export", str(target)]) == 0
    assert "export verified" in capsys.readouterr().out
    # Edit one event's data in the file: verify-export exits 1 and names the line and position.
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    forged = json.loads(lines[3])
    forged["data"]["name"] = "冒名企业"  # the enterprise registered on line 4, renamed
    lines[3] = json.dumps(forged, ensure_ascii=False) + "\n"
    target.write_text("".join(lines), encoding="utf-8")
    assert cli.main(["verify-export", str(target)]) == 1
    err = capsys.readouterr().err
    assert "line 4, position 4" in err and "hash mismatch" in err


def test_cli_export_csv_of_a_year(history, store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEDGER_DATABASE_URL", store.url)
    target = tmp_path / "2026.csv"
    assert cli.main(["export", "--format", "csv", "--year", "2026", "--output", str(target)]) == 0
    assert "导出" in capsys.readouterr().err  # the progress bar
    assert cli.main(["verify-export", str(target)]) == 0
    assert not (tmp_path / "2026.csv.partial").exists()


def test_verify_export_of_a_missing_or_foreign_file_fails_cleanly(tmp_path, capsys):
    assert cli.main(["verify-export", str(tmp_path / "absent.jsonl")]) == 1
    assert "cannot read the file" in capsys.readouterr().err
    assert cli.main(["verify-export", write(tmp_path, "notes.txt", "hello\nworld\n")]) == 1
    assert cli.main(["verify-export", write(tmp_path, "empty.jsonl", "")]) == 1
