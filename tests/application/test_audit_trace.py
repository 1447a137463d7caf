"""Penetrating traces (穿透式追溯, Art. 21-24), asserted step by step on a scripted year.

The history (tests/audit_support.py): the year is opened and funded; enterprise A gets a T2 voucher,
enterprise B a T4 one; a provider is signed and lists a diagnosis product; A's contract is proposed,
signed, paid and completed; B completes two contracts; the provider claims A's and B's first
contract in one claim and B's second in another; the operator reviews both, DIIT approves, the
notice passes, finance pays; then the supervisor files a case against A and the operator claws A's
contract back and revokes A. Each trace lists its events in position order; here the events are
grouped by the command that recorded them, so each step reads as the walkthrough does.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ledger import errors
from ledger.money import yuan
from projections.audit import trace_queries
from tests.audit_support import DOCS, History, build, shared_batch
from tests.support import as_role

REVIEWS = ["Provider.Reviewed"] * 5
PRODUCT_REVIEWS = ["Product.Reviewed"] * 3


@pytest.fixture
def history(scenario: Any, views: Any) -> History:
    built = build(scenario)
    views.catch_up()
    return built


def by_step(history: History, steps: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The trace's events grouped by the scripted command that recorded them, in order."""
    grouped: list[tuple[str, list[str]]] = []
    bounds = [(label, last) for label, last in history.steps]
    for step in steps:
        label = next(label for label, last in bounds if step["position"] <= last)
        if not grouped or grouped[-1][0] != label:
            grouped.append((label, []))
        grouped[-1][1].append(step["type"])
    return grouped


def assert_steps(history: History, result: dict[str, Any], expected: list[tuple[str, list[str]]]) -> None:
    steps = result["steps"]
    positions = [s["position"] for s in steps]
    assert positions == sorted(set(positions)), "steps are in position order, each once"
    got = by_step(history, steps)
    assert [label for label, _ in got] == [label for label, _ in expected]
    for (label, types), (_, wanted) in zip(got, expected):
        # Within one command the store's order is the command's save order: compare as multisets.
        assert Counter(types) == Counter(wanted), label
    for step in steps:
        assert step["recorded_at"].endswith("+00:00")
        assert step["actor"]["role"] and step["actor"]["id"]
        assert "request_id" in step["data"]
        assert len(step["hash"]) == 64


def step(result: dict[str, Any], type_: str, **match: Any) -> list[dict[str, Any]]:
    return [s for s in result["steps"] if s["type"] == type_
            and all(s.get(k, s["data"].get(k)) == v for k, v in match.items())]


def test_contract_trace_reaches_back_to_identity_voucher_and_budget_and_forward_to_sanction(history, ledger, views):
    ids = history.ids
    result = trace_queries.contract_trace(ledger, views.store, ids["contract_a"])
    assert result["subject"] == {"type": "contract", "contract_id": ids["contract_a"], "year": 2026,
                                 "voucher_id": ids["voucher_a"], "enterprise_id": ids["enterprise_a"],
                                 "provider_id": ids["provider"], "product_id": ids["product"]}
    assert_steps(history, result, [
        # Back: the year opened by the annual notice and funded by finance (Art. 9, 11).
        ("year opened", ["Year.Opened"]),
        ("budget allocated", ["Year.BudgetAllocated"]),
        # The enterprise's identity, and its voucher with the quota committed against the budget.
        ("enterprise a registered", ["Enterprise.Registered"]),
        ("voucher a issued", ["Voucher.Issued", "Year.QuotaCommitted"]),
        # The provider's application, five reviews and signing for the year; the product's listing.
        ("provider signed", ["Provider.Applied", *REVIEWS, "Provider.Signed", "ProviderYear.Opened"]),
        ("product submitted", ["Product.Submitted"]),
        ("product listed", [*PRODUCT_REVIEWS, "Product.Listed"]),
        # The contract itself: reservation on the voucher and the provider's cap, deposit, deduction.
        ("contract a proposed", ["Contract.Proposed"]),
        ("contract a signed", ["Contract.Signed", "Voucher.Reserved", "ProviderYear.Reserved"]),
        ("contract a deposit paid", ["Contract.DepositPaid"]),
        ("contract a completed", ["Contract.Completed", "Voucher.Used", "ProviderYear.Used"]),
        # Forward: the batch, its claim and review, approval, notice and payment (Art. 19-20).
        ("batch opened", ["SettlementBatch.Opened", "Year.BatchOpened"]),  # counted on the year (Art. 19)
        ("claim submitted", ["SettlementBatch.ClaimSubmitted", "Contract.Claimed"]),
        ("claim reviewed", ["SettlementBatch.ClaimReviewed"]),
        ("batch approved", ["SettlementBatch.Approved"]),
        ("notice recorded", ["SettlementBatch.Noticed"]),
        ("batch paid", ["SettlementBatch.Paid", "Contract.Settled", "ProviderYear.Settled"]),
        # And the sanction (Art. 25): case, clawback into a receivable, bad credit, revocation.
        ("case filed", ["Case.Filed"]),
        ("case sanctioned", ["Case.Sanctioned", "Case.CreditRecorded", "Contract.ClawedBack", "Voucher.ClawedBack",
                             "ProviderYear.ClawedBack", "Enterprise.BadCreditRecorded", "Enterprise.Revoked",
                             "Voucher.HolderRevoked"]),  # the revocation stops the voucher too (Stops 1)
    ])
    # What was left out: B's contracts and their claim, the other product, the next year.
    assert step(result, "Contract.Claimed", stream=ids["contract_a"])
    assert not step(result, "Contract.Claimed", stream=ids["contract_b"])
    assert [s["stream"] for s in step(result, "Contract.Settled")] == [ids["contract_a"]]
    assert [s["data"]["contract_id"] for s in step(result, "ProviderYear.Settled")] == [ids["contract_a"]]
    assert [s["data"]["voucher_id"] for s in step(result, "Year.QuotaCommitted")] == [ids["voucher_a"]]
    assert [s["data"]["year"] for s in step(result, "Year.Opened")] == [2026]


def test_contract_trace_records_who_acted_the_rule_parameters_and_the_evidence(history, ledger, views):
    ids = history.ids
    result = trace_queries.contract_trace(ledger, views.store, ids["contract_a"])
    signed = step(result, "Contract.Signed")[0]
    assert signed["actor"] == {"role": "provider", "id": f"provider-{ids['provider']}"}
    # The shares and caps applied at signing are on the event (ARCHITECTURE.md, "Events").
    assert signed["data"]["share_bp"] == 8000 and signed["data"]["deposit_share_bp"] == 2000
    assert signed["data"]["subsidy_fen"] == 8_000_000 and signed["data"]["provider_cap_fen"] == 500_000_000
    reserved = step(result, "Voucher.Reserved")[0]
    assert reserved["stream"] == ids["voucher_a"] and reserved["data"]["amount_fen"] == 8_000_000
    claim = step(result, "SettlementBatch.ClaimSubmitted")[0]
    assert claim["data"]["documents"][0]["sha256"] == "b" * 64  # documents are references, never bytes
    assert step(result, "SettlementBatch.Approved")[0]["actor"] == {"role": "approver", "id": "diit-zhao"}
    assert step(result, "SettlementBatch.Paid")[0]["data"]["reference"] == "桂财工兑〔2026〕1号"
    assert step(result, "Case.Filed")[0]["actor"] == {"role": "supervisor", "id": "supervisor-zhou"}
    assert step(result, "Contract.ClawedBack")[0]["data"]["receivable_fen"] == 8_000_000


def test_enterprise_trace_is_its_years_every_step(history, ledger, views):
    ids = history.ids
    result = trace_queries.enterprise_trace(ledger, views.store, ids["enterprise_b"], 2026)
    assert result["subject"] == {"type": "enterprise", "enterprise_id": ids["enterprise_b"], "year": 2026}
    contract = ["Contract.Proposed", "Contract.Signed", "Voucher.Reserved", "ProviderYear.Reserved",
                "Contract.DepositPaid", "Contract.Completed", "Voucher.Used", "ProviderYear.Used"]
    assert_steps(history, result, [
        ("year opened", ["Year.Opened"]),
        ("budget allocated", ["Year.BudgetAllocated"]),
        ("enterprise b holds a voucher", ["Enterprise.Registered", "Voucher.Issued", "Year.QuotaCommitted"]),
        ("contract b completed", contract),
        ("contract b2 completed", contract),
        ("batch opened", ["SettlementBatch.Opened", "Year.BatchOpened"]),  # counted on the year (Art. 19)
        ("claim submitted", ["SettlementBatch.ClaimSubmitted", "Contract.Claimed"]),
        ("claim b2 submitted", ["SettlementBatch.ClaimSubmitted", "Contract.Claimed"]),
        ("claim reviewed", ["SettlementBatch.ClaimReviewed"]),
        ("claim b2 reviewed", ["SettlementBatch.ClaimReviewed"]),
        ("batch approved", ["SettlementBatch.Approved"]),
        ("notice recorded", ["SettlementBatch.Noticed"]),
        ("batch paid", ["SettlementBatch.Paid", "Contract.Settled", "Contract.Settled", "ProviderYear.Settled",
                        "ProviderYear.Settled"]),
    ])
    # A's contract, its claim and its sanction are A's, not B's.
    assert not step(result, "Contract.Claimed", stream=ids["contract_a"])
    assert not step(result, "Case.Filed")


def test_enterprise_trace_of_a_sanctioned_enterprise_ends_with_its_revocation(history, ledger, views):
    result = trace_queries.enterprise_trace(ledger, views.store, history.ids["enterprise_a"], 2026)
    labels = [label for label, _ in by_step(history, result["steps"])]
    assert labels[:4] == ["year opened", "budget allocated", "enterprise a registered", "voucher a issued"]
    assert labels[-2:] == ["case filed", "case sanctioned"]
    assert result["steps"][-1]["type"] == "Enterprise.Revoked"


def test_enterprise_trace_of_another_year_holds_only_identity_and_that_years_budget(history, ledger, views):
    result = trace_queries.enterprise_trace(ledger, views.store, history.ids["enterprise_a"], 2027)
    assert [s["type"] for s in result["steps"]] == ["Year.Opened", "Enterprise.Registered", "Case.Filed",
                                                    "Case.Sanctioned", "Case.CreditRecorded",
                                                    "Enterprise.BadCreditRecorded", "Enterprise.Revoked"]
    assert result["steps"][0]["data"]["year"] == 2027


def test_provider_trace_is_its_years_every_step(history, ledger, views):
    ids = history.ids
    result = trace_queries.provider_trace(ledger, views.store, ids["provider"], 2026)
    assert result["subject"] == {"type": "provider", "provider_id": ids["provider"], "year": 2026}
    contract = ["Contract.Proposed", "Contract.Signed", "Voucher.Reserved", "ProviderYear.Reserved",
                "Contract.DepositPaid", "Contract.Completed", "Voucher.Used", "ProviderYear.Used"]
    assert_steps(history, result, [
        ("year opened", ["Year.Opened"]),
        ("budget allocated", ["Year.BudgetAllocated"]),
        ("provider signed", ["Provider.Applied", *REVIEWS, "Provider.Signed", "ProviderYear.Opened"]),
        ("product submitted", ["Product.Submitted"]),
        ("product listed", [*PRODUCT_REVIEWS, "Product.Listed"]),
        # Its other product was submitted (no year) but listed for the next year only.
        ("other product listed for next year", ["Product.Submitted"]),
        ("contract a proposed", ["Contract.Proposed"]),
        ("contract a signed", ["Contract.Signed", "Voucher.Reserved", "ProviderYear.Reserved"]),
        ("contract a deposit paid", ["Contract.DepositPaid"]),
        ("contract a completed", ["Contract.Completed", "Voucher.Used", "ProviderYear.Used"]),
        ("contract b completed", contract),
        ("contract b2 completed", contract),
        ("batch opened", ["SettlementBatch.Opened", "Year.BatchOpened"]),  # counted on the year (Art. 19)
        ("claim submitted", ["SettlementBatch.ClaimSubmitted", "Contract.Claimed", "Contract.Claimed"]),
        ("claim b2 submitted", ["SettlementBatch.ClaimSubmitted", "Contract.Claimed"]),
        ("claim reviewed", ["SettlementBatch.ClaimReviewed"]),
        ("claim b2 reviewed", ["SettlementBatch.ClaimReviewed"]),
        ("batch approved", ["SettlementBatch.Approved"]),
        ("notice recorded", ["SettlementBatch.Noticed"]),
        ("batch paid", ["SettlementBatch.Paid", *["Contract.Settled"] * 3, *["ProviderYear.Settled"] * 3]),
        # The case against A names a contract of this provider: the clawback is its receivable.
        ("case filed", ["Case.Filed"]),
        ("case sanctioned", ["Case.Sanctioned", "Contract.ClawedBack", "Voucher.ClawedBack",
                             "ProviderYear.ClawedBack"]),
    ])


def test_settlement_trace_is_the_batch_with_every_claim_and_each_contract_settled(history, ledger, views):
    ids = history.ids
    result = trace_queries.settlement_trace(ledger, views.store, ids["batch"])
    assert result["subject"] == {"type": "settlement", "batch_id": ids["batch"], "year": 2026}
    assert_steps(history, result, [
        ("year opened", ["Year.Opened"]),
        ("budget allocated", ["Year.BudgetAllocated"]),
        ("batch opened", ["SettlementBatch.Opened", "Year.BatchOpened"]),  # counted on the year (Art. 19)
        ("claim submitted", ["SettlementBatch.ClaimSubmitted", "Contract.Claimed", "Contract.Claimed"]),
        ("claim b2 submitted", ["SettlementBatch.ClaimSubmitted", "Contract.Claimed"]),
        ("claim reviewed", ["SettlementBatch.ClaimReviewed"]),
        ("claim b2 reviewed", ["SettlementBatch.ClaimReviewed"]),
        ("batch approved", ["SettlementBatch.Approved"]),
        ("notice recorded", ["SettlementBatch.Noticed"]),
        ("batch paid", ["SettlementBatch.Paid", *["Contract.Settled"] * 3, *["ProviderYear.Settled"] * 3]),
    ])
    settled = {s["stream"] for s in step(result, "Contract.Settled")}
    assert settled == {ids["contract_a"], ids["contract_b"], ids["contract_b2"]}


def test_an_objection_reaches_the_trace_of_the_disputed_contract_only(scenario, ledger, views):
    history = build(scenario, sanction=False, notice="objection")
    views.catch_up()
    ids = history.ids
    disputed = trace_queries.contract_trace(ledger, views.store, ids["contract_b2"])
    noticed = step(disputed, "SettlementBatch.Noticed")
    assert noticed and noticed[0]["data"]["claim_ids"] == [ids["claim_b2"]]
    # The disputed contract stays in its claim, held until the approver resolves it (DOMAIN.md "Stops" 6).
    assert step(disputed, "Contract.Disputed")
    assert not step(disputed, "Contract.Settled")
    paid = trace_queries.contract_trace(ledger, views.store, ids["contract_a"])
    assert step(paid, "SettlementBatch.Noticed") and not step(paid, "Contract.ClaimReleased")
    assert step(paid, "Contract.Settled")


def test_traces_of_unknown_subjects_are_not_found(history, ledger, views):
    with pytest.raises(errors.NotFound):
        trace_queries.contract_trace(ledger, views.store, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(errors.NotFound):
        trace_queries.contract_trace(ledger, views.store, history.ids["voucher_a"])  # a voucher is not a contract
    with pytest.raises(errors.NotFound):
        trace_queries.settlement_trace(ledger, views.store, history.ids["contract_a"])
    with pytest.raises(errors.NotFound):
        trace_queries.enterprise_trace(ledger, views.store, history.ids["provider"], 2026)
    with pytest.raises(errors.NotFound):
        trace_queries.provider_trace(ledger, views.store, history.ids["enterprise_a"], 2026)


def test_trace_index_survives_a_rebuild_unchanged(history, ledger, views):
    before = views.store.query("SELECT subject_kind, subject_key, position FROM vl_trace "
                               "ORDER BY subject_kind, subject_key, position")
    views.rebuild()
    after = views.store.query("SELECT subject_kind, subject_key, position FROM vl_trace "
                              "ORDER BY subject_kind, subject_key, position")
    assert before == after and len(before) > 100


def test_a_sanction_before_payment_withdraws_the_contract_from_its_claim_in_the_trace(scenario, ledger, views):
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis", 100_000)
    enterprise, voucher_id = scenario.holder(("tech_sme",))
    contract_id = scenario.contract(enterprise, voucher_id, provider, product, yuan(100_000), state="completed")
    with as_role("operator", name="centre-li"):
        batch_id = ledger.open_settlement(2026, "第一批兑付").data["batch_id"]
    with as_role("provider", provider):
        claim_id = ledger.claim_settlement(batch_id, [contract_id], DOCS).data["claim_id"]
    with as_role("supervisor", name="supervisor-zhou"):
        case_id = ledger.file_case("provider", provider, "fake_transaction", [contract_id], "虚假交易").data["case_id"]
    with as_role("operator", name="centre-sun"):
        ledger.sanction_case(case_id, [contract_id], terminate_provider=True, note="依第二十五条处理")
    views.catch_up()
    result = trace_queries.contract_trace(ledger, views.store, contract_id)
    types = [s["type"] for s in result["steps"]]
    withdrawn = step(result, "SettlementBatch.ContractWithdrawn")
    assert withdrawn and withdrawn[0]["data"]["claim_id"] == claim_id and withdrawn[0]["data"]["case_id"] == case_id
    # The provider's termination is a sanction on the contract's provider: in the trace too.
    assert "Provider.Terminated" in types and types.index("Case.Filed") < types.index("Provider.Terminated")
    assert not step(result, "Contract.Settled")
    batch = trace_queries.settlement_trace(ledger, views.store, batch_id)
    assert step(batch, "SettlementBatch.ContractWithdrawn")


def test_a_contract_trace_shows_only_its_own_lines_of_a_shared_batch_step(scenario, ledger, views):
    """Approval, notice and payment list every provider of the batch: a contract's trace keeps the batch's
    totals and this contract's lines, marked `scoped`; the batch's trace keeps every line."""
    ids = shared_batch(scenario, ledger)
    with as_role("finance", name="finance-qian"):
        ledger.pay_settlement(ids["batch"], "桂财工兑〔2026〕3号")
    views.catch_up()
    whole = trace_queries.settlement_trace(ledger, views.store, ids["batch"])
    paid_whole = step(whole, "SettlementBatch.Paid")[0]
    assert set(paid_whole["data"]["providers"]) == {ids["p1"], ids["p2"]}
    for contract, provider, claim in (("c1", "p1", "claim1"), ("c2", "p2", "claim2")):
        result = trace_queries.contract_trace(ledger, views.store, ids[contract])
        approved, paid = step(result, "SettlementBatch.Approved")[0], step(result, "SettlementBatch.Paid")[0]
        noticed = step(result, "SettlementBatch.Noticed")[0]
        for shared in (approved, paid):
            assert shared["scoped"] is True and set(shared["data"]["providers"]) == {ids[provider]}
            assert shared["data"]["amount_fen"] > shared["data"]["providers"][ids[provider]]["amount_fen"] > 0
        assert paid["data"]["providers"][ids[provider]] == paid_whole["data"]["providers"][ids[provider]]
        assert paid["data"]["reference"] == "桂财工兑〔2026〕3号" and paid["hash"] == paid_whole["hash"]
        # A notice with no objection names no claim: nothing of others to leave out, so it is whole.
        assert noticed["data"] == step(whole, "SettlementBatch.Noticed")[0]["data"] and "scoped" not in noticed
        # The contract's own claim is its own: whole, with the provider's other contracts in it.
        submitted = [s for s in result["steps"] if s["data"].get("claim_id") == ids[claim]]
        assert submitted and not any(s.get("scoped") for s in submitted)
    assert not any(s.get("scoped") for s in whole["steps"])
