"""The base of every aggregate: events that carry who acted and on which request."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from eventsourcing.domain import Aggregate

from ledger.context import event_stamp

# Namespace of the deterministic ids that make natural keys unique (one voucher per
# holder/year/kind, one enterprise per credit code, one use of an idempotency key).
LEDGER_NAMESPACE = uuid.UUID("6f1d7c1e-2b51-4f2e-9d0a-5a7e3c1b9e45")


def natural_id(*parts: object) -> uuid.UUID:
    """A stable id for a natural key: a second creation conflicts at version 1."""
    return _natural_id("/".join(str(p) for p in parts))


@functools.lru_cache(maxsize=65_536)
def _natural_id(key: str) -> uuid.UUID:
    # The same keys (a year, a provider, a provider's year) are hashed by every command: uuid5's SHA-1
    # and UUID construction showed in the profiles of a signature and of the year close (issue 21).
    return uuid.uuid5(LEDGER_NAMESPACE, key)


class LedgerAggregate(Aggregate):
    """An aggregate whose every event records the actor (role, id) and the request id."""

    class Event(Aggregate.Event):
        actor: dict
        request_id: str

    class Created(Event, Aggregate.Created):
        pass

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        kwargs.update(event_stamp())
        super().trigger_event(event_class, **kwargs)

    @classmethod
    def _create(cls, event_class: Any, **kwargs: Any) -> Any:
        kwargs.update(event_stamp())
        return super()._create(event_class, **kwargs)
