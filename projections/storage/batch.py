"""Write-behind for one page of events: many events' row changes, few statements (issue 7).

Handlers describe row changes instead of sending SQL: insert a row, set columns, add to counters,
accumulate into an upserted row. The changes are merged per row in memory and written when the
page ends — one batch per table and shape of change — in the page's own transaction, before its
tracking row, so every event is still applied exactly once. `row()` answers a row as it stands
with the page's pending changes, reading the table at most once per row and page.

Plain statements stay correct: before `Db.execute/one/all/executemany` runs a statement, the
pending changes of every table the statement names are written first, so a handler that still
speaks SQL sees exactly what it would have seen had every change been written at once. (Our
tables have no triggers, views or foreign keys, so a statement touches only the tables it names.)
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

# Below this many rows an insert goes in the pipeline with everything else rather than by COPY.
COPY_MIN_ROWS = 50
# Facts kept per kind in the store's process-wide memo before it starts afresh.
FACT_LIMIT = 200_000

# A plain insert of one row of placeholders, nothing after it (no ON CONFLICT): what COPY can do.
_PLAIN_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(?P<table>\w+)\s*\((?P<columns>[\w\s,]+)\)\s*"
                           r"VALUES\s*\((?:\s*\?\s*,)*\s*\?\s*\)\s*$", re.IGNORECASE)
_TABLE_NAME = re.compile(r"\b(vl_[a-z0-9_]+)\b")
_MENTIONS: dict[str, frozenset[str]] = {}


def tables_named(statement: str) -> frozenset[str]:
    """The read-model tables a statement names (ours all start with `vl_`)."""
    found = _MENTIONS.get(statement)
    if found is None:
        found = frozenset(_TABLE_NAME.findall(statement))
        if len(_MENTIONS) < 4_096:  # statements are a small fixed set; guard against unbounded ones
            _MENTIONS[statement] = found
    return found


class _Row:
    """One row's pending change: a new row, or columns set and counters added to an existing one."""

    __slots__ = ("inserted", "loaded", "sets", "adds")

    def __init__(self) -> None:
        self.inserted: dict[str, Any] | None = None
        self.loaded: dict[str, Any] | None = None  # the row as read this page, with pending changes applied
        self.sets: dict[str, Any] = {}
        self.adds: dict[str, int] = {}


class PageWrites:
    """The pending row changes of one page, per table."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.rows: dict[str, dict[Any, _Row]] = {}
        self.key_column: dict[str, str] = {}
        self.absent: dict[str, set[Any]] = {}  # keys read this page and not found
        self.accumulated: dict[str, dict[tuple, dict[str, int]]] = {}
        self.accumulate_keys: dict[str, tuple[str, ...]] = {}

    # --- describing changes ---------------------------------------------------------------------

    def _state(self, table: str, key_column: str, key: Any) -> _Row:
        if self.key_column.setdefault(table, key_column) != key_column:
            # Another key for the same table this page: write what is pending, then track the new key.
            self.flush_table(table)
            self.key_column[table] = key_column
        rows = self.rows.setdefault(table, {})
        state = rows.get(key)
        if state is None:
            state = rows[key] = _Row()
        return state

    def insert(self, table: str, key_column: str, row: dict[str, Any]) -> None:
        key = row[key_column]
        state = self._state(table, key_column, key)
        if state.inserted is not None or state.sets or state.adds or state.loaded is not None:
            # Unusual order (a change before the insert): keep it exact by writing the earlier one first.
            self.flush_table(table)
            state = self._state(table, key_column, key)
        state.inserted = dict(row)
        self.absent.get(table, set()).discard(key)

    def update(self, table: str, key_column: str, key: Any, values: dict[str, Any]) -> None:
        state = self._state(table, key_column, key)
        if state.inserted is not None:
            state.inserted.update(values)
            return
        for column, value in values.items():
            state.sets[column] = value
            state.adds.pop(column, None)
        if state.loaded is not None:
            state.loaded.update(values)

    def add(self, table: str, key_column: str, key: Any, deltas: dict[str, int]) -> None:
        state = self._state(table, key_column, key)
        if state.inserted is not None:
            for column, delta in deltas.items():
                state.inserted[column] += delta
            return
        for column, delta in deltas.items():
            if column in state.sets:
                state.sets[column] += delta
            else:
                state.adds[column] = state.adds.get(column, 0) + delta
            if state.loaded is not None:
                state.loaded[column] += delta

    def accumulate(self, table: str, keys: dict[str, Any], deltas: dict[str, int]) -> None:
        """Add to counters of the row with these keys, creating it (counters from 0) if it is new."""
        columns = tuple(keys)
        if self.accumulate_keys.setdefault(table, columns) != columns:
            self.flush_table(table)
            self.accumulate_keys[table] = columns
        pending = self.accumulated.setdefault(table, {}).setdefault(tuple(keys.values()), {})
        for column, delta in deltas.items():
            pending[column] = pending.get(column, 0) + delta

    def row(self, table: str, key_column: str, key: Any) -> dict[str, Any] | None:
        """The row as it stands with this page's changes (read from the table at most once a page)."""
        if table in self.accumulated:
            self.flush_table(table)
        if self.key_column.get(table, key_column) != key_column:
            self.flush_table(table)
        state = self.rows.get(table, {}).get(key)
        if state is not None and state.inserted is not None:
            return state.inserted
        if state is not None and state.loaded is not None:
            return state.loaded
        if key in self.absent.get(table, ()):
            return None
        self.cursor.execute(self._sql(f"SELECT * FROM {table} WHERE {key_column} = ?"), (key,))
        found = self.cursor.fetchone()
        if found is None:
            self.absent.setdefault(table, set()).add(key)
            return None
        loaded = dict(found)
        if state is None:
            state = self._state(table, key_column, key)
        loaded.update(state.sets)
        for column, delta in state.adds.items():
            loaded[column] += delta
        state.loaded = loaded
        return loaded

    # --- writing ----------------------------------------------------------------------------------

    def before(self, statement: str) -> None:
        """Write what is pending for the tables a plain statement names, before it runs."""
        if not (self.rows or self.accumulated or self.absent):
            return
        for table in tables_named(statement):
            if table in self.rows or table in self.accumulated or table in self.absent:
                self.flush_table(table)

    def flush(self, deferred: dict[str, list[tuple]] | None = None,
              then: Callable[[Any], None] | None = None) -> None:
        """Write everything pending, then run `then(cursor)` (the tracking row), in few round trips.

        On PostgreSQL, large plain inserts go by COPY first; every other statement, and `then`, is
        sent in one pipeline, so a small page (one command's events) costs one round trip to write.
        `then` gets a cursor of its own: in pipeline mode a cursor that sent earlier statements may
        still be handed their results when `then` fetches its own.
        """
        operations = [op for table in [*self.rows, *(t for t in self.accumulated if t not in self.rows)]
                      for op in self._operations(table)]
        operations += [(statement, rows) for statement, rows in (deferred or {}).items() if rows]
        if self.dialect != "postgres":
            for statement, rows in operations:
                self.write(statement, rows)
            if then is not None:
                then(self.cursor)
            return
        rest = []
        for statement, rows in operations:
            if len(rows) >= COPY_MIN_ROWS and _PLAIN_INSERT.match(statement):
                self.write(statement, rows)
            else:
                rest.append((statement, rows))
        with self.cursor.connection.pipeline():
            for statement, rows in rest:
                self.cursor.executemany(self._sql(statement), rows)
            if then is not None:
                then(self.cursor.connection.cursor())

    def flush_table(self, table: str) -> None:
        for statement, rows in self._operations(table):
            self.write(statement, rows)

    def _operations(self, table: str) -> list[tuple[str, list[tuple]]]:
        """The statements (and their rows) that write a table's pending changes; forgets them."""
        operations: list[tuple[str, list[tuple]]] = []
        rows = self.rows.pop(table, {})
        key_column = self.key_column.pop(table, None)
        self.absent.pop(table, None)
        inserts: dict[tuple[str, ...], list[tuple]] = {}
        updates: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple]] = {}
        for key, state in rows.items():
            if state.inserted is not None:
                columns = tuple(state.inserted)
                inserts.setdefault(columns, []).append(tuple(state.inserted.values()))
            elif state.sets or state.adds:
                shape = (tuple(state.sets), tuple(state.adds))
                updates.setdefault(shape, []).append((*state.sets.values(), *state.adds.values(), key))
        for columns, values in inserts.items():
            operations.append(
                (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values))
        for (sets, adds), values in updates.items():
            assignments = [f"{c} = ?" for c in sets] + [f"{c} = {c} + ?" for c in adds]
            operations.append((f"UPDATE {table} SET {', '.join(assignments)} WHERE {key_column} = ?", values))
        accumulated = self.accumulated.pop(table, None)
        if accumulated:
            keys = self.accumulate_keys.pop(table)
            shapes: dict[tuple[str, ...], list[tuple]] = {}
            for key_values, deltas in accumulated.items():
                shapes.setdefault(tuple(deltas), []).append((*key_values, *deltas.values()))
            for counters, values in shapes.items():
                columns = (*keys, *counters)
                sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
                operations.append((f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                                   f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}", values))
        return operations

    def write(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement for many rows: COPY on PostgreSQL when it is a plain insert of several rows."""
        if not rows:
            return
        match = _PLAIN_INSERT.match(statement) if self.dialect == "postgres" and len(rows) > 1 else None
        if match is None:
            self.cursor.executemany(self._sql(statement), [tuple(r) for r in rows])
            return
        # COPY streams the rows in one command: no statement per row, no query text to parse per batch.
        with self.cursor.copy(f"COPY {match['table']} ({match['columns']}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _sql(self, statement: str) -> str:
        return statement if self.dialect == "sqlite" else statement.replace("?", "%s")


def remembered(memo: dict[str, Any], kind: str, key: Any, load: Callable[[], Any]) -> Any:
    """A fact that never changes once written (a voucher's year), from the process-wide memo."""
    facts = memo.setdefault(f"fact:{kind}", {})
    if key in facts:
        return facts[key]
    value = load()
    if value is not None:
        if len(facts) >= FACT_LIMIT:
            facts.clear()
        facts[key] = value
    return value


def remember(memo: dict[str, Any], kind: str, key: Any, value: Any) -> None:
    facts = memo.setdefault(f"fact:{kind}", {})
    if len(facts) >= FACT_LIMIT:
        facts.clear()
    facts[key] = value

