"""Idempotency-Key: the first answer is saved with the command's events, in one transaction (API.md)."""

import pytest

from ledger import errors
from ledger.context import Actor, Idempotency, acting
from ledger.domain.idempotency import IdempotencyRecord
from ledger.money import yuan
from tests.support import YEAR, as_role

OPERATOR = Actor(role="operator", id="促进中心-王五")


def head(ledger):
    return ledger.recorder.max_notification_id() or 0


def issue(ledger, enterprise, key, request_hash="hash-1", actor=OPERATOR):
    with acting(actor, idempotency=Idempotency(key=key, request_hash=request_hash)):
        return ledger.issue_voucher(enterprise, YEAR)


def test_idempotency_replay_returns_first_response_and_saves_nothing(scenario, ledger):
    scenario.open_year()
    enterprise = scenario.enterprise(("tech_sme",))
    first = issue(ledger, enterprise, "key-1")
    assert not first.replayed and first.position == head(ledger)
    before = head(ledger)
    again = issue(ledger, enterprise, "key-1")
    assert again.replayed and again.data == first.data and again.created
    assert head(ledger) == before
    assert ledger.get_year(YEAR).issued_fen == first.data["quota"]


def test_idempotency_key_reused(scenario, ledger):
    # The same key with another request is refused, and nothing is recorded.
    scenario.open_year()
    first_enterprise, second_enterprise = scenario.enterprise(), scenario.enterprise()
    issue(ledger, first_enterprise, "key-1", "hash-1")
    before = head(ledger)
    with pytest.raises(errors.IdempotencyKeyReused):
        issue(ledger, second_enterprise, "key-1", "hash-2")
    assert head(ledger) == before


def test_idempotency_record_is_saved_with_the_command_s_events(scenario, ledger):
    # One save: the record's event is among the command's events, so a crash cannot keep one without the other.
    scenario.open_year()
    enterprise = scenario.enterprise()
    before = head(ledger)
    result = issue(ledger, enterprise, "key-atomic")
    recorded = [ledger.mapper.to_domain_event(n) for n in ledger.recorder.select_notifications(
        start=before, limit=100, inclusive_of_start=False)]
    assert {type(e).__qualname__ for e in recorded} == {"Voucher.Issued", "Year.QuotaCommitted",
                                                        "IdempotencyRecord.Recorded"}
    assert len({e.request_id for e in recorded}) == 1
    record = ledger.repository.get(IdempotencyRecord.create_id("operator:促进中心-王五:", "key-atomic"))
    assert (record.created, record.result) == (True, result.data)


def test_idempotency_keys_belong_to_their_actor(scenario, ledger):
    # Two clients choosing the same key do not see each other's answers.
    scenario.open_year()
    first, second = scenario.enterprise(), scenario.enterprise()
    issue(ledger, first, "shared-key")
    other = issue(ledger, second, "shared-key", actor=Actor(role="operator", id="促进中心-赵六"))
    assert not other.replayed and other.data["enterprise_id"] == second


def test_idempotency_replay_of_a_refusal_returns_the_first_refusal(scenario, ledger):
    # The budget cannot cover the voucher: the refusal is the first response to this key.
    scenario.open_year(budget_yuan=None)
    enterprise = scenario.enterprise(("tech_sme",))
    with pytest.raises(errors.BudgetExhausted):
        issue(ledger, enterprise, "key-refused")
    # Finance funds the year meanwhile; repeating the same request with the same key still answers
    # the first refusal and changes nothing, while a new key runs the command afresh.
    with as_role("finance"):
        ledger.allocate_budget(YEAR, yuan(1_000_000), "later")
    before = head(ledger)
    with pytest.raises(errors.BudgetExhausted) as repeated:
        issue(ledger, enterprise, "key-refused")
    assert repeated.value.code == "BUDGET_EXHAUSTED" and "issued" in repeated.value.details
    assert head(ledger) == before
    assert not issue(ledger, enterprise, "key-fresh").replayed


def test_idempotency_records_stored_with_an_http_status_still_replay_their_first_answer(scenario, ledger):
    # Records stored before `created` carry the HTTP status of their first answer: 201 reads back as
    # created, 200 as not, so a repeated key answers exactly what it answered first.
    scenario.open_year()
    enterprise = scenario.enterprise(("tech_sme",))
    scope = "operator:促进中心-王五:"
    with acting(OPERATOR):
        for key, status in (("old-201", 201), ("old-200", 200)):
            ledger.save(IdempotencyRecord(scope=scope, key=key, request_hash="hash-1", result={"stored": key},
                                          status=status))
    assert issue(ledger, enterprise, "old-201").created is True
    replayed = issue(ledger, enterprise, "old-200")
    assert replayed.replayed and replayed.data == {"stored": "old-200"} and replayed.created is False
