"""What every command shares: authorisation, loading, the atomic commit, retries and idempotency."""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Iterable, Iterator, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from ledger import errors
from ledger.business_date import CHINA, BusinessClock, utc_now  # noqa: F401 - CHINA is imported from here too
from ledger.context import Actor, current, current_actor
from ledger.domain.case import Case
from ledger.domain.contract import Contract
from ledger.domain.enterprise import Enterprise
from ledger.domain.idempotency import IdempotencyRecord
from ledger.domain.product import Product
from ledger.domain.provider import Provider
from ledger.domain.provider_year import ProviderYear
from ledger.domain.settlement import SettlementBatch
from ledger.domain.voucher import Voucher
from ledger.domain.year import Year

# Version conflicts are retried inside the server, bounded in count and in time (README "Retries"):
# each retry waits a jittered, growing pause and runs in this process's retry lane (`_RETRY_LANE`).
CONFLICT_ATTEMPTS = 30
CONFLICT_SECONDS = float(os.environ.get("LEDGER_CONFLICT_RETRY_SECONDS", "5"))
BACKOFF_FIRST_S = 0.004
BACKOFF_MAX_S = 0.15
# Retries of one process run one at a time: two commands of this process that conflicted on a hot
# aggregate (the year's budget, a provider's cap) then take turns instead of conflicting again.
# For CONTENDED_S after a conflict, first attempts take their turn too (PostgreSQL serialises the
# inserts of every writer anyway, so little concurrency is lost; an issuance storm across three
# servers otherwise exhausted retries). Reentrant: a command run by a command runs in the outer one's turn.
CONTENDED_S = 1.0
_RETRY_LANE = threading.RLock()
_last_conflict = 0.0
REFUSAL = "refusal"  # key of a recorded refusal in an idempotency record's result

A = TypeVar("A")


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: its result (fen and API field names), the position of its last event.

    `created`: the command created its subject (a year, a voucher, a contract...): what happened, in
    the ledger's terms; `web/commands.py` answers it as 201 Created, anything else as 200.
    `replayed` marks the stored first answer to a repeated Idempotency-Key; its position is found
    through the read models (`idempotency_key_id`).
    """

    data: dict[str, Any]
    position: int | None
    created: bool = False
    replayed: bool = False
    idempotency_key_id: UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def exclusive(key_of: Callable[..., Any]) -> Callable[[Callable[..., CommandResult]], Callable[..., CommandResult]]:
    """Mark a command whose every attempt runs alone on one hot aggregate, across processes.

    `key_of(*args, **kwargs)` names the aggregate from the command's arguments. Under `@command`, each
    attempt first takes that aggregate's turn (`Turns.turn`) and only then checks the cache and loads:
    so it cannot lose a version conflict to another holder of the turn. For issuance, which every
    operator's client sends against the year's one budget stream: with 8 clients on 2 servers the
    optimistic retries collided across processes until one ran out (a 503; issue 21's target is none).
    Turns are not reentrant: an exclusive command must not run another on the same key.
    """

    def mark(method: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
        method.exclusive_key = key_of  # type: ignore[attr-defined]
        return method

    return mark


class Turns:
    """One turn at a time per key in this process; `across` (installed for PostgreSQL by the composition
    root, projections/storage/turns.py) extends the turn to every process of the store.

    A process waits in line here first, so it holds at most one database connection per key while
    waiting. A turn not had within CONFLICT_SECONDS is answered as ConcurrencyConflict (503, retry).
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Any, threading.Lock] = {}
        self.across: Callable[[Any, float], Any] | None = None

    @contextmanager
    def turn(self, key: Any, timeout: float) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        deadline = time.monotonic() + timeout
        if not lock.acquire(timeout=timeout):
            raise errors.ConcurrencyConflict("the subject is busy; try again", {"waited_s": timeout})
        try:
            if self.across is None:
                yield
            else:
                with self.across(key, max(deadline - time.monotonic(), 0.001)):
                    yield
        finally:
            lock.release()


def command(method: Callable[..., CommandResult]) -> Callable[..., CommandResult]:
    """Run a command with optimistic-concurrency retries and the Idempotency-Key check.

    A version conflict means another command changed one of our aggregates first: reload and decide
    again, after a jittered pause, in this process's retry lane. After CONFLICT_ATTEMPTS attempts or
    CONFLICT_SECONDS, answer ConcurrencyConflict (503 SERVICE_UNAVAILABLE with Retry-After: nothing was
    recorded and the same request may simply be sent again).

    With an Idempotency-Key the first recorded answer is every answer: a refusal is checked against a
    record another request with the same key may have committed meanwhile (that request's success is
    what made this one refuse) before it is recorded or returned.
    """

    key_of = getattr(method, "exclusive_key", None)

    @functools.wraps(method)
    def run(self: "CommandBase", *args: Any, **kwargs: Any) -> CommandResult:
        deadline = time.monotonic() + CONFLICT_SECONDS
        in_lane = time.monotonic() - _last_conflict < CONTENDED_S and _RETRY_LANE.acquire(timeout=CONFLICT_SECONDS)
        attempt = 0
        try:
            while True:
                attempt += 1
                # One attempt is one unit of work: the aggregate cache is checked against the log once
                # (after the turn on an exclusive command's aggregate, so what it loads is current).
                with self._turn_for(key_of, args, kwargs, deadline), self.unit_of_work() as unit:
                    replay = self._replay_idempotent()
                    if replay is not None:
                        return replay
                    try:
                        return method(self, *args, **kwargs)
                    except (IntegrityError, errors.StaleRead):
                        # StaleRead: our aggregates were loaded on either side of another command's commit.
                        unit.failed()  # reload whatever this attempt read
                        self.conflicts_retried += 1
                        _note_conflict()
                    except errors.ConcurrencyConflict:
                        raise  # transient: a repeat with the same key should try again
                    except errors.LedgerError as refusal:
                        replay = self._refuse(refusal)
                        if replay is not None:
                            return replay
                        raise
                remaining = deadline - time.monotonic()
                if attempt >= CONFLICT_ATTEMPTS or remaining <= 0:
                    break
                time.sleep(min(remaining, random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** attempt))))
                if not in_lane:
                    in_lane = _RETRY_LANE.acquire(timeout=max(deadline - time.monotonic(), 0.001))
        finally:
            if in_lane:
                _RETRY_LANE.release()
        raise errors.ConcurrencyConflict(
            "the subject was changed concurrently; try again", {"attempts": attempt}
        )

    return run


def _note_conflict() -> None:
    global _last_conflict
    _last_conflict = time.monotonic()


def require(*roles: str) -> Actor:
    """The acting party, if its role is one of `roles`."""
    actor = current_actor()
    if actor.role not in roles:
        raise errors.Forbidden(f"role {actor.role} may not do this", {"role": actor.role, "allowed": list(roles)})
    return actor


def require_subject(actor: Actor, subject: str) -> None:
    """An enterprise or provider acts only for itself (Art. 17)."""
    if actor.subject != subject:
        raise errors.Forbidden("this belongs to another subject", {"role": actor.role})


def refuse_unknown_changes(changes: dict[str, Any], amendable: tuple[str, ...], documents: list[dict]) -> None:
    """An amendment corrects named facts only, or adds evidence (the web schema checks each value's type)."""
    unknown = sorted(set(changes) - set(amendable))
    if unknown or not (changes or documents):
        raise errors.ValidationFailed("an amendment corrects known facts or adds documents", {"changes": [
            f"unknown: {', '.join(unknown)}" if unknown else "name a fact, or bring documents"]})


class _NoUnit:
    def failed(self) -> None:
        """Nothing to forget without a cache."""


class CommandBase(Application):
    """Loading, clock and commit helpers for the command mixins."""

    conflicts_retried = 0

    def __init__(self, env: dict[str, str] | None = None, clock: Callable[[], date] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        super().__init__(env=env)
        self.clock = clock or BusinessClock()
        self.now = now or utc_now  # the instant clock (token expiry), injected as the business date is
        self.turns = Turns()  # exclusive commands' turns (`exclusive`); PostgreSQL's installed by service/bootstrap.py

    def today(self) -> date:
        """The business date (ledger/business_date.py): the years' windows are Chinese calendar dates."""
        return self.clock()

    @contextmanager
    def unit_of_work(self) -> Iterator[Any]:
        """One attempt of a command (VoucherLedger checks its aggregate cache here, ledger/cache.py)."""
        yield _NoUnit()

    def _turn_for(self, key_of: Callable[..., Any] | None, args: tuple, kwargs: dict,
                  deadline: float) -> AbstractContextManager[Any]:
        """The turn an `exclusive` command's attempt takes; none for other commands, or for arguments
        that name no aggregate (the command itself then refuses them)."""
        if key_of is None:
            return nullcontext()
        try:
            key = key_of(*args, **kwargs)
        except Exception:  # noqa: BLE001 - bad arguments are the command's to refuse, with its error
            return nullcontext()
        return self.turns.turn(key, max(deadline - time.monotonic(), 0.001))

    def _load(self, aggregate_id: UUID | str, what: str, key: object) -> Any:
        if not isinstance(aggregate_id, UUID):
            try:
                aggregate_id = UUID(str(aggregate_id))
            except ValueError:
                raise errors.NotFound(f"no {what} {key}", {"id": str(key)}) from None
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise errors.NotFound(f"no {what} {key}", {"id": str(key)}) from None

    def _get_as(self, cls: type[A], aggregate_id: Any, what: str, key: object = None) -> A:
        """The aggregate of class `cls` with this id; NOT_FOUND for an unparseable id, a key beyond a
        64-bit integer, or an aggregate of another class (a voucher's id given as a contract's)."""
        key = aggregate_id if key is None else key
        if isinstance(key, int) and not -2**63 <= key < 2**63:
            raise errors.NotFound(f"no {what} {key}", {"id": str(key)})
        aggregate = self._load(aggregate_id, what, key)
        if not isinstance(aggregate, cls):
            raise errors.NotFound(f"no {what} {key}", {"id": str(key)})
        return aggregate

    def prefetch_parties(self, contract: Contract, *, product: bool = False) -> None:
        """Load a contract's voucher, parties and provider year in one go (ledger/cache.py `prefetch`).

        Each server process has its own aggregate cache, cold for most contracts: loaded one by one they
        were four or five round trips in a row per command on PostgreSQL (issue 21's profile of a served
        signature: a fifth of its time). A no-op for what is cached, and in-process (SQLite).
        """
        ids = [UUID(str(contract.voucher_id)), Enterprise.create_id(contract.enterprise_id),
               Provider.create_id(contract.provider_id), ProviderYear.create_id(contract.provider_id, contract.year)]
        if product:
            ids.append(UUID(str(contract.product_id)))
        self.repository.prefetch(ids)

    # The typed loaders, here so that every command group calls them typed (each refuses another
    # class's id as NOT_FOUND, through `_get_as`).
    def get_year(self, year: int) -> Year:
        return self._get_as(Year, Year.create_id(year), "year", year)

    def get_enterprise(self, code: str) -> Enterprise:
        return self._get_as(Enterprise, Enterprise.create_id(code), "enterprise", code)

    def get_voucher(self, voucher_id: Any) -> Voucher:
        return self._get_as(Voucher, voucher_id, "voucher")

    def get_provider(self, code: str) -> Provider:
        return self._get_as(Provider, Provider.create_id(code), "provider", code)

    def get_provider_year(self, code: str, year: int) -> ProviderYear:
        return self._get_as(ProviderYear, ProviderYear.create_id(code, year), "signed provider year", f"{code}/{year}")

    def get_product(self, product_id: Any) -> Product:
        return self._get_as(Product, product_id, "product")

    def get_contract(self, contract_id: Any) -> Contract:
        return self._get_as(Contract, contract_id, "contract")

    def get_batch(self, batch_id: Any) -> SettlementBatch:
        return self._get_as(SettlementBatch, batch_id, "settlement batch")

    def get_case(self, case_id: Any) -> Case:
        return self._get_as(Case, case_id, "case")

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def _commit(self, data: dict[str, Any], *aggregates: Any, created: bool = False) -> CommandResult:
        """Save every changed aggregate in one transaction, with the idempotency record if any."""
        ctx = current()
        pending: list[Any] = list(aggregates)
        if ctx.idempotency is not None:
            pending.append(IdempotencyRecord(
                scope=self._idempotency_scope(), key=ctx.idempotency.key,
                request_hash=ctx.idempotency.request_hash, result=data, created=created,
            ))
        recordings = self.save(*pending)
        position = recordings[-1].notification.id if recordings else None
        return CommandResult(data=data, position=position, created=created)

    def _commit_many(self, aggregates: Iterable[Any]) -> int | None:
        """Save a chunk of aggregates (year close, batch payment) as one transaction."""
        recordings = self.save(*aggregates)
        return recordings[-1].notification.id if recordings else None

    def _refuse(self, refusal: errors.LedgerError) -> CommandResult | None:
        """A refused request with an Idempotency-Key gets the same refusal when repeated (API.md).

        Unless another request with the same key recorded its answer first: that answer is returned
        (or its refusal raised) instead. Its commit is usually why this one refused (the voucher was
        just issued, the contract just signed), so it is looked for after the refusal, in the store.
        The refusal is recorded alone (the command recorded nothing else); if the same key is
        recorded between the look and the save, the save fails and the record is read again.
        """
        ctx = current()
        if ctx.idempotency is None:
            return None
        replay = self._replay_idempotent()
        if replay is not None:
            return replay
        record = IdempotencyRecord(
            scope=self._idempotency_scope(), key=ctx.idempotency.key, request_hash=ctx.idempotency.request_hash,
            result={REFUSAL: {"code": refusal.code, "message": refusal.message, "details": refusal.details}},
        )
        try:
            self.save(record)
        except IntegrityError:
            return self._replay_idempotent()
        return None

    @staticmethod
    def _idempotency_scope() -> str:
        actor = current_actor()
        return f"{actor.role}:{actor.id}:{actor.subject or ''}"

    def _replay_idempotent(self) -> CommandResult | None:
        ctx = current()
        if ctx.idempotency is None:
            return None
        record_id = IdempotencyRecord.create_id(self._idempotency_scope(), ctx.idempotency.key)
        try:
            record = self.repository.get(record_id)
        except AggregateNotFoundError:
            return None
        if record.request_hash != ctx.idempotency.request_hash:
            raise errors.IdempotencyKeyReused(
                "this Idempotency-Key was used for another request", {"key": ctx.idempotency.key}
            )
        refusal = record.result.get(REFUSAL)
        if refusal is not None:
            raise errors.recorded_refusal(refusal["code"], refusal["message"], refusal["details"])
        return CommandResult(data=record.result, position=None, created=record.created, replayed=True,
                             idempotency_key_id=record_id)
