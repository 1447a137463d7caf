"""Idempotency keys: the first answer to a request, saved in the same transaction as its events.

So a crash can never apply a command twice, and a repeat gets the first response.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, natural_id


class IdempotencyRecord(LedgerAggregate):
    """One use of one Idempotency-Key by one actor."""

    @staticmethod
    def create_id(scope: str, key: str) -> Any:
        return natural_id("idempotency", scope, key)

    @event("Recorded")
    def __init__(self, scope: str, key: str, request_hash: str, status: int, result: dict) -> None:
        self.scope = scope
        self.key = key
        self.request_hash = request_hash
        self.status = status
        self.result = result
