"""The export's decode path (projections/storage/fastlog.py) gives what the library's mapper gives, for every state.

An export that decoded an event otherwise than the projections and `audit/verify` do would show
the supervisor a different ledger. These tests hold the two equal over a whole year's history on
both backends, over altered states written into the store by hand, and over random ones.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Notification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.audit import chain, export
from projections.audit.export_verify import verify_export
from projections.storage import eventlog, fastlog
from tests.audit_support import build, position_of, read_state, write_state


@pytest.fixture
def history(scenario: Any, views: Any) -> Any:
    built = build(scenario)
    views.catch_up()
    return built


def mapper_way(app: Any, row: fastlog.StoredRow) -> Any:
    return eventlog.decode(app, Notification(id=row.position, originator_id=UUID(row.stream),
                                             originator_version=row.version, topic=row.topic, state=row.state))


def same(fast: Any, slow: Any) -> bool:
    if isinstance(slow, eventlog.Unreadable):
        return (isinstance(fast, eventlog.Unreadable) and fast.position == slow.position
                and type(fast.error) is type(slow.error))
    return fast == slow


def all_rows(app: Any) -> list[fastlog.StoredRow]:
    return [row for page in fastlog.iter_pages(app, 0, app.recorder.max_notification_id(), 7) for row in page]


def test_every_event_of_a_year_takes_the_fast_way_and_decodes_as_the_mapper_does(history, ledger):
    rows = all_rows(ledger)
    assert [row.position for row in rows] == list(range(1, ledger.recorder.max_notification_id() + 1))
    records = fastlog.Records(ledger)
    assert records.enabled
    for row in rows:
        assert records._fast(row) == mapper_way(ledger, row), row.topic  # _fast: no fallback taken
    assert {row.topic.rsplit(":", 1)[1] for row in rows} >= {
        "Year.Opened", "Voucher.Issued", "Voucher.Reserved", "Contract.Signed", "SettlementBatch.Paid"}


def test_rows_read_by_position_are_the_rows_read_in_pages(history, ledger):
    rows = all_rows(ledger)
    wanted = [rows[0].position, rows[3].position, rows[-1].position]
    assert fastlog.rows_at(ledger, wanted) == [rows[0], rows[3], rows[-1]]


def test_pages_read_with_their_links_are_the_rows_and_the_chain_links_read_apart(history, ledger, views):
    """One statement on PostgreSQL, two reads on SQLite: the same rows, each with its own link."""
    head = ledger.recorder.max_notification_id()
    after, stop = 5, head - 3  # a range from the middle, as `from_position`/`to_position` make
    pages = list(fastlog.iter_linked_pages(ledger, views.store, after, stop, 7))
    assert [row for rows, _ in pages for row in rows] == [row for row in all_rows(ledger) if after < row.position <= stop]
    assert all(len(rows) == 7 for rows, _ in pages[:-1])
    for rows, links in pages:
        assert links == chain.links_between(views.store, rows[0].position, rows[-1].position)
        assert sorted(links) == [row.position for row in rows]


def test_rows_not_yet_chained_are_read_without_links(history, ledger, views):
    from tests.support import as_role

    chained = ledger.recorder.max_notification_id()
    with as_role("system", name="test-cli"):
        ledger.issue_credential("auditor", name="auditor-late")  # appended after the views caught up
    head = ledger.recorder.max_notification_id()
    assert head > chained
    pages = list(fastlog.iter_linked_pages(ledger, views.store, 0, head, 50))
    rows = [row for page, _ in pages for row in page]
    links = {position: link for _, page_links in pages for position, link in page_links.items()}
    assert [row.position for row in rows] == list(range(1, head + 1))
    assert sorted(links) == list(range(1, chained + 1))


ALTERED = {
    "a float amount": lambda s: s.update(amount_fen=1.5),
    "NaN": lambda s: s.update(amount_fen=float("nan")),
    "an integer beyond 64 bits": lambda s: s.update(amount_fen=2 ** 70),
    "an unknown transcoding": lambda s: s.update(note={"_type_": "money", "_data_": "1"}),
    "a transcoding of a non-string": lambda s: s.update(note={"_type_": "uuid_hex", "_data_": 5}),
    "a nested UUID in a list": lambda s: s.update(refs=[{"_type_": "uuid_hex", "_data_": "ab" * 16}]),
    "a decimal": lambda s: s.update(rate={"_type_": "decimal_str", "_data_": "0.50"}),
    "a class version": lambda s: s.update(class_version=2),
    "no timestamp": lambda s: s.pop("timestamp"),
    "a plain-string timestamp": lambda s: s.update(timestamp="2026-06-01T00:00:00.000001+00:00"),
    "a timestamp without microseconds": lambda s: s.update(
        timestamp={"_type_": "datetime_iso", "_data_": "2026-06-01T08:00:00+00:00"}),
    "a timestamp in UTC+8": lambda s: s.update(
        timestamp={"_type_": "datetime_iso", "_data_": "2026-06-01T08:00:00.000001+08:00"}),
    "a timestamp with a space": lambda s: s.update(
        timestamp={"_type_": "datetime_iso", "_data_": "2026-06-01 08:00:00.000001+00:00"}),
    "a timestamp that is no date": lambda s: s.update(
        timestamp={"_type_": "datetime_iso", "_data_": "2026-13-01T08:00:00.000001+00:00"}),
    "an actor with another key": lambda s: s.update(actor={"role": "finance", "id": "x", "seal": "y"}),
    "an actor that is a string": lambda s: s.update(actor="finance"),
    "an actor with a number": lambda s: s.update(actor={"role": "finance", "id": 7}),
    "an actor with an empty role": lambda s: s.update(actor={"role": "", "id": None}),
    "no actor": lambda s: s.pop("actor"),
    "a null actor": lambda s: s.update(actor=None),
    "an actor that is a UUID": lambda s: s.update(actor={"_type_": "uuid_hex", "_data_": "cd" * 16}),
    "its own originator id": lambda s: s.update(originator_id="not me"),
}
# The mapper sets the originator id from the row whatever the state says, and takes a class version
# only to upcast older events: the record is unchanged, so is its hash.
NOT_IN_THE_RECORD = {"its own originator id", "a class version"}


@pytest.mark.parametrize("alteration", sorted(ALTERED))
def test_an_altered_state_decodes_as_the_mapper_decodes_it_and_the_export_shows_the_break(
        alteration, history, ledger, views, store, tmp_path):
    position = position_of(ledger, "SettlementBatch.Paid")
    state = json.loads(read_state(store, position))
    ALTERED[alteration](state)
    write_state(store, position, json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode())
    (row,) = fastlog.rows_at(ledger, [position])
    assert same(fastlog.Records(ledger)(row), mapper_way(ledger, row))
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(export.export_chunks(ledger, views.store, "jsonl")))
    result = verify_export(str(path))
    if alteration in NOT_IN_THE_RECORD:
        assert result.ok
    else:
        assert (result.ok, result.position) == (False, position), result.reason


BYTES = {
    "a byte-order mark": lambda b: "\ufeff".encode() + b,
    "surrounding white space": lambda b: b" \n" + b + b"\t ",
    "a duplicated key": lambda b: b[:-1] + b',"amount_fen":1}',
    "a lone surrogate": lambda b: b[:-1] + b',"note":"\\ud800"}',
    "a list at the top": lambda b: b"[" + b + b"]",
    "not JSON": lambda b: b[:-2],
    "not UTF-8": lambda b: b[:-1] + b',"note":"\xff"}',
    "Infinity": lambda b: b[:-1] + b',"note":Infinity}',
}


@pytest.mark.parametrize("alteration", sorted(BYTES))
def test_altered_bytes_decode_as_the_mapper_decodes_them(alteration, history, ledger, store):
    position = position_of(ledger, "Voucher.Reserved")
    write_state(store, position, BYTES[alteration](read_state(store, position)))
    (row,) = fastlog.rows_at(ledger, [position])
    assert same(fastlog.Records(ledger)(row), mapper_way(ledger, row))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70) | st.text(max_size=8)
    | st.floats(allow_nan=True) | st.fixed_dictionaries(
        {"_type_": st.sampled_from(["uuid_hex", "decimal_str", "datetime_iso", "date_iso", "other"]),
         "_data_": st.sampled_from(["ab" * 16, "1.10", "2026-06-01T08:00:00.5+00:00", "2026-06-01", "x", 3])}),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(st.sampled_from(["amount_fen", "note", "actor", "timestamp", "refs", "class_version"]),
                             json_values, max_size=3),
       cut=st.integers(min_value=0, max_value=400), insert=st.sampled_from(["", "}", ",", '"', "\\", "1", " "]))
def test_random_states_decode_as_the_mapper_decodes_them(ledger, extra, cut, insert):
    """Random values in the usual fields and random damage to the bytes: the same answer both ways."""
    topic = "ledger.domain.voucher:Voucher.Reserved"
    state = {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-06-01T02:03:04.000005+00:00"},
             "actor": {"role": "enterprise", "id": "e-1"}, "request_id": "r", "amount_fen": 100, **extra}
    text = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
    if insert:
        text = text[:cut] + insert + text[cut:]
    row = fastlog.StoredRow(1, "12345678-1234-5678-1234-567812345678", 1, topic, text.encode("utf-8", "surrogatepass"))
    assert same(fastlog.Records(ledger)(row), mapper_way(ledger, row))
