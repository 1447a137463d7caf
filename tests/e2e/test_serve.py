"""End to end: `voucher-ledger serve` as a real process on a free port, tokens from `voucher-ledger token
issue` while it runs, and the whole slice driven over HTTP, on each backend.

open year → budget → enterprise → voucher → provider signed → product listed → contract signed,
paid and completed → balance. Every wait is bounded.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from service.demo import credit_code
from ledger.rules import PRODUCT_REVIEW_STAGES, PROVIDER_REVIEW_STAGES
from tests.servers import cli_env, free_port, popen_cli, run_cli, stop_process, wait_healthy
from tests.support import PROVIDER_DOCUMENTS, YEAR

pytestmark = pytest.mark.slow  # real server processes and the CLI (scripts/test --fast skips it)

# The server runs on a fixed business date inside the year (LEDGER_BUSINESS_DATE): no time bomb.
BUSINESS_DATE = f"{YEAR}-06-01"
ENTERPRISE = credit_code(880_001)
PROVIDER = credit_code(880_002)


def environment(url: str) -> dict[str, str]:
    return cli_env(url, BUSINESS_DATE)


def issue_token(url: str, role: str, subject: str | None = None) -> str:
    """`voucher-ledger token issue`: the token alone is the last line of standard output."""
    args = ["token", "issue", "--role", role, "--name", f"e2e-{role}"]
    if subject:
        args += ["--subject", subject]
    done = run_cli(environment(url), *args)
    token = done.stdout.strip().splitlines()[-1]
    assert token.startswith("vl_") and " " not in token
    return token


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = log.open("w")
        # As an operator deploys: `migrate` first (serve refuses a PostgreSQL store that is not current).
        self.log.write(run_cli(environment(url), "migrate", timeout=120).stdout)
        self.log.flush()
        self.process = popen_cli(environment(url), ["serve", "--port", str(self.port)], self.log)

    def wait_until_healthy(self, timeout: float = 60.0) -> dict[str, Any]:
        return wait_healthy(self.base, self.process, timeout, self.output)

    def call(self, method: str, path: str, token: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(f"{self.base}/api/v1{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                code, payload = response.status, response.read()
        except urllib.error.HTTPError as refused:
            code, payload = refused.code, refused.read()
        answer = json.loads(payload.decode("utf-8"))
        assert code == status, (method, path, code, answer)
        return answer

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(store: Any, tmp_path: Path) -> Any:
    running = Server(store.url, tmp_path / "serve.log")
    try:
        running.wait_until_healthy()
        yield running
    finally:
        running.stop()


def test_the_slice_over_http_against_a_real_server(server, store, backend):
    health = server.wait_until_healthy()
    assert (health["status"], health["store"], health["business_date"]) == ("ok", backend, BUSINESS_DATE)
    assert "LEDGER_BUSINESS_DATE" in server.output()  # the server warned at start that the date is fixed
    # Tokens are issued from the command line while the server runs, on the same store.
    tokens = {role: issue_token(store.url, role) for role in ("approver", "finance", "operator", "auditor")}
    tokens["enterprise"] = issue_token(store.url, "enterprise", ENTERPRISE)
    tokens["provider"] = issue_token(store.url, "provider", PROVIDER)

    opened = server.call("POST", "/years", tokens["approver"],
                         {"year": YEAR, "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31"}, 201)
    assert opened["diagnosis_share"] == "0.80" and isinstance(opened["position"], int)
    server.call("POST", f"/years/{YEAR}/budget", tokens["finance"], {"amount": "1000000.00", "reference": "桂财工"}, 201)
    registered = server.call("POST", "/enterprises", tokens["enterprise"], {
        "id": ENTERPRISE, "name": "桂林智造电子科技有限公司", "employees": 200, "revenue": "60000000.00",
        "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
        "major_violation": False, "industry_aligned": True, "honours": ["tech_sme"]}, 201)
    # Its own honour is declared (T1) until the operator verifies it against the certificate (Art. 9).
    assert registered["name"] == "桂林智造电子科技有限公司" and registered["tier"] == "T1"
    verified = server.call("POST", f"/enterprises/{ENTERPRISE}/verification", tokens["operator"], {
        "honours": ["tech_sme"], "documents": [{"name": "科技型中小企业证书.pdf", "sha256": "d" * 64, "size": 2048,
                                               "uri": "https://docs.example.gov.cn/e2e/tech_sme.pdf",
                                               "kind": "honour_certificate", "honour": "tech_sme"}]})
    assert verified["tier"] == "T2"
    voucher = server.call("POST", "/vouchers", tokens["operator"], {"enterprise_id": ENTERPRISE, "year": YEAR}, 201)
    assert voucher["quota"] == "100000.00"

    server.call("POST", "/providers", tokens["provider"], {
        "id": PROVIDER, "name": "广西数智企业管理咨询有限公司", "registered_in_guangxi": True,
        "entity_type": "legal_person", "fixed_premises": True, "years_operating": 6, "core_staff_insured": 15,
        "clients_last_year": 40, "revenue_last_year": "8000000.00", "dishonest": False, "tax_compliant": True,
        "accepts_supervision": True, "accepts_face_value_offset": True, "documents": PROVIDER_DOCUMENTS}, 201)
    for stage, role in PROVIDER_REVIEW_STAGES:
        reviewed = server.call("POST", f"/providers/{PROVIDER}/reviews", tokens[role],
                               {"year": YEAR, "stage": stage, "decision": "pass", "note": "通过"}, 201)
    assert reviewed["signed"] is True
    product = server.call("POST", "/products", tokens["provider"], {
        "provider_id": PROVIDER, "name": "企业数字化诊断", "category": "diagnosis", "price": "100000.00"}, 201)
    for stage, role in PRODUCT_REVIEW_STAGES:
        listed = server.call("POST", f"/products/{product['product_id']}/reviews", tokens[role],
                             {"year": YEAR, "stage": stage, "decision": "pass"}, 201)
    assert listed["listed_years"] == [YEAR]

    contract = server.call("POST", "/contracts", tokens["enterprise"], {
        "voucher_id": voucher["voucher_id"], "provider_id": PROVIDER, "product_id": product["product_id"],
        "amount": "100000.00"}, 201)
    path = f"/contracts/{contract['contract_id']}"
    signed = server.call("POST", f"{path}/signature", tokens["provider"])
    assert (signed["subsidy"], signed["deposit"], signed["balance_due"]) == ("80000.00", "20000.00", "0.00")
    server.call("POST", f"{path}/deposit", tokens["enterprise"], {"amount": "20000.00"})
    completed = server.call("POST", f"{path}/completion", tokens["enterprise"], {"balance_paid": "0.00"})
    assert completed["status"] == "completed"

    # Read-your-writes through the real server's projections.
    balance = server.call("GET", f"/enterprises/{ENTERPRISE}/balance?year={YEAR}", tokens["enterprise"])
    assert (balance["quota"], balance["available"], balance["reserved"], balance["used"]) == (
        "100000.00", "20000.00", "0.00", "80000.00")
    totals = server.call("GET", f"/providers/{PROVIDER}/totals?year={YEAR}", tokens["provider"])
    assert (totals["used"], totals["contracts"]) == ("80000.00", 1)
    year = server.call("GET", f"/years/{YEAR}", tokens["auditor"])
    assert (year["budget"], year["issued"], year["used"]) == ("1000000.00", "100000.00", "80000.00")
    # Unhappy paths answer the API's error body from the real server too.
    refused = server.call("POST", f"{path}/signature", tokens["provider"], status=409)
    assert refused["error"]["code"] == "INVALID_STATE"
    assert server.call("GET", f"/vouchers/{voucher['voucher_id']}", "vl_unknown", status=401)["error"]["code"] == \
        "UNAUTHENTICATED"
    # A token issued now, while the server runs, works at once.
    late_auditor = issue_token(store.url, "auditor")
    assert server.call("GET", f"/vouchers/{voucher['voucher_id']}", late_auditor)["used"] == "80000.00"
    assert server.wait_until_healthy()["position"] >= completed["position"]
