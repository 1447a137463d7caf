"""A scripted history for the audit tests: one year of one contract's life, from budget to sanction.

Two enterprises and a provider; enterprise A's contract is completed, claimed with enterprise B's
in one claim, reviewed, approved, noticed, paid, and then clawed back by a sanction that also
revokes A. A third contract of B in another claim, and a second product of the provider listed in
another year, are there to be left out of A's contract trace. `History.positions` names the
position of every step, so tests can assert traces step by step.

The tamper helpers below edit the event store's rows directly, in the SQLite file and in
PostgreSQL, the way an insider with database access would.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import psycopg

from ledger.money import yuan
from tests.support import YEAR, Scenario, as_role

DOCS = [{"name": "结算申请表.pdf", "sha256": "b" * 64, "size": 20_480,
         "uri": "https://docs.example.gov.cn/settlements/claim-a.pdf"}]


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class History:
    app: Any
    year: int = YEAR
    steps: list[tuple[str, int]] = field(default_factory=list)  # (label, position of the command's last event)
    ids: dict[str, str] = field(default_factory=dict)

    def mark(self, label: str) -> int:
        """Remember the head position after a step (the last event it recorded)."""
        position = self.app.recorder.max_notification_id() or 0
        self.steps.append((label, position))
        return position

    def at(self, label: str) -> int:
        return dict(self.steps)[label]


def build(scenario: Scenario, *, sanction: bool = True, notice: str = "no_objection") -> History:
    """Run the scripted history; every command is one step of `History.steps`.

    `notice="objection"` has the public notice dispute the second claim (B's second contract).
    """
    app = scenario.app
    history = History(app)
    ids = history.ids
    year = history.year
    scenario.open_year(year, budget_yuan=None)
    history.mark("year opened")
    with as_role("finance", name="finance-qian"):
        app.allocate_budget(year, yuan(10_000_000), "桂财工〔2026〕1号")
    history.mark("budget allocated")
    scenario.open_year(year + 1, budget_yuan=None)
    history.mark("next year opened")
    ids["enterprise_a"] = scenario.enterprise(("tech_sme",))
    history.mark("enterprise a registered")
    ids["voucher_a"] = scenario.voucher(ids["enterprise_a"], year)
    history.mark("voucher a issued")
    ids["enterprise_b"], ids["voucher_b"] = scenario.holder(("little_giant",), year)
    history.mark("enterprise b holds a voucher")
    ids["provider"] = scenario.provider(signed_for=year)
    history.mark("provider signed")
    ids["product"] = scenario.product(ids["provider"], "diagnosis", 100_000, listed_for=None)
    history.mark("product submitted")
    from ledger.rules import PRODUCT_REVIEW_STAGES

    for stage, role in PRODUCT_REVIEW_STAGES:
        with as_role(role):
            app.review_product(ids["product"], year, stage, "pass", "")
    history.mark("product listed")
    ids["other_product"] = scenario.product(ids["provider"], "legal", 20_000, listed_for=year + 1)
    history.mark("other product listed for next year")
    ids["contract_a"] = scenario.propose(ids["enterprise_a"], ids["voucher_a"], ids["provider"], ids["product"],
                                         yuan(100_000))
    history.mark("contract a proposed")
    signed = scenario.sign(ids["provider"], ids["contract_a"])
    history.mark("contract a signed")
    history.before_deposit = now()  # type: ignore[attr-defined]
    with as_role("enterprise", ids["enterprise_a"]):
        app.pay_deposit(ids["contract_a"], signed["deposit"])
        history.mark("contract a deposit paid")
        app.complete_contract(ids["contract_a"], signed["balance_due"])
    history.mark("contract a completed")
    history.after_completion = now()  # type: ignore[attr-defined]
    ids["contract_b"] = scenario.contract(ids["enterprise_b"], ids["voucher_b"], ids["provider"], ids["product"],
                                          yuan(100_000), state="completed")
    history.mark("contract b completed")
    ids["contract_b2"] = scenario.contract(ids["enterprise_b"], ids["voucher_b"], ids["provider"], ids["product"],
                                           yuan(50_000), state="completed")
    history.mark("contract b2 completed")
    with as_role("operator", name="centre-li"):
        ids["batch"] = app.open_settlement(year, "第一批兑付").data["batch_id"]
    history.mark("batch opened")
    with as_role("provider", ids["provider"]):
        ids["claim"] = app.claim_settlement(ids["batch"], [ids["contract_a"], ids["contract_b"]], DOCS).data["claim_id"]
    history.mark("claim submitted")
    with as_role("provider", ids["provider"]):
        ids["claim_b2"] = app.claim_settlement(ids["batch"], [ids["contract_b2"]], DOCS).data["claim_id"]
    history.mark("claim b2 submitted")
    with as_role("operator", name="centre-li"):
        app.review_claim(ids["batch"], ids["claim"], "approve", "材料核对无误")
        history.mark("claim reviewed")
        app.review_claim(ids["batch"], ids["claim_b2"], "approve", "材料核对无误")
    history.mark("claim b2 reviewed")
    with as_role("approver", name="diit-zhao"):
        app.approve_settlement(ids["batch"], "同意")
    history.mark("batch approved")
    with as_role("operator", name="centre-wang"):
        if notice == "objection":
            app.record_settlement_notice(ids["batch"], "objection", "公示期内有异议", [ids["claim_b2"]])
        else:
            app.record_settlement_notice(ids["batch"], "no_objection", "公示期满无异议")
    history.mark("notice recorded")
    with as_role("finance", name="finance-qian"):
        app.pay_settlement(ids["batch"], "桂财工兑〔2026〕1号")
    history.mark("batch paid")
    if sanction:
        with as_role("supervisor", name="supervisor-zhou"):
            ids["case"] = app.file_case("enterprise", ids["enterprise_a"], "fake_transaction", [ids["contract_a"]],
                                        "监理发现虚假交易").data["case_id"]
        history.mark("case filed")
        with as_role("operator", name="centre-sun"):
            app.sanction_case(ids["case"], [ids["contract_a"]], revoke_enterprise=True, note="依第二十五条处理")
        history.mark("case sanctioned")
    return history


# --- direct edits of the event store, behind the application's back (tamper tests) -----------------

@contextmanager
def _sqlite(store: Any) -> Iterator[sqlite3.Connection]:
    """The events file, opened beside the application's own connections; committed and closed."""
    conn = sqlite3.connect(store.sqlite_path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def read_state(store: Any, position: int) -> bytes:
    if store.backend == "sqlite":
        with _sqlite(store) as conn:
            return bytes(conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()[0])
    with psycopg.connect(store.url) as conn:
        return bytes(conn.execute("SELECT state FROM voucherledger_events WHERE notification_id = %s",
                                  (position,)).fetchone()[0])


def write_state(store: Any, position: int, state: bytes) -> None:
    if store.backend == "sqlite":
        with _sqlite(store) as conn:
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state, position))
        return
    with psycopg.connect(store.url) as conn:
        conn.execute("UPDATE voucherledger_events SET state = %s WHERE notification_id = %s", (state, position))


def edit_event(store: Any, position: int, change: Callable[[dict], None]) -> None:
    state = json.loads(read_state(store, position))
    change(state)
    write_state(store, position, json.dumps(state, ensure_ascii=False).encode("utf-8"))


def delete_event(store: Any, position: int) -> None:
    if store.backend == "sqlite":
        with _sqlite(store) as conn:
            conn.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
        return
    with psycopg.connect(store.url) as conn:
        conn.execute("DELETE FROM voucherledger_events WHERE notification_id = %s", (position,))


def position_of(ledger: Any, type_name: str) -> int:
    """The position of the first event of this type ("Voucher.Reserved") in the store."""
    last = 0
    while page := ledger.recorder.select_notifications(start=last, limit=500, inclusive_of_start=False):
        for n in page:
            if n.topic.endswith(":" + type_name):
                return n.id
        last = page[-1].id
    raise AssertionError(f"no {type_name}")


def edit_snapshot(app: Any, store: Any, aggregate_id: Any, change: Callable[[dict], None]) -> None:
    """Edit the latest stored snapshot of an aggregate, in the library's snapshots table, behind the ledger's back."""
    table = app.snapshots.recorder.events_table_name
    sqlite = store.backend == "sqlite"
    key, mark = (aggregate_id.hex, "?") if sqlite else (aggregate_id, "%s")
    with (_sqlite(store) if sqlite else psycopg.connect(store.url)) as conn:
        version, state = conn.execute(f"SELECT originator_version, state FROM {table} WHERE originator_id = {mark} "
                                      "ORDER BY originator_version DESC LIMIT 1", (key,)).fetchone()
        edited = json.loads(bytes(state))
        change(edited["state"])  # the aggregate's state inside the stored snapshot
        conn.execute(f"UPDATE {table} SET state = {mark} WHERE originator_id = {mark} AND originator_version = {mark}",
                     (json.dumps(edited, ensure_ascii=False).encode("utf-8"), key, version))


def two_parties(scenario: Scenario) -> dict[str, Any]:
    """Two holders (E1 a T2, E2 a T4) and two signed providers (P1 diagnosis, P2 legal at ¥80,000) in one year.

    The arrangement of the data-scope tests: every id under its key, vouchers and products beside them.
    """
    scenario.open_year()
    ids: dict[str, Any] = {}
    ids["e1"], ids["voucher_1"] = scenario.holder(("tech_sme",))
    ids["e2"], ids["voucher_2"] = scenario.holder(("little_giant",))
    ids["p1"], ids["p2"] = scenario.provider(), scenario.provider()
    ids["product_1"], ids["product_2"] = scenario.product(ids["p1"]), scenario.product(ids["p2"], "legal", 80_000)
    return ids


def shared_batch(scenario: Scenario, ledger: Any) -> dict[str, Any]:
    """`two_parties` sharing one settlement batch, noticed with no objection and ready to pay: P1 claims
    E1's c1 with E2's c3 (claim1), P2 claims E2's c2 (claim2); both claims reviewed and approved."""
    ids = two_parties(scenario)
    voucher_1, voucher_2 = ids["voucher_1"], ids["voucher_2"]
    product_1, product_2 = ids["product_1"], ids["product_2"]
    ids["c1"] = scenario.contract(ids["e1"], voucher_1, ids["p1"], product_1, yuan(100_000), state="completed")
    ids["c3"] = scenario.contract(ids["e2"], voucher_2, ids["p1"], product_1, yuan(60_000), state="completed")
    ids["c2"] = scenario.contract(ids["e2"], voucher_2, ids["p2"], product_2, yuan(70_000), state="completed")
    with as_role("operator"):
        ids["batch"] = ledger.open_settlement(YEAR, "共享批次").data["batch_id"]
    with as_role("provider", ids["p1"]):
        ids["claim1"] = ledger.claim_settlement(ids["batch"], [ids["c1"], ids["c3"]], DOCS).data["claim_id"]
    with as_role("provider", ids["p2"]):
        ids["claim2"] = ledger.claim_settlement(ids["batch"], [ids["c2"]], DOCS).data["claim_id"]
    with as_role("operator", name="centre-li"):
        ledger.review_claim(ids["batch"], ids["claim1"], "approve", "")
        ledger.review_claim(ids["batch"], ids["claim2"], "approve", "")
    with as_role("approver", name="diit-zhao"):
        ledger.approve_settlement(ids["batch"], "同意")
    with as_role("operator", name="centre-wang"):
        ledger.record_settlement_notice(ids["batch"], "no_objection", "公示期满无异议")
    return ids
