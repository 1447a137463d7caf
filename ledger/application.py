"""VoucherLedger: the one application service; every command is one method (ARCHITECTURE.md).

The command groups live in `ledger/commands/`; this class puts them together with the
persistence settings that keep hot aggregates fast (snapshots, the aggregate cache).
"""

from __future__ import annotations

from typing import Callable
from datetime import date

from ledger.commands.base import CommandBase
from ledger.commands.contracts import ContractCommands
from ledger.commands.credentials import CredentialCommands
from ledger.commands.providers import ProviderCommands
from ledger.commands.years import YearCommands
from ledger.domain.provider_year import ProviderYear
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year
from ledger.persistence import Store, parse_database_url


class VoucherLedger(ContractCommands, ProviderCommands, YearCommands, CredentialCommands, CommandBase):
    """Commands of the voucher fund; queries are served by the read models in `projections/`."""

    name = "VoucherLedger"
    # Year gets one event per issued voucher and ProviderYear one per contract: snapshot them so
    # a command never replays a year's worth of events.
    snapshotting_intervals = {Year: 100, ProviderYear: 100, Voucher: 50}

    @classmethod
    def for_store(cls, store: Store | None = None, *, create_table: bool = True,
                  clock: Callable[[], date] | None = None) -> "VoucherLedger":
        store = store or parse_database_url()
        env = {**store.event_store_env(create_table=create_table), "AGGREGATE_CACHE_MAXSIZE": "20000"}
        app = cls(env=env, clock=clock)
        app.store = store
        return app
