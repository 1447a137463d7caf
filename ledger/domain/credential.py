"""Credentials: API tokens, stored only as SHA-256 hashes; issuing and revoking are events."""

from __future__ import annotations

import hashlib
from typing import Any

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, natural_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Credential(LedgerAggregate):
    """A bearer token's hash, its role, the subject it is bound to, and its expiry."""

    @staticmethod
    def create_id(token_sha256: str) -> Any:
        return natural_id("credential", token_sha256)

    @event("Issued")
    def __init__(self, token_sha256: str, role: str, subject: str | None, name: str, expires_at: str | None) -> None:
        self.token_sha256 = token_sha256
        self.role = role
        self.subject = subject
        self.name = name
        self.expires_at = expires_at
        self.revoked = False

    class Revoked(LedgerAggregate.Event):
        """A token revoked for `reason`; `reference` names the work order or letter behind it (issue 20).

        Version 2 added `reference`. Events stored before (version 1, no `class_version` in their state)
        are upcast on read by the library (`upcast_v1_v2`): they read back with an empty reference, and
        the audit chain still hashes them as stored (projections/audit/canonical.py `upcast_defaults`).
        """

        class_version = 2
        reason: str
        reference: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reference"] = ""

    @event(Revoked)
    def revoke(self, reason: str, reference: str = "") -> None:
        self.revoked = True
