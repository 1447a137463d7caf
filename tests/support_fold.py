"""A fresh fold over every event, compared with the read models (ARCHITECTURE.md: "a check compares each
view with a fold over all events").

The fold walks the notification log from position 0 and mutates each aggregate with its own events,
ignoring snapshots and the aggregate cache, so it is independent of everything the commands and the
projections keep. From the folded aggregates it recomputes every voucher, enterprise balance, year
total, provider year and contract figure, and compares them with the read models' queries (`projections/views/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ledger.domain.contract import Contract
from ledger.domain.enterprise import Enterprise
from ledger.domain.product import Product
from ledger.domain.provider import Provider
from ledger.domain.provider_year import ProviderYear
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.rules import GENERAL, SPECIAL, VOUCHER_KINDS
from projections.views.balances import get_enterprise_balance, get_voucher, get_year
from projections.views.contracts import get_contract
from projections.views.providers import get_product, get_provider, get_provider_totals

FIGURES = ("available", "reserved", "used", "expired", "clawed_back")


@dataclass
class Fold:
    """Every aggregate as its events alone make it, by type."""

    aggregates: dict[UUID, Any] = field(default_factory=dict)
    last_position: int = 0
    signed_contracts: set[UUID] = field(default_factory=set)  # contracts that reached a signature

    def of(self, cls: type) -> list[Any]:
        return [a for a in self.aggregates.values() if isinstance(a, cls)]

    @property
    def years(self) -> list[Year]:
        return self.of(Year)

    @property
    def vouchers(self) -> list[Voucher]:
        return self.of(Voucher)

    @property
    def contracts(self) -> list[Contract]:
        return self.of(Contract)

    @property
    def provider_years(self) -> list[ProviderYear]:
        return self.of(ProviderYear)


def fold(ledger: Any, page_size: int = 500) -> Fold:
    """Replay the whole log in position order; each event mutates (or creates) its aggregate."""
    result = Fold()
    last = 0
    while page := ledger.recorder.select_notifications(start=last, limit=page_size, inclusive_of_start=False):
        for notification in page:
            domain_event = ledger.mapper.to_domain_event(notification)
            current = result.aggregates.get(domain_event.originator_id)
            result.aggregates[domain_event.originator_id] = domain_event.mutate(current)
            if isinstance(domain_event, Contract.Signed):
                result.signed_contracts.add(domain_event.originator_id)
        last = page[-1].id
    result.last_position = last
    return result


def expected_voucher(voucher: Voucher) -> dict[str, Any]:
    return {"voucher_id": str(voucher.id), "enterprise_id": voucher.enterprise_id, "year": voucher.year,
            "kind": voucher.kind, "tier": voucher.tier, "quota": voucher.quota_fen,
            "available": voucher.available_fen, "reserved": voucher.reserved_fen, "used": voucher.used_fen,
            "expired": voucher.expired_fen, "clawed_back": voucher.clawed_back_fen, "status": voucher.status}


def expected_contract(contract: Contract) -> dict[str, Any]:
    return {"contract_id": str(contract.id), "status": contract.status, "voucher_id": contract.voucher_id,
            "enterprise_id": contract.enterprise_id, "provider_id": contract.provider_id,
            "product_id": contract.product_id, "year": contract.year, "category": contract.category,
            "amount": contract.amount_fen, "subsidy": contract.subsidy_fen, "deposit": contract.deposit_fen,
            "balance_due": contract.balance_due_fen, "deposit_paid": contract.deposit_paid_fen,
            "balance_paid": contract.balance_paid_fen, "settled": contract.settled}


def special_cap_of(folded: "Fold", year_number: int) -> int | None:
    """The special cap per provider the year's programme sets (None: no programme or no cap)."""
    return next((y.special_provider_cap_fen for y in folded.years if y.year == year_number), None)


def expected_provider_year(provider_year: ProviderYear, folded: "Fold") -> dict[str, Any]:
    """Totals over both kinds; cap and remaining_cap the general ones; by_kind from the aggregate's own split."""
    reserved, used = sum(provider_year.reserved.values()), sum(provider_year.used.values())
    general = provider_year.kind_figures(GENERAL)
    special = provider_year.kind_figures(SPECIAL)
    special_cap = special_cap_of(folded, provider_year.year)
    special.update(cap=special_cap, remaining_cap=None if special_cap is None else
                   special_cap + special["exceptions"] - special["reserved"] - special["used"])
    return {"provider_id": provider_year.provider_id, "year": provider_year.year, "cap": provider_year.cap_fen,
            "exceptions": provider_year.exceptions_fen + provider_year.special_exceptions_fen,
            "reserved": reserved, "used": used,
            "settled": provider_year.settled_fen, "receivable": provider_year.receivable_fen,
            "remaining_cap": general["remaining_cap"],
            "contracts": len(provider_year.reserved) + len(provider_year.used),
            "by_kind": {GENERAL: general, SPECIAL: special}}


def expected_year(year: Year, folded: Fold) -> dict[str, Any]:
    vouchers = [v for v in folded.vouchers if v.year == year.year]
    params = year.params
    return {
        "year": year.year, "starts_on": year.starts_on, "ends_on": year.ends_on, "status": year.status,
        "tier_quotas": dict(params.tier_quotas_fen), "diagnosis_share": params.diagnosis_share_bp,
        "other_share": params.other_share_bp, "deposit_share": params.deposit_share_bp,
        "provider_cap": params.provider_cap_fen, "budget": year.budget_fen, "issued": year.issued_fen,
        "unissued": year.budget_fen - year.issued_fen, "vouchers": year.vouchers,
        **{f: sum(getattr(v, f"{f}_fen") for v in vouchers) for f in FIGURES},
        "settled": sum(py.settled_fen for py in folded.provider_years if py.year == year.year),
        "by_kind": {kind: {
            "vouchers": sum(1 for v in vouchers if v.kind == kind),
            "issued": sum(v.quota_fen for v in vouchers if v.kind == kind),
            **{f: sum(getattr(v, f"{f}_fen") for v in vouchers if v.kind == kind) for f in FIGURES},
            "settled": sum(py.kind_figures(kind)["settled"] for py in folded.provider_years if py.year == year.year),
        } for kind in VOUCHER_KINDS},
    }


def _subset(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {k: actual.get(k) for k in expected}


class OneReadTransaction:
    """The query side of a ViewStore on one open read transaction: one consistent snapshot, and
    no pool checkout per query (hundreds of queries per comparison on PostgreSQL)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def query(self, statement: str, params: Any = ()) -> list[dict[str, Any]]:
        return self.db.all(statement, params)

    def query_one(self, statement: str, params: Any = ()) -> dict[str, Any] | None:
        return self.db.one(statement, params)


def assert_views_match_fold(ledger: Any, views: Any, folded: Fold | None = None) -> Fold:
    """Catch the views up, fold the log afresh, and compare every figure; returns the fold."""
    views.catch_up()
    folded = folded or fold(ledger)
    assert views.position == folded.last_position, "the views have not applied the whole log"
    with views.store.read() as db:
        _compare(OneReadTransaction(db), folded)
    return folded


def _compare(store: Any, folded: Fold) -> None:
    mismatches: list[str] = []

    def compare(what: str, actual: dict[str, Any], expected: dict[str, Any]) -> None:
        if _subset(actual, expected) != expected:
            diff = {k: (actual.get(k), v) for k, v in expected.items() if actual.get(k) != v}
            mismatches.append(f"{what}: view != fold {diff}")

    for voucher in folded.vouchers:
        compare(f"voucher {voucher.id}", get_voucher(store, str(voucher.id)), expected_voucher(voucher))
    balances: dict[tuple[str, int], dict[str, Any]] = {}
    zero = {"vouchers": 0, "quota": 0, **{f: 0 for f in FIGURES}}
    for voucher in folded.vouchers:
        total = balances.setdefault((voucher.enterprise_id, voucher.year),
                                    {**zero, "by_kind": {kind: dict(zero) for kind in VOUCHER_KINDS}})
        for figures in (total, total["by_kind"][voucher.kind]):
            figures["vouchers"] += 1
            figures["quota"] += voucher.quota_fen
            for f in FIGURES:
                figures[f] += getattr(voucher, f"{f}_fen")
    for (enterprise_id, year_number), total in balances.items():
        compare(f"balance {enterprise_id}/{year_number}",
                get_enterprise_balance(store, enterprise_id, year_number), total)
    for year in folded.years:
        compare(f"year {year.year}", get_year(store, year.year), expected_year(year, folded))
    for provider_year in folded.provider_years:
        compare(f"provider year {provider_year.provider_id}/{provider_year.year}",
                get_provider_totals(store, provider_year.provider_id, provider_year.year),
                expected_provider_year(provider_year, folded))
    kinds = {str(voucher.id): voucher.kind for voucher in folded.vouchers}  # a contract's kind is its voucher's
    for contract in folded.contracts:
        compare(f"contract {contract.id}", get_contract(store, str(contract.id)),
                {**expected_contract(contract), "kind": kinds[contract.voucher_id]})
    for provider in folded.of(Provider):
        status = "terminated" if provider.banned else ("signed" if provider.signed_years else "applied")
        compare(f"provider {provider.code}", get_provider(store, provider.code),
                {"id": provider.code, "name": provider.name, "status": status,
                 "signed_years": sorted(set(provider.signed_years))})
    for product in folded.of(Product):
        compare(f"product {product.id}", get_product(store, str(product.id)),
                {"provider_id": product.provider_id, "category": product.category, "price": product.price_fen,
                 "listed_years": sorted(set(product.listed_years))})
    # Nothing in the views that the log does not have.
    counts = {
        "vl_vouchers": len(folded.vouchers), "vl_years": len(folded.years), "vl_contracts": len(folded.contracts),
        "vl_provider_years": len(folded.provider_years), "vl_providers": len(folded.of(Provider)),
        "vl_products": len(folded.of(Product)),
    }
    for table_name, expected_count in counts.items():
        row = store.query_one(f"SELECT COUNT(*) AS n FROM {table_name}")
        if int(row["n"]) != expected_count:
            mismatches.append(f"{table_name}: {row['n']} rows, the log has {expected_count}")
    assert not mismatches, "\n".join(mismatches)


def assert_fund_identity(folded: Fold) -> None:
    """The fund identity of DOMAIN.md, on the folded aggregates."""
    for year in folded.years:
        assert 0 <= year.issued_fen <= year.budget_fen, f"year {year.year}: issued {year.issued_fen} > budget"
        assert year.issued_fen == sum(v.quota_fen for v in folded.vouchers if v.year == year.year)
    for voucher in folded.vouchers:
        parts = [getattr(voucher, f"{f}_fen") for f in FIGURES]
        assert all(p >= 0 for p in parts), f"voucher {voucher.id}: a negative figure {voucher.figures()}"
        assert voucher.quota_fen == sum(parts), f"voucher {voucher.id}: figures do not add up {voucher.figures()}"
        assert voucher.reserved_fen == sum(voucher.reservations.values())
    for year in folded.years:  # the year counts its special vouchers (the programme is fixed from the first)
        assert year.special_vouchers == sum(1 for v in folded.vouchers if v.year == year.year and v.kind == SPECIAL)
    for provider_year in folded.provider_years:
        # Every provider, year and kind: live subsidy of that kind ≤ that kind's cap + its exceptions.
        live = provider_year.live_fen
        assert live <= provider_year.cap_fen + provider_year.exceptions_fen, (
            f"provider {provider_year.provider_id}: live {live} > cap {provider_year.cap_fen} "
            f"+ exceptions {provider_year.exceptions_fen}")
        special = provider_year.kind_figures(SPECIAL)
        special_cap = special_cap_of(folded, provider_year.year)
        if special_cap is not None:
            assert special["reserved"] + special["used"] <= special_cap + special["exceptions"], (
                f"provider {provider_year.provider_id}: special live > special cap {special_cap} + exceptions")
        assert provider_year.live_fen + provider_year.special_live_fen == (
            sum(provider_year.reserved.values()) + sum(provider_year.used.values()))
    for contract in folded.contracts:  # a contract's reservation sits on a voucher of its provider year's kind
        if contract.status in ("signed", "active", "completed", "settled"):
            voucher = next((v for v in folded.vouchers if str(v.id) == contract.voucher_id), None)
            on_year = next((py for py in folded.provider_years
                            if py.provider_id == contract.provider_id and py.year == contract.year), None)
            if voucher is not None and on_year is not None and (str(contract.id) in on_year.reserved
                                                                  or str(contract.id) in on_year.used):
                assert on_year.kind_of(str(contract.id)) == voucher.kind
    for contract in folded.contracts:
        # A contract has its split from its signature on (one terminated while proposed never had one).
        if contract.id in folded.signed_contracts:
            assert contract.deposit_fen + contract.subsidy_fen + contract.balance_due_fen == contract.amount_fen, (
                f"contract {contract.id}: deposit + subsidy + balance != amount")
            assert min(contract.deposit_fen, contract.subsidy_fen, contract.balance_due_fen) >= 0
        if contract.status == "completed":
            assert contract.deposit_paid_fen == contract.deposit_fen
            assert contract.balance_paid_fen == contract.balance_due_fen
    # A reservation lives on the voucher and on the provider's year together, for a contract holding one.
    reserving = {str(c.id): c for c in folded.contracts if c.status in ("signed", "active")}
    on_vouchers = {cid: amount for v in folded.vouchers for cid, amount in v.reservations.items()}
    on_providers = {cid: amount for py in folded.provider_years for cid, amount in py.reserved.items()}
    assert on_vouchers == on_providers == {cid: c.subsidy_fen for cid, c in reserving.items()}


def enterprise_of(folded: Fold, code: str) -> Enterprise | None:
    return next((e for e in folded.of(Enterprise) if e.code == code), None)
