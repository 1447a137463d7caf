"""The service archive (服务档案, Art. 18(二), 21, 22): each entry type on its stream, in the subject's
archive and trace, a finding turned into a case, and the year's credit-commitment gate."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from ledger import errors
from ledger.money import yuan
from projections.audit import archive, trace_queries
from projections.storage import eventlog
from projections.views import providers
from tests.support import YEAR, Scenario, as_role, document


class Archived:
    """A year with one enterprise, one provider and one completed contract between them."""

    def __init__(self, scenario: Scenario, views: Any, **year_params: Any) -> None:
        self.scenario = scenario
        self.app = scenario.app
        self.views = views
        scenario.open_year(**year_params)
        if year_params.get("commitment_required"):
            return
        self.enterprise, self.voucher = scenario.holder()
        self.provider = scenario.provider()
        self.product = scenario.product(self.provider)
        self.contract = scenario.contract(self.enterprise, self.voucher, self.provider, self.product, yuan(10_000),
                                          state="completed")

    def archive(self, kind: str, code: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.views.catch_up()
        return archive.subject_archive(self.app, self.views.store, kind, code, **kwargs)["entries"]

    def types(self, kind: str, code: str, **kwargs: Any) -> list[str]:
        return [e["type"] for e in self.archive(kind, code, **kwargs)]


@pytest.fixture
def world(scenario: Scenario, views: Any) -> Archived:
    return Archived(scenario, views)


def test_survey_of_a_completed_contract_enters_both_parties_archives(world: Archived) -> None:
    with as_role("operator"):
        result = world.app.record_survey(world.contract, 4, "服务及时")
    assert result.created and result.data["score"] == 4
    assert "Contract.SurveyRecorded" in world.types("enterprise", world.enterprise)
    assert "Contract.SurveyRecorded" in world.types("provider", world.provider)
    trace = trace_queries.contract_trace(world.app, world.views.store, world.contract)
    assert [s["data"]["score"] for s in trace["steps"] if s["type"] == "Contract.SurveyRecorded"] == [4]


def test_survey_needs_a_completed_contract_once_scored_1_to_5(world: Archived) -> None:
    signed = world.scenario.contract(world.enterprise, world.voucher, world.provider, world.product, yuan(10_000))
    with as_role("operator"):
        with pytest.raises(errors.ContractNotCompleted):
            world.app.record_survey(signed, 5)
        with pytest.raises(errors.ValidationFailed):
            world.app.record_survey(world.contract, 6)
        world.app.record_survey(world.contract, 5)
        with pytest.raises(errors.AlreadyExists):
            world.app.record_survey(world.contract, 3)
    with as_role("supervisor"), pytest.raises(errors.Forbidden):
        world.app.record_survey(world.contract, 3)


def test_spot_check_is_recorded_on_the_subjects_stream_with_its_documents(world: Archived) -> None:
    with as_role("supervisor"):
        world.app.record_spot_check("provider", world.provider, "failed", "台账不全", world.contract,
                                    [document("other")])
    with as_role("operator"):
        world.app.record_spot_check("enterprise", world.enterprise, "passed", "")
        with pytest.raises(errors.ValidationFailed):  # a contract not the subject's
            other = world.scenario.provider()
            world.app.record_spot_check("provider", other, "passed", "", world.contract)
    entries = world.archive("provider", world.provider)
    checks = [e for e in entries if e["type"] == "Provider.SpotChecked"]
    assert len(checks) == 1 and checks[0]["data"]["result"] == "failed"
    assert checks[0]["data"]["year"] == YEAR and checks[0]["data"]["documents"][0]["sha256"] == "a" * 64
    assert checks[0]["stream"] == str(world.app.get_provider(world.provider).id)
    assert world.types("enterprise", world.enterprise).count("Enterprise.SpotChecked") == 1
    # The provider's spot check of a contract is not the enterprise's own entry.
    assert "Provider.SpotChecked" not in world.types("enterprise", world.enterprise)


def test_commitment_is_made_by_the_subject_for_itself_once_a_year(world: Archived) -> None:
    with as_role("enterprise", world.enterprise):
        world.app.make_commitment(YEAR, "本企业承诺所报材料真实", [document("other")])
        with pytest.raises(errors.AlreadyExists):
            world.app.make_commitment(YEAR, "再次承诺")
    with as_role("provider", world.provider):
        world.app.make_commitment(YEAR, "本机构承诺诚信服务")
    with as_role("operator"), pytest.raises(errors.Forbidden):
        world.app.make_commitment(YEAR, "代为承诺")
    assert "Enterprise.CommitmentMade" in world.types("enterprise", world.enterprise)
    assert "Provider.CommitmentMade" in world.types("provider", world.provider)


def test_supervision_report_records_each_finding_on_its_subject_and_a_finding_becomes_a_linked_case(
        world: Archived) -> None:
    findings = [{"subject_type": "provider", "subject_id": world.provider, "contract_id": world.contract,
                 "severity": "major", "text": "合同金额虚高"},
                {"subject_type": "enterprise", "subject_id": world.enterprise, "severity": "info", "text": "材料齐全"}]
    with as_role("supervisor"):
        report = world.app.file_supervision_report(YEAR, "2026年度第一次监理报告", findings, [document("other")]).data
    with as_role("operator", name="operator-b"):
        with pytest.raises(errors.ValidationFailed):
            world.app.refer_finding(report["report_id"], 0, "not_a_violation")
        case = world.app.refer_finding(report["report_id"], 0, "fake_transaction").data
        with pytest.raises(errors.AlreadyExists):
            world.app.refer_finding(report["report_id"], 0, "fake_transaction")
        with pytest.raises(errors.NotFound):
            world.app.refer_finding(report["report_id"], 5, "fake_transaction")
    assert case["contract_ids"] == [world.contract] and case["report_id"] == report["report_id"]
    linked = world.app.get_supervision_report(report["report_id"])["findings"][0]
    assert linked["case_id"] == case["case_id"]
    provider_entries = world.archive("provider", world.provider)
    types = [e["type"] for e in provider_entries]
    assert "Provider.FindingRecorded" in types and "Case.Filed" in types and "Case.FindingLinked" in types
    link = next(e for e in provider_entries if e["type"] == "Case.FindingLinked")
    assert (link["data"]["report_id"], link["data"]["finding"]) == (report["report_id"], 0)
    assert "Enterprise.FindingRecorded" in world.types("enterprise", world.enterprise)
    # The provider's own view leaves out the case under way, as GET /cases/{id} does.
    assert "Case.Filed" not in world.types("provider", world.provider, for_subject=True)
    # A sanction brings it, with the bad-credit record, into the subject's own archive.
    with as_role("operator", name="operator-c"):
        world.app.sanction_case(case["case_id"], [world.contract])
    own = world.types("provider", world.provider, for_subject=True)
    for kind in ("Case.Filed", "Case.Sanctioned", "Case.CreditRecorded", "Provider.BadCreditRecorded"):
        assert kind in own


def test_archive_keeps_the_existing_acceptance_checks_in_order(world: Archived) -> None:
    with as_role("operator"):
        world.app.record_acceptance(world.contract, "passed", "验收合格")
        world.app.record_survey(world.contract, 5)
    entries = world.archive("enterprise", world.enterprise)
    assert [e["type"] for e in entries] == ["Contract.AcceptanceChecked", "Contract.SurveyRecorded"]
    assert entries[0]["position"] < entries[1]["position"]


# --- the year's credit commitment (Art. 22) ---------------------------------------------------------


def test_commitment_required_refuses_issuance_without_a_commitment(scenario: Scenario, views: Any) -> None:
    Archived(scenario, views, commitment_required=True)
    enterprise = scenario.enterprise(("tech_sme",))
    with as_role("operator"), pytest.raises(errors.CommitmentMissing):
        scenario.app.issue_voucher(enterprise, YEAR)
    with as_role("enterprise", enterprise):
        scenario.app.make_commitment(YEAR, "承诺")
    assert scenario.voucher(enterprise)


def test_commitment_required_refuses_a_compliance_pass_without_a_commitment(scenario: Scenario, views: Any) -> None:
    Archived(scenario, views, commitment_required=True)
    provider = scenario.provider(signed_for=None)
    with as_role("operator"), pytest.raises(errors.CommitmentMissing):
        scenario.app.review_provider(provider, YEAR, "compliance", "pass", "")
    with as_role("operator"):  # a rejection needs no commitment
        other = scenario.provider(signed_for=None)
        scenario.app.review_provider(other, YEAR, "compliance", "reject", "材料不全")
    with as_role("provider", provider):
        scenario.app.make_commitment(YEAR, "承诺")
    scenario.sign_provider(provider)
    assert scenario.app.get_provider(provider).is_signed_for(YEAR)


def test_commitment_not_required_by_default(world: Archived) -> None:
    assert world.voucher  # issued without any commitment


# --- grading (分级评价, Art. 15; ledger/grading.py) --------------------------------------------------


def _graded(world: Archived, survey: int | None, spot: str | None, acceptance: str | None,
            sanction: bool = False) -> dict[str, Any]:
    with as_role("operator"):
        if survey is not None:
            world.app.record_survey(world.contract, survey)
        if spot is not None:
            world.app.record_spot_check("provider", world.provider, spot, "抽查记录", world.contract)
        if acceptance is not None:
            world.app.record_acceptance(world.contract, acceptance, "验收记录")
    if sanction:
        with as_role("supervisor"):
            case = world.app.file_case("provider", world.provider, "fake_transaction", [world.contract]).data
        with as_role("operator"):
            world.app.sanction_case(case["case_id"], [])
    world.views.catch_up()
    return archive.provider_grade(world.app, world.views.store, world.provider, YEAR)


@pytest.mark.parametrize("survey, spot, acceptance, sanction, grade, score", [
    (5, "passed", "passed", False, "A", "100.00"),  # 30 + 20 + 20 + 30
    (3, "passed", "passed", False, "B", "88.00"),  # 18 + 20 + 20 + 30
    (2, "failed", "passed", False, "C", "62.00"),  # 12 + 0 + 20 + 30
    (2, "passed", "passed", True, "D", "57.00"),  # 12 + 20 + 20 + 30 − 25 (a sanction)
])
def test_grade_follows_the_published_rule_from_the_archive(world: Archived, survey: int, spot: str,
                                                           acceptance: str, sanction: bool, grade: str,
                                                           score: str) -> None:
    graded = _graded(world, survey, spot, acceptance, sanction)
    assert (graded["grade"], graded["score"]) == (grade, score)
    inputs = graded["inputs"]
    assert (inputs["surveys"], inputs["survey_score_total"], inputs["spot_checks"], inputs["acceptance_checks"]) == \
        (1, survey, 1, 1)
    assert (inputs["contracts_completed"], inputs["contracts_terminated"], inputs["sanctions"]) == \
        (1, 0, int(sanction))
    assert graded["rule"]["thresholds"][0] == ["A", 90]


def test_grade_counts_terminated_contracts_against_completion(world: Archived) -> None:
    world.scenario.contract(world.enterprise, world.voucher, world.provider, world.product, yuan(10_000),
                            state="terminated")
    graded = _graded(world, None, None, None)
    # satisfaction neutral 3/5 × 30 = 18; checks full 40; completion 1/2 × 30 = 15
    assert (graded["grade"], graded["score"]) == ("C", "73.00")
    assert graded["points"]["completion"] == "15.00"


def test_grade_is_reproducible_as_of_an_earlier_instant(world: Archived) -> None:
    before = _graded(world, 5, "passed", "passed")
    assert before["grade"] == "A"
    instant = datetime.now(timezone.utc)
    with as_role("operator"):
        world.app.record_spot_check("provider", world.provider, "failed", "复查不合格")
        world.app.record_spot_check("provider", world.provider, "failed", "复查不合格")
    world.views.catch_up()
    now = archive.provider_grade(world.app, world.views.store, world.provider, YEAR)
    then = archive.provider_grade(world.app, world.views.store, world.provider, YEAR, instant)
    assert now["inputs"]["spot_checks"] == 3 and now["grade"] == "B"  # 30 + 20/3 + 20 + 30 = 86.66
    assert {k: v for k, v in then.items() if k != "as_of"} == {k: v for k, v in before.items() if k != "as_of"}


# --- the public catalogue (Art. 15) -----------------------------------------------------------------


def test_catalogue_lists_signed_providers_with_listed_products_and_execution(world: Archived) -> None:
    unlisted = world.scenario.product(world.provider, "legal", listed_for=None)
    banned = world.scenario.provider()
    world.scenario.product(banned)
    with as_role("approver"):
        world.app.terminate_provider(banned, "隐瞒事实 (Art. 15)")
    world.scenario.contract(world.enterprise, world.voucher, world.provider, world.product, yuan(5_000))
    world.views.catch_up()
    listed = providers.catalogue(world.views.store, YEAR)
    assert [p["provider_id"] for p in listed] == [world.provider]  # the terminated one is gone
    assert [p["product_id"] for p in listed[0]["products"]] == [world.product] and unlisted
    assert listed[0]["execution"] == {"signed_count": 2, "signed_amount": yuan(15_000), "completed_count": 1,
                                      "completed_amount": yuan(10_000), "terminated_count": 0, "terminated_amount": 0}
    assert providers.catalogue(world.views.store, YEAR + 1) == []


def test_terminated_provider_is_graded_d(world: Archived) -> None:
    with as_role("approver"):
        world.app.terminate_provider(world.provider, "隐瞒事实 (Art. 15)")
    graded = _graded(world, 5, "passed", "passed")
    assert graded["inputs"]["terminated"] is True and graded["grade"] == "D" and graded["score"] == "100.00"


def test_archive_decodes_only_its_types_and_keeps_every_entry_of_the_whole_record(world: Archived) -> None:
    """Choosing the archive's events by their stored topic before decoding (a busy provider's year is
    thousands of events) keeps exactly the entries a filter over every decoded record keeps."""
    findings = [{"subject_type": "provider", "subject_id": world.provider, "contract_id": world.contract,
                 "severity": "major", "text": "合同金额虚高"}]
    with as_role("supervisor"):
        report = world.app.file_supervision_report(YEAR, "监理报告", findings, [document("other")]).data
    with as_role("operator"):
        case = world.app.refer_finding(report["report_id"], 0, "fake_transaction").data
    with as_role("operator", name="operator-b"):
        world.app.sanction_case(case["case_id"], [world.contract])
    world.views.catch_up()
    store = world.views.store
    for kind, code in (("provider", world.provider), ("enterprise", world.enterprise)):
        with store.read() as db:
            positions = trace_queries._positions(db, trace_queries.party_keys(store, kind, code))
        decoded = eventlog.records_at(world.app, positions)
        assert len(decoded) > len(eventlog.records_at(world.app, positions, archive._archive_types(kind)))
        every = archive._entries(kind, code, [r for _, r in sorted(decoded.items())])
        assert [e["position"] for e in world.archive(kind, code)] == [r["position"] for r in every]
    year_keys = [("provider", world.provider), ("provider-year", f"{world.provider}/{YEAR}")]
    with store.read() as db:
        positions = trace_queries._positions(db, year_keys)
    decoded = eventlog.records_at(world.app, positions)
    every = archive._entries("provider", world.provider, [r for _, r in sorted(decoded.items())], course=True)
    assert archive.provider_year_records(world.app, store, world.provider, YEAR) == every
