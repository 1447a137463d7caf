"""The service archive, provider grades, the public catalogue and the year's evaluation
(API.md "Service archive, catalogue and evaluation"; Art. 15, 18(二), 21, 22, 26)."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from ledger.access import require_reader
from ledger.grading import GRADES
from ledger.rules import CASE_SUBJECT_TYPES, ENTERPRISE, EVALUATORS, FINDING_SEVERITIES, PROVIDER, SPOT_CHECK_RESULTS, \
    SURVEY_SCORES, VIOLATIONS
from projections.audit import archive, evaluation
from projections.views import providers
from web import evaluation_xlsx, memory
from web.auth import current_actor
from web.blueprint import Blueprint
from web.cases import CaseFiled
from web.commands import fresh_views, ledger_app, run
from web.fields import CreditCode, Instant, QueryYear, StrictInteger, Text, Year, Yuan
from web.schemas import AS_OF, DOCUMENTS, CommandResponse, DocumentSchema

blp = Blueprint("archive", __name__, url_prefix="/api/v1",
                description="服务档案、分级评价、产品目录与绩效评估 Service archive, grades, catalogue and evaluation")

MAX_FINDINGS = 500


class SurveySchema(Schema):
    contract_id = fields.UUID(required=True)
    score = StrictInteger(required=True, validate=validate.OneOf(SURVEY_SCORES))
    comments = Text(5000, load_default="")


class SurveyResponse(CommandResponse):
    contract_id = fields.String()
    enterprise_id = fields.String()
    provider_id = fields.String()
    year = fields.Integer()
    score = fields.Integer()
    comments = fields.String()


class SpotCheckSchema(Schema):
    subject_type = fields.String(required=True, validate=validate.OneOf(CASE_SUBJECT_TYPES))
    subject_id = CreditCode(required=True)
    contract_id = fields.UUID(load_default=None)
    year = Year(metadata={"description": "the contract's when one is named; else this business year"})
    result = fields.String(required=True, validate=validate.OneOf(SPOT_CHECK_RESULTS))
    findings = Text(5000, load_default="")
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


class SpotCheckResponse(CommandResponse):
    subject_type = fields.String()
    subject_id = fields.String()
    contract_id = fields.String(allow_none=True)
    year = fields.Integer()
    result = fields.String()
    findings = fields.String()


class CommitmentSchema(Schema):
    year = Year(required=True)
    text = Text(5000, required=True, validate=validate.Length(min=1, max=5000))
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


class CommitmentResponse(CommandResponse):
    subject_type = fields.String()
    subject_id = fields.String()
    year = fields.Integer()
    text = fields.String()


class FindingSchema(Schema):
    subject_type = fields.String(required=True, validate=validate.OneOf(CASE_SUBJECT_TYPES))
    subject_id = CreditCode(required=True)
    contract_id = fields.UUID(load_default=None)
    severity = fields.String(required=True, validate=validate.OneOf(FINDING_SEVERITIES))
    text = Text(5000, required=True, validate=validate.Length(min=1, max=5000))


class ReportSchema(Schema):
    year = Year(required=True)
    title = Text(200, required=True, validate=validate.Length(min=1, max=200))
    findings = fields.List(fields.Nested(FindingSchema), required=True, validate=validate.Length(max=MAX_FINDINGS))
    documents = fields.List(fields.Nested(DocumentSchema), **DOCUMENTS)


class FindingView(Schema):
    index = fields.Integer()
    subject_type = fields.String()
    subject_id = fields.String()
    contract_id = fields.String(allow_none=True)
    severity = fields.String()
    text = fields.String()
    case_id = fields.String(allow_none=True, metadata={"description": "the case it was turned into"})


class ReportView(Schema):
    report_id = fields.String()
    year = fields.Integer()
    title = fields.String()
    findings = fields.List(fields.Nested(FindingView))
    documents = fields.List(fields.Nested(DocumentSchema))


class ReportResponse(ReportView, CommandResponse):
    pass


class ReferralSchema(Schema):
    violation = fields.String(required=True, validate=validate.OneOf(VIOLATIONS))
    contract_ids = fields.List(fields.UUID(), validate=validate.Length(max=500),
                               metadata={"description": "default: the finding's contract"})
    note = Text(5000, load_default="")


class ReferralResponse(CaseFiled):
    report_id = fields.String()
    finding = fields.Integer()


class ActorView(Schema):
    role = fields.String()
    id = fields.String()


class EntrySchema(Schema):
    position = fields.Integer()
    recorded_at = fields.String()
    type = fields.String(metadata={"description": "the event, e.g. Contract.SurveyRecorded, Provider.SpotChecked"})
    stream = fields.String()
    actor = fields.Nested(ActorView)
    data = fields.Dict(metadata={"description": "the event's fields as recorded, amounts in fen"})


class ArchiveSchema(Schema):
    subject_type = fields.String()
    subject_id = fields.String()
    entries = fields.List(fields.Nested(EntrySchema))


@blp.post("/archive/surveys")
@blp.arguments(SurveySchema)
@blp.response(201, SurveyResponse)
def record_survey(body: dict[str, Any]) -> Any:
    """A satisfaction survey of a completed contract (operator; Art. 18(二))."""
    return run(ledger_app().record_survey, str(body["contract_id"]), body["score"], body["comments"])


@blp.post("/archive/spot-checks")
@blp.arguments(SpotCheckSchema)
@blp.response(201, SpotCheckResponse)
def record_spot_check(body: dict[str, Any]) -> Any:
    """A spot check (operator, supervisor; Art. 18, 21)."""
    contract_id = str(body["contract_id"]) if body["contract_id"] is not None else None
    return run(ledger_app().record_spot_check, body["subject_type"], body["subject_id"], body["result"],
               body["findings"], contract_id, body["documents"], body.get("year"))


@blp.post("/archive/commitments")
@blp.arguments(CommitmentSchema)
@blp.response(201, CommitmentResponse)
def make_commitment(body: dict[str, Any]) -> Any:
    """An enterprise's or a provider's credit commitment for a year, for itself (Art. 22)."""
    return run(ledger_app().make_commitment, body["year"], body["text"], body["documents"])


@blp.post("/archive/supervision-reports")
@blp.arguments(ReportSchema)
@blp.response(201, ReportResponse)
def file_supervision_report(body: dict[str, Any]) -> Any:
    """The supervisor's report with its findings per subject (Art. 21)."""
    findings = [{**f, "contract_id": str(f["contract_id"]) if f["contract_id"] is not None else None}
                for f in body["findings"]]
    return run(ledger_app().file_supervision_report, body["year"], body["title"], findings, body["documents"])


@blp.get("/archive/supervision-reports/<report_id>")
@blp.response(200, ReportView)
def get_supervision_report(report_id: str) -> Any:
    require_reader(current_actor())
    return ledger_app().get_supervision_report(report_id)


@blp.post("/archive/supervision-reports/<report_id>/findings/<int:finding>/case")
@blp.arguments(ReferralSchema)
@blp.response(201, ReferralResponse)
def refer_finding(body: dict[str, Any], report_id: str, finding: int) -> Any:
    """The operator turns a finding into a case; the case and the report link each other (Art. 21, 25)."""
    contract_ids = [str(c) for c in body["contract_ids"]] if "contract_ids" in body else None
    return run(ledger_app().refer_finding, report_id, finding, body["violation"], contract_ids, body["note"])


def _archive(kind: str, code: str) -> dict[str, Any]:
    actor = current_actor()
    require_reader(actor, enterprise_id=code if kind == ENTERPRISE else None,
                   provider_id=code if kind == PROVIDER else None)
    return archive.subject_archive(ledger_app(), fresh_views(), kind, code, for_subject=actor.role == kind)


@blp.get("/archive/enterprises/<enterprise_id>")
@blp.response(200, ArchiveSchema)
def enterprise_archive(enterprise_id: str) -> Any:
    """An enterprise's archive: staff, supervisor, auditor, and the enterprise itself."""
    return _archive(ENTERPRISE, enterprise_id)


@blp.get("/archive/providers/<provider_id>")
@blp.response(200, ArchiveSchema)
def provider_archive(provider_id: str) -> Any:
    """A provider's archive: staff, supervisor, auditor, and the provider itself."""
    return _archive(PROVIDER, provider_id)


class GradeQuery(Schema):
    year = QueryYear(required=True)
    as_of = Instant(metadata=AS_OF)


class GradeSchema(Schema):
    provider_id = fields.String()
    year = fields.Integer()
    grade = fields.String(metadata={"enum": list(GRADES)})
    score = fields.String(metadata={"description": "out of 100, a decimal string rounded down to 2 places"})
    points = fields.Dict(metadata={"description": "each component's points and the sanctions' deduction"})
    inputs = fields.Dict(metadata={"description": "the counts the rule was applied to, from the archive"})
    rule = fields.Dict(metadata={"description": "the published rule: components, weights, thresholds"})
    as_of = fields.String(allow_none=True)


@blp.get("/providers/<provider_id>/grade")
@blp.arguments(GradeQuery, location="query")
@blp.response(200, GradeSchema)
def provider_grade(args: dict[str, Any], provider_id: str) -> Any:
    """A provider's grade for the year (分级评价, Art. 15), reproducible at any past `as_of`."""
    require_reader(current_actor(), provider_id=provider_id)
    return archive.provider_grade(ledger_app(), fresh_views(), provider_id, args["year"], args.get("as_of"))


class CatalogueQuery(Schema):
    year = QueryYear(required=True)
    grades = fields.Boolean(load_default=True, metadata={
        "description": "false: without grades (null), for choosing a provider and product; each grade reads "
                       "that provider's year from the log, which at scale 0.1 took 18 s for the whole list"})


class CatalogueProduct(Schema):
    product_id = fields.String()
    name = fields.String()
    category = fields.String()
    price = Yuan()


class ExecutionSchema(Schema):
    signed_count = fields.Integer()
    signed_amount = Yuan()
    completed_count = fields.Integer()
    completed_amount = Yuan()
    terminated_count = fields.Integer()
    terminated_amount = Yuan()


class CatalogueProvider(Schema):
    provider_id = fields.String(metadata={"description": "the provider's own credit code (public as a signed provider)"})
    name = fields.String()
    grade = fields.String(allow_none=True, metadata={"enum": list(GRADES), "description": "null with grades=false"})
    score = fields.String(allow_none=True)
    products = fields.List(fields.Nested(CatalogueProduct))
    execution = fields.Nested(ExecutionSchema, metadata={"description": "contract amounts of the year, summed"})


class CatalogueSchema(Schema):
    year = fields.Integer()
    providers = fields.List(fields.Nested(CatalogueProvider))


@blp.get("/catalogue")
@blp.arguments(CatalogueQuery, location="query")
@blp.response(200, CatalogueSchema)
def catalogue(args: dict[str, Any]) -> Any:
    """The year's signed providers, their listed products, grade and contract execution (Art. 15):
    open to every role, enterprises included; public facts only (no cap, subsidy, clawback or client)."""
    current_actor()
    store = fresh_views()
    listed = providers.catalogue(store, args["year"])
    for entry in listed:
        if not args["grades"]:
            entry.update(grade=None, score=None)
            continue
        graded = archive.provider_grade(ledger_app(), store, entry["provider_id"], args["year"])
        entry.update(grade=graded["grade"], score=graded["score"])
    return {"year": args["year"], "providers": listed}


class EvaluationQuery(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx"]))


RATIO = {"allow_none": True, "metadata": {"description": "a decimal string, 4 places rounded down; null: nothing to divide"}}


class BudgetExecution(Schema):
    budget = Yuan()
    issued = Yuan()
    used = Yuan()
    settled = Yuan()
    expired = Yuan()
    issued_of_budget = fields.String(**RATIO)
    used_of_issued = fields.String(**RATIO)
    settled_of_used = fields.String(**RATIO)
    expired_of_issued = fields.String(**RATIO)


class ReachRow(Schema):
    key = fields.String(metadata={"description": "the tier, kind or city"})
    enterprises = fields.Integer()
    vouchers = fields.Integer()
    issued = Yuan()
    used = Yuan()


class CategoryRow(Schema):
    key = fields.String(metadata={"description": "the service category"})
    contracts = fields.Integer()
    amount = Yuan()
    used = Yuan()


class SubsidyShare(Schema):
    contracts = fields.Integer()
    amount = Yuan()
    subsidy = Yuan()
    share = fields.String(**RATIO)


class ProviderUse(Schema):
    provider_id = fields.String()
    used = Yuan()


class Concentration(Schema):
    providers = fields.Integer()
    top = fields.List(fields.Nested(ProviderUse))
    top_used = Yuan()
    total_used = Yuan()
    share = fields.String(**RATIO)


class ScoreCount(Schema):
    score = fields.Integer()
    count = fields.Integer()


class Satisfaction(Schema):
    surveys = fields.Integer()
    score_total = fields.Integer()
    mean_score = fields.String(allow_none=True)
    by_score = fields.List(fields.Nested(ScoreCount))


class Checks(Schema):
    spot_checks = fields.Integer()
    spot_checks_failed = fields.Integer()
    spot_check_failure_rate = fields.String(**RATIO)
    acceptance_checks = fields.Integer()
    acceptance_failed = fields.Integer()
    acceptance_failure_rate = fields.String(**RATIO)


class Clawbacks(Schema):
    clawed_back = Yuan()
    receivable = Yuan(metadata={"description": "the part clawed back after payment: owed by providers"})
    recovered = Yuan(metadata={"description": "receivables finance recorded as repaid"})
    outstanding = Yuan()


class EvaluationSchema(Schema):
    year = fields.Integer()
    budget = fields.Nested(BudgetExecution)
    by_tier = fields.List(fields.Nested(ReachRow))
    by_kind = fields.List(fields.Nested(ReachRow))
    by_city = fields.List(fields.Nested(ReachRow))
    by_category = fields.List(fields.Nested(CategoryRow))
    subsidy_share = fields.Nested(SubsidyShare)
    concentration = fields.Nested(Concentration)
    satisfaction = fields.Nested(Satisfaction)
    checks = fields.Nested(Checks)
    clawbacks = fields.Nested(Clawbacks)


@blp.get("/years/<int:year>/evaluation")
@blp.arguments(EvaluationQuery, location="query")
@blp.response(200, EvaluationSchema, description="the indicators as JSON; with ?format=xlsx an Excel workbook "
                                                  "(one sheet per dimension, amounts in yuan)")
def year_evaluation(args: dict[str, Any], year: int) -> Any:
    """The year's performance evaluation (绩效评估, Art. 26): approver, finance, supervisor, auditor."""
    require_reader(current_actor(), roles=EVALUATORS)
    app = ledger_app()
    app.get_year(year)  # 404 for a year never opened
    try:
        result = evaluation.evaluate(app, year)
    finally:
        memory.give_back()  # the whole log went through this thread's heap
    if args["format"] == "xlsx":
        name = f"evaluation-{year}.xlsx"
        return Response(evaluation_xlsx.workbook(result, app.now()), status=200, content_type=evaluation_xlsx.MEDIA_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return result
