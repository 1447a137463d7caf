"""Who is acting, and on which request: stamped on every event (ARCHITECTURE.md, "Events").

The web layer and the command line set the context; aggregates read it when they record an event,
so no command can forget to say who did it.
"""

from __future__ import annotations

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Actor:
    """An authenticated party: its role, the id recorded on events, and the subject it is bound to.

    `id` names the person or system (the credential's label); `subject` is the credit code an
    enterprise or provider credential is bound to.
    """

    role: str
    id: str
    subject: str | None = None

    def as_event_field(self) -> dict[str, str]:
        return {"role": self.role, "id": self.id}


@dataclass(frozen=True)
class Idempotency:
    """A client's Idempotency-Key, scoped to the actor, with the fingerprint of its request."""

    key: str
    request_hash: str


@dataclass(frozen=True)
class CommandContext:
    actor: Actor
    request_id: str
    idempotency: Idempotency | None = None


_context: ContextVar[CommandContext | None] = ContextVar("voucher_ledger_context", default=None)


def current() -> CommandContext:
    """The context of the command being run; refusing to record anything anonymous."""
    ctx = _context.get()
    if ctx is None:
        raise RuntimeError("no actor: commands run inside ledger.context.acting(...)")
    return ctx


def current_actor() -> Actor:
    return current().actor


@contextlib.contextmanager
def acting(actor: Actor, request_id: str | None = None, idempotency: Idempotency | None = None) -> Iterator[CommandContext]:
    """Run the enclosed commands as `actor` on behalf of one request."""
    ctx = CommandContext(actor=actor, request_id=request_id or uuid.uuid4().hex, idempotency=idempotency)
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def event_stamp() -> dict[str, object]:
    """The actor and request id every event carries."""
    ctx = current()
    return {"actor": ctx.actor.as_event_field(), "request_id": ctx.request_id}
