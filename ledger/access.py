"""Who may read what (API.md, "Staff ... unless a line says otherwise"; Art. 17, 21, 23).

Staff, the supervisor and auditors read everything; an enterprise or provider reads only its own.
"""

from __future__ import annotations

from ledger import errors
from ledger.context import Actor
from ledger.rules import ENTERPRISE, PROVIDER, READERS


def require_reader(actor: Actor, *, enterprise_id: str | None = None, provider_id: str | None = None,
                   roles: tuple[str, ...] = READERS) -> None:
    """Allow readers of every subject, and a subject reading what is its own."""
    if actor.role in roles:
        return
    if actor.role == ENTERPRISE and enterprise_id is not None and actor.subject == enterprise_id:
        return
    if actor.role == PROVIDER and provider_id is not None and actor.subject == provider_id:
        return
    raise errors.Forbidden("this is not yours to read", {"role": actor.role})
