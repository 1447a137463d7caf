"""Schema version 3 (projections/storage/schema.py): `migrate` adds the index vl_contracts (year, status) that
the year-end warning reads (issue 19), to new stores and to stores at version 2."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import pytest

from projections.storage.schema import SCHEMA_VERSION, VERSION_TABLE, migrate, schema_version

INDEX = "vl_contracts_year_status"


def _sql(store: Any, statement: str, views: bool = True) -> list[Any]:
    """Run a statement on the read models' database (on SQLite a sibling file) or, `views=False`, the events'."""
    if store.backend == "sqlite":
        with closing(sqlite3.connect(store.views_sqlite_path if views else store.sqlite_path)) as conn, conn:
            return conn.execute(statement).fetchall()
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def _has_index(store: Any) -> bool:
    if store.backend == "sqlite":
        return bool(_sql(store, f"SELECT name FROM sqlite_master WHERE type = 'index' AND name = '{INDEX}'"))
    return _sql(store, f"SELECT to_regclass('{INDEX}')")[0][0] is not None


def test_migrate_creates_the_year_status_index_on_a_new_store(store):
    assert migrate(store) == (0, SCHEMA_VERSION) == (0, 4)
    assert _has_index(store)


def test_migrate_upgrades_a_version_2_store_with_the_year_status_index(store):
    migrate(store)
    _sql(store, f"DROP INDEX {INDEX}")
    _sql(store, f"UPDATE {VERSION_TABLE} SET version = 2", views=False)
    assert not _has_index(store)
    assert migrate(store) == (2, 4)
    assert _has_index(store) and schema_version(store) == 4
    assert migrate(store) == (4, 4)  # already current: left alone


def test_the_year_end_warning_reads_the_year_status_index(store):
    if store.backend != "sqlite":
        pytest.skip("PostgreSQL's planner may rightly scan a table this small")
    migrate(store)
    plan = " ".join(str(row) for row in _sql(
        store, "EXPLAIN QUERY PLAN SELECT contract_id FROM vl_contracts WHERE year = 2026 "
               "AND status IN ('signed', 'active')"))
    assert INDEX in plan, plan
