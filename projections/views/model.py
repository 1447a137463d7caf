"""What a read model declares: its tables (portable DDL) and indexes, and its handlers.

Each view module (and the audit's chain, trace index and history) makes one `ReadModel` and
declares on it; nothing is registered by importing a module. The runner lists the models in one
table (`projections/runner.py`, `READ_MODELS`), in the order their handlers run, and a `Registry`
built from it is what the read models' store applies and creates.

A handler is `handler(db, event, position)`; `db.execute` takes `?` placeholders on both backends.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ledger import errors

Handler = Callable[[Any, Any, int], None]


def found(row: dict[str, Any] | None, what: str, key: object) -> dict[str, Any]:
    """The row a query looked up, or NotFound naming what was asked for."""
    if row is None:
        raise errors.NotFound(f"no {what} {key}", {"id": str(key)})
    return row


class ReadModel:
    """One read model's tables, indexes and handlers, in the order they are declared."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tables: list[str] = []
        self.indexes: list[str] = []
        # Tables stored in their primary key's order where the backend can (SQLite's WITHOUT ROWID): the
        # append-only indexes of every event (trace, chain, history), whose rows are small and read by key range.
        self.clustered: set[str] = set()
        self.handlers: list[tuple[tuple[type, ...], Handler]] = []  # () for every event

    def table(self, ddl: str, *indexes: str, clustered: bool = False) -> None:
        """Declare a table (portable DDL) and its indexes; `clustered`: see `clustered`."""
        self.tables.append(ddl)
        self.indexes.extend(indexes)
        if clustered:
            self.clustered.add(ddl)

    def handles(self, *event_classes: type) -> Callable[[Handler], Handler]:
        """Declare a handler for these event classes (exact types, as stored)."""

        def declare(handler: Handler) -> Handler:
            self.handlers.append((event_classes, handler))
            return handler

        return declare

    def handles_all(self, handler: Handler) -> Handler:
        """Declare a handler for every event, whatever its class (the audit chain, the trace index).

        It runs after the handlers declared for the event's class, so it sees their writes.
        """
        self.handlers.append(((), handler))
        return handler


class Registry:
    """The handlers and tables of a table of read models, in the table's order."""

    def __init__(self, models: Iterable[ReadModel]) -> None:
        self.models = tuple(models)
        self.tables = [ddl for model in self.models for ddl in model.tables]
        self.indexes = [ddl for model in self.models for ddl in model.indexes]
        self.clustered = {ddl for model in self.models for ddl in model.clustered}
        self._own: dict[type, list[Handler]] = {}
        self._all: list[Handler] = []  # run for every event, after the event class's own handlers
        for model in self.models:
            for event_classes, handler in model.handlers:
                if not event_classes:
                    self._all.append(handler)
                for event_class in event_classes:
                    self._own.setdefault(event_class, []).append(handler)

    def handlers_for(self, event_class: type) -> list[Handler]:
        """The event class's own handlers, then those for every event."""
        return [*self._own.get(event_class, []), *self._all]
