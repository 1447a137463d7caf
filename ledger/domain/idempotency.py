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
    def __init__(self, scope: str, key: str, request_hash: str, result: dict, created: bool = False,
                 status: int | None = None) -> None:
        """`created`: the command created its subject (the web answers 201 for it, 200 otherwise).

        Records stored before `created` carry the HTTP status they were answered with (201, 200, or 0
        for a refusal) as `status`, never rewritten (the audit chain hashes events as stored): it is
        read back as `created`, so a repeated key still answers exactly the first response.
        """
        self.scope = scope
        self.key = key
        self.request_hash = request_hash
        self.created = created if status is None else status == 201
        self.result = result
