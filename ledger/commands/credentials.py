"""API credentials: issued and revoked from the command line, never over HTTP (API.md)."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from ledger import errors
from ledger.commands.base import CommandBase, CommandResult, command, require
from ledger.context import Actor
from ledger.domain.credential import Credential, token_hash
from ledger.rules import ROLES, SUBJECT_ROLES, SYSTEM, valid_credit_code

TOKEN_PREFIX = "vl_"


class CredentialCommands(CommandBase):
    """Tokens are random, shown once, and stored only as their SHA-256."""

    @command
    def issue_credential(self, role: str, subject: str | None = None, name: str = "",
                         expires_at: str | None = None) -> CommandResult:
        """Issue a token for a role (bound to a credit code for enterprises and providers)."""
        require(SYSTEM)
        if role not in ROLES:
            raise errors.ValidationFailed(f"unknown role {role}", {"role": [f"must be one of {', '.join(ROLES)}"]})
        if role in SUBJECT_ROLES:
            if not valid_credit_code(subject):
                raise errors.ValidationFailed("an enterprise or provider token needs its credit code",
                                              {"subject": ["must be a valid unified social credit code"]})
        elif subject:
            raise errors.ValidationFailed(f"a {role} token is not bound to a subject", {"subject": ["must be empty"]})
        if expires_at is not None:
            try:
                moment = datetime.fromisoformat(expires_at)
            except ValueError:
                raise errors.ValidationFailed("bad expiry", {"expires_at": ["must be an ISO 8601 instant"]}) from None
            if moment.tzinfo is None:
                raise errors.ValidationFailed("bad expiry", {"expires_at": ["must carry a UTC offset"]})
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        credential = Credential(token_sha256=token_hash(token), role=role, subject=subject or None,
                                name=name or "", expires_at=expires_at)
        result = self._commit({"credential_id": str(credential.id), "role": role, "subject": subject,
                               "name": credential.name}, credential, created=True)
        result.extra["token"] = token
        return result

    @command
    def revoke_credential(self, credential_id: Any, reason: str, reference: str = "") -> CommandResult:
        """Revoke a token at once; later requests with it are 401. `reference`: the work order behind it."""
        require(SYSTEM)
        credential: Credential = self._get_as(Credential, credential_id, "credential")
        if not credential.revoked:
            credential.revoke(reason=reason, reference=reference)
        return self._commit({"credential_id": str(credential.id), "revoked": True}, credential)

    def list_credentials(self, page_size: int = 500) -> list[dict[str, Any]]:
        """Every credential ever issued, in order of issue: id, role, subject, name, expiry, revoked.

        Never the token's hash. Read from the credentials' own events in the notification log (the
        library filters them by topic), so it needs no read model and works while servers run.
        """
        issued, revoked = get_topic(Credential.Issued), get_topic(Credential.Revoked)
        found: dict[str, dict[str, Any]] = {}
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=page_size, topics=[issued, revoked])
            for notification in page:
                domain_event = self.mapper.to_domain_event(notification)
                key = str(notification.originator_id)
                if notification.topic == issued:
                    found[key] = {"credential_id": key, "role": domain_event.role, "subject": domain_event.subject,
                                  "name": domain_event.name, "expires_at": domain_event.expires_at,
                                  "issued_at": domain_event.timestamp.isoformat(), "revoked": False}
                elif key in found:
                    found[key]["revoked"] = True
            if len(page) < page_size:
                return list(found.values())
            start = page[-1].id + 1

    def authenticate(self, token: str) -> Actor:
        """The actor a bearer token stands for; unknown, revoked or expired tokens are refused."""
        digest = token_hash(token)
        try:
            # One check of the log (ledger/cache.py) instead of the library's fast-forward query: it evicts
            # a credential that was revoked since (by any process), so a revoked token stops at once, and an
            # unchanged one comes from the cache; the check also gives the request the log's head (issue 21).
            with self.unit_of_work():
                credential: Credential = self.repository.get(Credential.create_id(digest))
        except AggregateNotFoundError:
            raise errors.Unauthenticated("unknown token") from None
        # The id lookup already matched the hash; compare again in constant time all the same.
        if not hmac.compare_digest(credential.token_sha256, digest) or credential.revoked:
            raise errors.Unauthenticated("unknown or revoked token")
        if credential.expires_at and datetime.fromisoformat(credential.expires_at) <= self.now():
            raise errors.Unauthenticated("the token has expired")
        return Actor(role=credential.role, id=credential.name or f"credential-{str(credential.id)[:8]}",
                     subject=credential.subject)
