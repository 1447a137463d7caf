"""Handlers and tables of the read models, registered by the view modules.

A handler is `handler(db, event, position)`; `db.execute` takes `?` placeholders on both backends.
"""

from __future__ import annotations

from typing import Any, Callable

Handler = Callable[[Any, Any, int], None]

HANDLERS: dict[type, list[Handler]] = {}
ALL_HANDLERS: list[Handler] = []  # run for every event, after the event class's own handlers
TABLES: list[str] = []
INDEXES: list[str] = []
# Tables stored in their primary key's order where the backend can (SQLite's WITHOUT ROWID): the
# append-only indexes of every event (trace, chain, history), whose rows are small and read by key range.
CLUSTERED: set[str] = set()


def handles(*event_classes: type) -> Callable[[Handler], Handler]:
    """Register a handler for these event classes (exact types, as stored)."""

    def register(handler: Handler) -> Handler:
        for event_class in event_classes:
            HANDLERS.setdefault(event_class, []).append(handler)
        return handler

    return register


def handles_all(handler: Handler) -> Handler:
    """Register a handler for every event, whatever its class (the audit chain, the trace index).

    It runs after the handlers registered for the event's class, so it sees their writes.
    """
    ALL_HANDLERS.append(handler)
    return handler


def table(ddl: str, *indexes: str, clustered: bool = False) -> None:
    """Declare a read-model table (portable DDL) and its indexes; `clustered`: see CLUSTERED."""
    TABLES.append(ddl)
    INDEXES.extend(indexes)
    if clustered:
        CLUSTERED.add(ddl)


def handlers_for(event_class: type) -> list[Handler]:
    """The event class's own handlers, then those for every event."""
    return [*HANDLERS.get(event_class, []), *ALL_HANDLERS]
