"""What the generator made, kept in memory so the measurements can pick realistic subjects.

The generator mirrors the ledger's own arithmetic (subsidy = min(share × amount, available),
the provider's cap) only to choose contracts that will pass; the ledger still decides.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ledger.context import Actor, acting
from ledger.errors import LedgerError


@dataclass
class VoucherMirror:
    voucher_id: str
    enterprise: str
    tier: str
    quota_fen: int
    available_fen: int


@dataclass
class ContractRecord:
    contract_id: str
    enterprise: str
    provider: str
    voucher: VoucherMirror
    subsidy_fen: int = 0
    deposit_fen: int = 0
    balance_due_fen: int = 0
    status: str = "proposed"


@dataclass
class World:
    """The generated year: ids of everything, contracts by status, refusals by code."""

    year: int
    shares: dict[str, int] = field(default_factory=dict)  # diagnosis / other / deposit, basis points
    provider_cap_fen: int = 0
    providers: list[str] = field(default_factory=list)  # signed for the year
    provider_live_fen: dict[str, int] = field(default_factory=dict)
    products: list[dict[str, Any]] = field(default_factory=list)  # listed: product_id, provider, category, price_fen
    enterprises: list[str] = field(default_factory=list)
    vouchers: list[VoucherMirror] = field(default_factory=list)
    special_vouchers: list[VoucherMirror] = field(default_factory=list)  # the special line (issue 17)
    contracts: list[ContractRecord] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)
    commands: int = 0
    serials: dict[str, int] = field(default_factory=dict)  # next free index per kind of party

    def by_status(self, *statuses: str) -> list[ContractRecord]:
        return [c for c in self.contracts if c.status in statuses]

    def next_serial(self, kind: str) -> int:
        self.serials[kind] = self.serials.get(kind, 0) + 1
        return self.serials[kind]


class Driver:
    """Runs ledger commands as a role: one request id per command, refusals counted, not raised."""

    def __init__(self, app: Any, world: World) -> None:
        self.app = app
        self.world = world
        self._actors: dict[tuple[str, str | None, int], Actor] = {}

    def actor(self, role: str, subject: str | None = None, person: int = 1) -> Actor:
        """The acting party; staff are people `bench-ROLE-N` (several, for segregation of duties)."""
        key = (role, subject, person)
        if key not in self._actors:
            self._actors[key] = Actor(role=role, id=f"bench-{role}" + (f"-{subject[-6:]}" if subject else f"-{person}"),
                                      subject=subject)
        return self._actors[key]

    def run(self, role: str, subject: str | None, command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """The command's result data, or None if the ledger refused it (counted by code)."""
        return self.run_as(self.actor(role, subject), command, *args, **kwargs)

    def run_as(self, actor: Actor, command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with acting(actor, request_id=uuid.uuid4().hex):
            try:
                result = command(*args, **kwargs)
            except LedgerError as refusal:
                self.world.refusals[refusal.code] += 1
                return None
        self.world.commands += 1
        return result.data

    @contextmanager
    def as_role(self, role: str, subject: str | None = None) -> Iterator[None]:
        with acting(self.actor(role, subject), request_id=uuid.uuid4().hex):
            yield


@dataclass
class PhaseClock:
    """Seconds and commands per generation phase, for the report."""

    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str, world: World) -> Iterator[None]:
        before, started = world.commands, time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            commands = world.commands - before
            self.phases[name] = {"seconds": round(seconds, 3), "commands": commands,
                                 "commands_per_s": round(commands / seconds, 1) if seconds > 0 else 0.0}
