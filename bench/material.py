"""Fresh subjects for the measured commands, made (untimed) through the ledger like the year itself.

A measured `issue_voucher` needs a registered enterprise without a voucher; a measured signature a
proposed contract; a measured completion a contract whose deposit is paid.
"""

from __future__ import annotations

from typing import Any

from bench.generate import Catalogue, choose, register_enterprise
from bench.plan import Plan
from bench.timing import Progress
from bench.world import ContractRecord, Driver, World


class Material:
    """Makes measurement subjects from the generated world."""

    def __init__(self, driver: Driver, plan: Plan) -> None:
        self.driver = driver
        self.plan = plan
        self.catalogue = Catalogue(driver.world, plan)

    @property
    def world(self) -> World:
        return self.driver.world

    def enterprises_without_voucher(self, count: int, label: str) -> list[str]:
        bar = Progress(label, count)
        codes: list[str] = []
        while len(codes) < count:
            register_enterprise(self.driver, self.plan, issue=False, eligible=True)
            codes.append(self.world.enterprises[-1])
            bar.advance()
        bar.finish()
        return codes

    def proposed(self, count: int, label: str) -> list[ContractRecord]:
        """`count` proposed contracts with room on the voucher and under the provider's cap."""
        app, world = self.driver.app, self.world
        vouchers = world.vouchers
        bar = Progress(label, count)
        records: list[ContractRecord] = []
        attempts = 0
        while len(records) < count and attempts < count * 5:
            attempts += 1
            choice = choose(world, self.plan, self.catalogue, self.plan.rng.choice(vouchers))
            if choice is None:
                continue
            voucher, product, amount, subsidy = choice
            data = self.driver.run("enterprise", voucher.enterprise, app.propose_contract, voucher.voucher_id,
                                   product["provider"], product["product_id"], amount)
            if data is None:
                continue
            record = ContractRecord(data["contract_id"], voucher.enterprise, product["provider"], voucher,
                                    subsidy_fen=subsidy)
            voucher.available_fen -= subsidy
            world.provider_live_fen[record.provider] += subsidy
            world.contracts.append(record)
            records.append(record)
            bar.advance()
        bar.finish()
        return records

    def paid(self, records: list[ContractRecord], label: str) -> list[ContractRecord]:
        """Pay the deposit of signed contracts; return those now active."""
        app = self.driver.app
        bar = Progress(label, len(records))
        active = []
        for record in records:
            if record.status == "signed" and self.driver.run("enterprise", record.enterprise, app.pay_deposit,
                                                             record.contract_id, record.deposit_fen):
                record.status = "active"
                active.append(record)
            bar.advance()
        bar.finish()
        return active

    def signed_from(self, record: ContractRecord, data: dict[str, Any]) -> None:
        """Record a signature's figures (from the ledger's answer) on the mirror."""
        difference = data["subsidy"] - record.subsidy_fen
        record.voucher.available_fen -= difference
        self.world.provider_live_fen[record.provider] += difference
        record.subsidy_fen, record.deposit_fen = data["subsidy"], data["deposit"]
        record.balance_due_fen = data["balance_due"]
        record.status = "signed"
