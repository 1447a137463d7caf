"""Figures as they stood at a past instant (`as_of`, API.md; Art. 21-24: audit and supervision).

A voucher, an enterprise's vouchers of a year and a provider's year are folded from their own
events up to the instant: the aggregate at the last version recorded at or before it, replayed by
the library (from a snapshot where there is one). Nothing is read from a read model, so the answer
is what the events say. A year's totals sum every voucher of the year and are kept per position by
a projection instead (`projections/audit/history.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ledger import errors
from ledger.commands.base import CommandBase
from ledger.domain.provider_year import ProviderYear
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.rules import GENERAL, SPECIAL, VOUCHER_KINDS

# Streams this short are read whole; longer ones are searched by version.
READ_WHOLE = 64
FIGURES = ("available", "reserved", "used", "expired", "clawed_back")


class PointInTimeQueries(CommandBase):
    """Queries of the fund as it stood at an instant (ISO 8601 with offset at the edge)."""

    def version_at(self, aggregate_id: UUID, at: datetime) -> int:
        """The stream's last version recorded at or before `at` (0: the stream did not exist yet).

        Versions are recorded in time order within a stream, so a binary search over versions
        finds it in a few reads however long the stream.
        """
        last = list(self.events.get(aggregate_id, desc=True, limit=1))
        if not last:
            return 0
        if last[0].timestamp <= at:
            return last[0].originator_version
        if last[0].originator_version <= READ_WHOLE:
            return max((e.originator_version for e in self.events.get(aggregate_id) if e.timestamp <= at), default=0)
        lo, hi = 0, last[0].originator_version  # version lo was recorded by `at` (0: none); hi after it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            probe = next(iter(self.events.get(aggregate_id, gt=mid - 1, lte=mid)))
            if probe.timestamp <= at:
                lo = mid
            else:
                hi = mid
        return lo

    def aggregate_at(self, aggregate_id: UUID, at: datetime) -> Any | None:
        """The aggregate as it stood at `at`, or None if it did not exist yet."""
        version = self.version_at(aggregate_id, at)
        return None if version == 0 else self.repository.get(aggregate_id, version=version)

    def voucher_as_of(self, voucher_id: Any, at: datetime) -> dict[str, Any]:
        """A voucher's figures and status at `at` (404 if it was not issued by then)."""
        try:
            key = voucher_id if isinstance(voucher_id, UUID) else UUID(str(voucher_id))
        except ValueError:
            raise errors.NotFound(f"no voucher {voucher_id}", {"id": str(voucher_id)}) from None
        voucher = self.aggregate_at(key, at)
        if not isinstance(voucher, Voucher):
            raise errors.NotFound(f"no voucher {voucher_id} at {at.isoformat()}",
                                  {"id": str(voucher_id), "as_of": at.isoformat()})
        return {"voucher_id": str(voucher.id), "enterprise_id": voucher.enterprise_id, "year": voucher.year,
                "kind": voucher.kind, "tier": voucher.tier, **voucher.figures(), "status": voucher.status,
                "as_of": at.isoformat()}

    def enterprise_balance_as_of(self, enterprise_id: str, year: int, at: datetime) -> dict[str, Any]:
        """The figures summed over the enterprise's vouchers of the year, at `at` (Art. 9, 16-18)."""
        totals = {"vouchers": 0, "quota": 0, **{name: 0 for name in FIGURES}}
        by_kind = {kind: dict(totals) for kind in VOUCHER_KINDS}
        for kind in VOUCHER_KINDS:
            voucher = self.aggregate_at(Voucher.create_id(enterprise_id, year, kind), at)
            if voucher is None:
                continue
            for figures in (totals, by_kind[kind]):
                figures["vouchers"] += 1
                for name, value in voucher.figures().items():
                    figures[name] += value
        return {"enterprise_id": enterprise_id, "year": year, **totals, "by_kind": by_kind, "as_of": at.isoformat()}

    def provider_totals_as_of(self, provider_id: str, year: int, at: datetime) -> dict[str, Any]:
        """A provider's year against its cap at `at` (Art. 10); 404 if not yet signed for the year."""
        provider_year = self.aggregate_at(ProviderYear.create_id(provider_id, year), at)
        if not isinstance(provider_year, ProviderYear):
            raise errors.NotFound(f"no signed provider year {provider_id}/{year} at {at.isoformat()}",
                                  {"id": f"{provider_id}/{year}", "as_of": at.isoformat()})
        reserved = sum(provider_year.reserved.values())
        used = sum(provider_year.used.values())
        return {"provider_id": provider_id, "year": year, "cap": provider_year.cap_fen,
                "exceptions": provider_year.exceptions_fen + provider_year.special_exceptions_fen,  # both kinds
                "reserved": reserved, "used": used,
                "settled": provider_year.settled_fen, "receivable": provider_year.receivable_fen,
                "remaining_cap": provider_year.remaining_fen,
                "contracts": len(provider_year.reserved) + len(provider_year.used),
                "by_kind": {GENERAL: provider_year.kind_figures(GENERAL),
                            SPECIAL: {**provider_year.kind_figures(SPECIAL), **self._special_cap_at(year, at, provider_year)}},
                "as_of": at.isoformat()}

    def _special_cap_at(self, year: int, at: datetime, provider_year: ProviderYear) -> dict[str, Any]:
        """The special cap as the year's programme stood at `at` (a provider year with no special reservation yet)."""
        if provider_year.special_ids:
            return {}
        programme_year = self.aggregate_at(Year.create_id(year), at)
        cap = getattr(programme_year, "special_provider_cap_fen", None)
        exceptions = provider_year.special_exceptions_fen
        return {"cap": cap, "remaining_cap": None if cap is None else cap + exceptions}
