"""The audit hash chain (ARCHITECTURE.md "The audit chain"): its canonical form, and tamper detection.

Tampering is done the way an insider would: by editing the event store's rows directly, in the
SQLite file (`stored_events.state`) and in PostgreSQL (`voucherledger_events.state`), behind the
application's back. `verify` recomputes the chain from the stored events and names the first
position that no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from types import MappingProxyType
from typing import Any

import pytest

from projections.audit import canonical, chain
from projections.storage import eventlog
from tests.audit_support import build, delete_event, edit_event, position_of, read_state, write_state


def chain_sql(views: Any, statement: str, params: tuple = ()) -> None:
    with views.store.datastore.transaction(commit=True) as cursor:
        cursor.execute(statement if views.store.dialect == "sqlite" else statement.replace("?", "%s"), params)


@pytest.fixture
def history(scenario: Any, views: Any) -> Any:
    built = build(scenario)
    views.catch_up()
    return built


# --- the canonical form -------------------------------------------------------------------------------------

def test_each_link_is_sha256_of_the_previous_hash_and_the_digest_of_the_event(history, ledger, views):
    links = chain.links_between(views.store, 1, 3)
    first = ledger.mapper.to_domain_event(ledger.recorder.select_notifications(start=1, limit=1)[0])
    record = canonical.record(first, 1)
    # The documented form, written out by hand: no shortcut through the module under test.
    assert record == {
        "position": 1, "recorded_at": first.timestamp.isoformat(timespec="microseconds"),
        "stream": str(first.originator_id), "stream_type": "Year", "version": 1, "type": "Year.Opened",
        "actor_role": "approver", "actor_id": "approver-staff",
        "data": {"year": 2026, "starts_on": "2026-01-01", "ends_on": "2026-12-31", "parameters": first.parameters,
                 "originator_topic": "ledger.domain.year:Year", "request_id": first.request_id},
    }
    body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert links[1].prev_hash == "0" * 64
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert canonical.digest(record) == digest
    assert links[1].hash == hashlib.sha256(("0" * 64 + digest).encode("utf-8")).hexdigest()
    assert links[2].prev_hash == links[1].hash and links[3].prev_hash == links[2].hash


def test_an_actor_of_another_shape_is_hashed_whole_never_dropped(history, ledger):
    position = position_of(ledger, "Year.BudgetAllocated")
    event = ledger.mapper.to_domain_event(ledger.recorder.select_notifications(start=position, limit=1)[0])
    usual = canonical.record(event, position)
    assert "actor" not in usual["data"] and usual["actor_role"] == "finance"

    event.__dict__["actor"] = {"role": "finance", "id": "finance-staff", "delegated_by": "approver-staff"}
    widened = canonical.record(event, position)
    assert widened["data"]["actor"] == event.actor and widened["actor_role"] == "finance"

    # A mapping that is not a dict, of the usual keys: the same record as the dict gave.
    event.__dict__["actor"] = MappingProxyType({"role": usual["actor_role"], "id": usual["actor_id"]})
    assert canonical.record(event, position) == usual

    event.__dict__["actor"] = "finance-staff"  # not a mapping at all
    bare = canonical.record(event, position)
    assert bare["data"]["actor"] == "finance-staff" and bare["actor_role"] == "" and bare["actor_id"] == ""


def test_amounts_are_fen_and_chinese_is_itself_in_the_canonical_json(history, ledger):
    position = position_of(ledger, "Year.BudgetAllocated")
    event = ledger.mapper.to_domain_event(ledger.recorder.select_notifications(start=position, limit=1)[0])
    body = canonical.canonical_json(canonical.record(event, position))
    assert '"amount_fen":1000000000' in body and "桂财工〔2026〕1号" in body and " " not in body.replace(
        "桂财工〔2026〕1号", "")


def test_head_is_the_last_link(history, ledger, views):
    head = chain.head(views.store)
    assert head["position"] == ledger.recorder.max_notification_id()
    assert head["hash"] == chain.links_between(views.store, head["position"], head["position"])[head["position"]].hash


def test_empty_store_has_the_genesis_head(views):
    assert chain.head(views.store) == {"position": 0, "hash": "0" * 64}
    assert chain.verify(views.app, views.store) == {"ok": True, "checked": 0, "head": {"position": 0,
                                                                                     "hash": "0" * 64},
                                                    "range": {"from_position": 1, "to_position": 0}}


def test_rebuild_recomputes_the_same_chain(history, views):
    before = chain.head(views.store)
    views.rebuild()
    assert chain.head(views.store) == before


def test_rebuild_over_an_altered_event_stops_and_names_it(history, store, ledger, views):
    """Issue 15 (12): a rebuild never silently re-chains altered history."""
    before = chain.head(views.store)
    position = position_of(ledger, "Year.BudgetAllocated")
    edit_event(store, position, lambda state: state.update(amount_fen=state["amount_fen"] + 100))
    with pytest.raises(chain.ChainMismatch) as stopped:
        views.rebuild()
    assert (stopped.value.result["position"], stopped.value.result["reason"]) == (position, "altered")
    assert chain.head(views.store) == before  # nothing was dropped
    # The operator's decision: re-chain on purpose; the new head differs from the published one.
    views.rebuild(rechain=True)
    after = chain.head(views.store)
    assert after["position"] == before["position"] and after["hash"] != before["hash"]
    assert chain.verify(ledger, views.store)["ok"] is True
    published = chain.verify(ledger, views.store, head_hash=before["hash"], head_position=before["position"])
    assert (published["ok"], published["reason"], published["position"]) == (False, "head_mismatch",
                                                                             before["position"])


def test_a_chain_of_the_old_form_is_reported_and_rebuilt_in_the_digest_form(history, scenario, ledger, views):
    """A store chained before issue 15 (hash of the record's text) is brought to the digest form by a rebuild,
    also after a server chained new events onto it in the digest form."""
    digest_head = chain.head(views.store)
    prev = canonical.GENESIS
    for page in eventlog.iter_records(ledger):
        for rec in page:
            old = canonical.link_v1(prev, rec)
            chain_sql(views, "UPDATE vl_audit_chain SET prev_hash = ?, hash = ? WHERE position = ?",
                      (prev, old, rec["position"]))
            prev = old
    stale = chain.verify(ledger, views.store)
    assert (stale["ok"], stale["reason"], stale["position"]) == (False, "old_form", 1)
    assert chain.check_for_rebuild(ledger, views.store)["form"] == "v1"
    scenario.enterprise()  # served after the upgrade, before the rebuild: linked in the digest form
    views.catch_up()
    assert chain.check_for_rebuild(ledger, views.store)["checked"] == digest_head["position"] + 1
    views.rebuild()
    assert chain.links_between(views.store, 1, digest_head["position"])[digest_head["position"]].hash == \
        digest_head["hash"]
    assert chain.verify(ledger, views.store)["ok"] is True


def test_cli_rebuild_over_altered_events_exits_1_naming_the_position(history, store, ledger, views, monkeypatch,
                                                                     capsys):
    from service import cli

    monkeypatch.setenv("LEDGER_DATABASE_URL", store.url)
    position = position_of(ledger, "Contract.Signed")
    edit_event(store, position, lambda state: state.update(subsidy_fen=state["subsidy_fen"] + 1))
    assert cli.main(["projections", "rebuild"]) == 1
    err = capsys.readouterr().err
    assert f"position {position} (altered)" in err and "--rechain" in err
    assert cli.main(["projections", "rebuild", "--rechain"]) == 0
    assert "re-chained" in capsys.readouterr().out


def test_verify_against_a_published_head(history, ledger, views):
    head = chain.head(views.store)
    at = chain.verify(ledger, views.store, head_hash=head["hash"], head_position=head["position"])
    assert at["ok"] is True and at["published_head"] == {"position": head["position"], "hash": head["hash"]}
    anywhere = chain.verify(ledger, views.store, head_hash=chain.links_between(views.store, 5, 5)[5].hash)
    assert anywhere["ok"] is True and anywhere["published_head"]["position"] == 5
    wrong = chain.verify(ledger, views.store, head_hash="a" * 64, head_position=5)
    assert (wrong["ok"], wrong["reason"], wrong["position"]) == (False, "head_mismatch", 5)
    missing = chain.verify(ledger, views.store, head_hash="a" * 64)
    assert (missing["ok"], missing["reason"]) == (False, "head_not_found")


# --- verification -----------------------------------------------------------------------------------------

def test_an_untouched_store_verifies(history, ledger, views):
    result = chain.verify(ledger, views.store)
    assert result["ok"] is True and result["checked"] == ledger.recorder.max_notification_id()
    assert result["head"] == chain.head(views.store)


def test_verify_catches_an_event_row_edited_in_the_database(history, store, ledger, views):
    # Someone with database access raises the year's budget by ¥1 in the stored row.
    position = position_of(ledger, "Year.BudgetAllocated")
    edit_event(store, position, lambda state: state.update(amount_fen=state["amount_fen"] + 100))
    result = chain.verify(ledger, views.store)
    assert result["ok"] is False
    assert (result["position"], result["reason"]) == (position, "altered")
    assert result["checked"] == position - 1  # everything before it still verified


def test_verify_catches_an_edited_actor(history, store, ledger, views):
    position = position_of(ledger, "SettlementBatch.Paid")
    edit_event(store, position, lambda state: state.update(actor={"role": "finance", "id": "someone-else"}))
    result = chain.verify(ledger, views.store)
    assert (result["ok"], result["position"], result["reason"]) == (False, position, "altered")


def test_verify_catches_a_deleted_event_row(history, store, ledger, views):
    position = position_of(ledger, "Voucher.Reserved")
    delete_event(store, position)
    result = chain.verify(ledger, views.store)
    assert (result["ok"], result["position"], result["reason"]) == (False, position, "deleted")


def test_verify_catches_reordered_events(history, store, ledger, views):
    # Two events' contents swapped between their rows: each row now holds the other's event.
    first = position_of(ledger, "Contract.Completed")
    second = first + 1
    a, b = read_state(store, first), read_state(store, second)
    write_state(store, first, b)
    write_state(store, second, a)
    result = chain.verify(ledger, views.store)
    assert (result["ok"], result["position"], result["reason"]) == (False, first, "altered")


def test_verify_catches_an_unreadable_event_row(history, store, ledger, views):
    position = position_of(ledger, "Contract.Signed")
    write_state(store, position, b"\x00 not json")
    result = chain.verify(ledger, views.store)
    assert (result["ok"], result["position"], result["reason"]) == (False, position, "unreadable")


def test_verify_catches_an_edited_chain_link(history, views, ledger):
    chain_sql(views, "UPDATE vl_audit_chain SET prev_hash = ? WHERE position = ?", ("f" * 64, 5))
    result = chain.verify(ledger, views.store)
    assert (result["ok"], result["position"], result["reason"]) == (False, 5, "link_broken")


def test_verify_catches_an_event_that_was_never_chained(history, views, ledger):
    chain_sql(views, "DELETE FROM vl_audit_chain WHERE position = ?", (7,))
    result = chain.verify(ledger, views.store)
    assert (result["ok"], result["position"], result["reason"]) == (False, 7, "unchained")


def test_verify_checks_a_range(history, store, ledger, views):
    position = position_of(ledger, "Case.Filed")
    edit_event(store, position, lambda state: state.update(note="改过"))
    before = chain.verify(ledger, views.store, to_position=position - 1)
    assert before["ok"] is True and before["checked"] == position - 1
    inside = chain.verify(ledger, views.store, from_position=position - 3, to_position=position + 1)
    assert (inside["ok"], inside["position"], inside["checked"]) == (False, position, 3)
    after = chain.verify(ledger, views.store, from_position=position + 1)
    assert after["ok"] is True and after["checked"] == chain.head(views.store)["position"] - position


def test_a_remembered_large_event_is_decoded_afresh_once_its_row_is_edited(history, store, ledger, views,
                                                                         monkeypatch):
    """Traces share the decoded records of large events (projections/storage/eventlog.py), yet still show
    what the store holds now: the stored row is part of the key."""
    from projections.storage import eventlog

    monkeypatch.setattr(eventlog._LargeRecords, "MIN_BYTES", 0)  # remember every event, as large ones are
    monkeypatch.setattr(eventlog, "_LARGE", eventlog._LargeRecords())
    position = position_of(ledger, "Year.BudgetAllocated")
    first = eventlog.records_at(ledger, [position])[position]
    assert eventlog.records_at(ledger, [position])[position] is first  # remembered, not decoded again
    edit_event(store, position, lambda state: state.update(amount_fen=state["amount_fen"] + 100))
    edited = eventlog.records_at(ledger, [position])[position]
    assert edited is not first
    assert edited["data"]["amount_fen"] == first["data"]["amount_fen"] + 100
