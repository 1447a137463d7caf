"""Command throughput through the application: issue voucher, sign contract, complete contract.

Each series runs one command after another in this process (ops/s over the series, p50/p99 of
each command's wall time), against the full generated year, so hot streams (the year, the
providers' years) are as long as they are in production.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from bench.material import Material
from bench.timing import Latencies, series, stage
from ledger.context import acting
from ledger.errors import LedgerError


def measure(material: Material, samples: int, floor: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """The three series; `floor` measures a round of the insert floor before, between and after them."""
    stage(f"应用层命令吞吐 application command throughput ({samples} each)")
    driver, app = material.driver, material.driver.app
    world = material.world

    codes = material.enterprises_without_voucher(samples, "准备 prepare enterprises")
    issued = Latencies()

    def issue(code: str) -> Any:
        def run() -> None:
            with acting(driver.actor("operator"), request_id=uuid.uuid4().hex):
                try:
                    data = app.issue_voucher(code, world.year).data
                except LedgerError as refusal:
                    issued.errors[refusal.code] = issued.errors.get(refusal.code, 0) + 1
                    return
            from bench.world import VoucherMirror

            world.vouchers.append(VoucherMirror(data["voucher_id"], code, data["tier"], data["quota"], data["quota"]))
        return run

    floor()
    issue_series = series([issue(code) for code in codes], "签发补贴券 issue voucher")
    issue_series.errors = issued.errors

    proposed = material.proposed(samples, "准备 prepare proposals")
    signed_errors: dict[str, int] = {}

    def sign(record: Any) -> Any:
        def run() -> None:
            with acting(driver.actor("provider", record.provider), request_id=uuid.uuid4().hex):
                try:
                    data = app.sign_contract(record.contract_id).data
                except LedgerError as refusal:
                    signed_errors[refusal.code] = signed_errors.get(refusal.code, 0) + 1
                    return
            material.signed_from(record, data)
        return run

    floor()
    sign_series = series([sign(r) for r in proposed], "签约 sign contract")
    sign_series.errors = signed_errors

    active = material.paid(proposed, "准备 prepare deposits")
    completed_errors: dict[str, int] = {}

    def complete(record: Any) -> Any:
        def run() -> None:
            with acting(driver.actor("enterprise", record.enterprise), request_id=uuid.uuid4().hex):
                try:
                    app.complete_contract(record.contract_id, record.balance_due_fen)
                except LedgerError as refusal:
                    completed_errors[refusal.code] = completed_errors.get(refusal.code, 0) + 1
                    return
            record.status = "completed"
        return run

    floor()
    complete_series = series([complete(r) for r in active], "完成 complete contract")
    floor()
    complete_series.errors = completed_errors
    return {"issue_voucher": issue_series.summary(), "sign_contract": sign_series.summary(),
            "complete_contract": complete_series.summary()}
