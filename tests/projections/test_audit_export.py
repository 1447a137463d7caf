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

from projections.audit import canonical, chain, export, trace_queries
from projections.audit.export_verify import verify_export
from service import cli
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
                        "head_hash": head["hash"], "redacted": 0,
                        "filter": {"year": None, "from_position": None, "to_position": None}, "chain_head": head}
    paid = next(e for e in events if e["type"] == "SettlementBatch.Paid")
    assert (paid["actor_role"], paid["actor_id"]) == ("finance", "finance-qian")
    assert paid["data"]["reference"] == "桂财工兑〔2026〕1号"


def test_csv_export_has_the_field_names_as_headers_and_the_manifest_row(history, ledger, views, tmp_path):
    text = exported(ledger, views, "csv")
    assert text.startswith("\ufeffposition,recorded_at,stream,")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [*canonical.EXPORT_FIELDS, "redacted"]
    assert rows[-1][0] == "#manifest"
    manifest = json.loads(rows[-1][1])["manifest"]
    assert manifest["csv_escaped"] is True
    assert manifest["count"] == len(rows) - 2 == chain.head(views.store)["position"]
    budget = next(r for r in rows[1:-1] if r[5] == "Year.BudgetAllocated")
    assert json.loads(budget[8])["amount_fen"] == 1_000_000_000
    assert verify_export(write(tmp_path, "export.csv", text)).ok


def test_year_filter_keeps_the_years_events_and_each_line_verifies(history, ledger, views, tmp_path):
    lines, manifest = jsonl(exported(ledger, views, year=2026))
    # Every position stays, as one chain: the lines outside the year are redacted to their digest.
    assert [e["position"] for e in lines] == list(range(1, chain.head(views.store)["position"] + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(lines, lines[1:]))
    hidden = [e for e in lines if "redacted" in e]
    assert hidden and all(set(e) == {"position", "prev_hash", "hash", "redacted"} for e in hidden)
    assert all(canonical.chain_hash(e["prev_hash"], e["redacted"]) == e["hash"] for e in hidden)
    events = [e for e in lines if "redacted" not in e]
    types = {e["type"] for e in events}
    # The year's opening and budget, vouchers, contracts, reviews, batches and the case on its contract...
    assert {"Year.Opened", "Year.BudgetAllocated", "Voucher.Issued", "Contract.Settled", "Provider.Reviewed",
            "SettlementBatch.Paid", "Case.Filed"} <= types
    # ...but not what belongs to no year (registrations, tokens) or to the next year.
    assert not types & {"Enterprise.Registered", "Provider.Applied", "Credential.Issued"}
    assert all(e["data"].get("year") in (None, 2026) for e in events)
    expected = [p for page in trace_queries.iter_subject_positions(views.store, "year", "2026", 0, 10**9) for p in page]
    assert [e["position"] for e in events] == expected
    assert manifest["filter"]["year"] == 2026 and manifest["count"] == len(lines)
    assert manifest["redacted"] == len(hidden)
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


# --- forged exports (issue 15, 1): each is a break, named -------------------------------------------------

def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def _text(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines)


def _verify_cli(path: str, capsys: Any, *extra: str) -> tuple[int, str]:
    code = cli.main(["verify-export", path, *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_deleted_lines_with_a_year_written_into_the_manifest_are_a_break(history, ledger, views, tmp_path, capsys):
    lines = _lines(exported(ledger, views))
    *events, manifest = lines
    kept = events[:5] + events[8:]  # three events deleted
    manifest["manifest"].update(count=len(kept), filter={"year": 2026, "from_position": None, "to_position": None})
    code, said = _verify_cli(write(tmp_path, "forged.jsonl", _text([*kept, manifest])), capsys)
    assert code == 1
    assert "line 6, position 9" in said and "previous line" in said


def test_a_truncated_export_with_a_rewritten_manifest_is_a_break(history, ledger, views, tmp_path, capsys):
    *events, manifest = _lines(exported(ledger, views))
    kept = events[:10]
    manifest["manifest"].update(count=10, last_position=kept[-1]["position"], head_hash=kept[-1]["hash"])
    code, said = _verify_cli(write(tmp_path, "truncated.jsonl", _text([*kept, manifest])), capsys)
    assert code == 1 and "line 11" in said and "does not end at the chain head" in said
    # Cut off with its manifest: no manifest.
    code, said = _verify_cli(write(tmp_path, "cut.jsonl", _text(kept)), capsys)
    assert code == 1 and "no manifest" in said


def test_a_rechained_forgery_is_caught_only_against_the_published_head(history, ledger, views, tmp_path, capsys):
    published = chain.head(views.store)
    *events, manifest = _lines(exported(ledger, views))
    budget = next(e for e in events if e["type"] == "Year.BudgetAllocated")
    budget["data"]["amount_fen"] += 210_000_000  # ¥2,100,000 more budget
    prev = canonical.GENESIS
    for event in events:  # rewritten and re-chained from there on, as a forger with the module would
        event["prev_hash"], event["hash"] = prev, canonical.link(prev, event)
        prev = event["hash"]
    manifest["manifest"].update(head_hash=prev, chain_head={"position": published["position"], "hash": prev})
    path = write(tmp_path, "rechained.jsonl", _text([*events, manifest]))
    assert _verify_cli(path, capsys)[0] == 0  # consistent in itself
    code, said = _verify_cli(path, capsys, "--head", published["hash"], "--position", str(published["position"]))
    assert code == 1 and f"position {published['position']}" in said and "published head" in said
    code, said = _verify_cli(path, capsys, "--head", published["hash"])
    assert code == 1 and "published head is not in this export" in said
    honest = write(tmp_path, "honest.jsonl", exported(ledger, views))
    assert _verify_cli(honest, capsys, "--head", published["hash"], "--position", str(published["position"]))[0] == 0
    earlier = _lines(exported(ledger, views))[4]["hash"]
    assert _verify_cli(honest, capsys, "--head", earlier)[0] == 0  # a head published earlier, found in the file


def test_a_duplicated_json_key_is_a_break(history, ledger, views, tmp_path, capsys):
    text = exported(ledger, views)
    lines = text.splitlines(keepends=True)
    # The recorded amount stays last (what json.loads keeps), a forged one is shown first to other readers.
    lines[1] = lines[1].replace('"amount_fen":1000000000', '"amount_fen":9000000000,"amount_fen":1000000000')
    code, said = _verify_cli(write(tmp_path, "twice.jsonl", "".join(lines)), capsys)
    assert code == 1 and "line 2" in said and "'amount_fen' appears twice" in said


def test_reordered_lines_are_a_break(history, ledger, views, tmp_path, capsys):
    lines = exported(ledger, views).splitlines(keepends=True)
    lines[6], lines[7] = lines[7], lines[6]
    code, said = _verify_cli(write(tmp_path, "reordered.jsonl", "".join(lines)), capsys)
    assert code == 1 and "line 7, position 8" in said


def test_an_edited_manifest_is_a_break(history, ledger, views, tmp_path, capsys):
    text = exported(ledger, views, year=2026)
    *events, manifest = _lines(text)
    for edit, reason in ((lambda m: m["filter"].update(year=None), "redacted line in an unfiltered export"),
                         (lambda m: m.update(redacted=0), "redacted lines"),
                         (lambda m: m["chain_head"].update(position=m["chain_head"]["position"] + 5),
                          "does not end at the chain head"),
                         (lambda m: m.update(first_position=2), "first position")):
        forged = json.loads(json.dumps(manifest))
        edit(forged["manifest"])
        code, said = _verify_cli(write(tmp_path, "manifest.jsonl", _text([*events, forged])), capsys)
        assert code == 1 and reason in said


def test_an_honest_year_export_verifies_as_jsonl_and_csv(history, ledger, views, tmp_path, capsys):
    for fmt in ("jsonl", "csv"):
        path = write(tmp_path, f"2026.{fmt}", exported(ledger, views, fmt, year=2026))
        code, said = _verify_cli(path, capsys, "--head", chain.head(views.store)["hash"])
        assert code == 0 and "export verified" in said


# --- CSV (issue 15, 9): field names, formula escaping -----------------------------------------------------

def test_csv_cells_that_begin_a_formula_are_escaped_and_still_verify(history, scenario, ledger, views, tmp_path):
    from tests.support import as_role

    label = '=HYPERLINK("http://evil.example/x","点此")'
    code = scenario.next_code()
    with as_role("operator", name=label):
        ledger.register_enterprise(code, "-减号开头的企业", honours=[], employees=10, revenue_fen=100_000,
                                   registered_in_guangxi=True, legal_person=True, social_insurance=True,
                                   dishonest=False, major_violation=False, industry_aligned=True)
    views.catch_up()
    text = exported(ledger, views, "csv")
    assert text.startswith("\ufeffposition,recorded_at,stream,stream_type,version,type,actor_role,actor_id,data,"
                           "prev_hash,hash,redacted\n")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    registered = rows[-2]
    assert registered[7] == "'" + label  # never a live formula
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows[1:-1] for cell in row)
    assert json.loads(rows[-1][1])["manifest"]["csv_escaped"] is True
    result = verify_export(write(tmp_path, "escaped.csv", text))
    assert result.ok, result.summary()
    # The un-escaped value is what was hashed: the JSONL line of the same event carries the label itself.
    assert _lines(exported(ledger, views))[-2]["actor_id"] == label
