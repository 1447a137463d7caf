"""The bench says what one commit paid for (issue 7): its floor is only comparable with a server
whose commits are as durable as production's, and the report records which it measured."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench.floor import durability
from ledger.persistence import parse_database_url
from service.bootstrap import open_ledger
from tests.hardening.processes import PostgresCluster

pytestmark = pytest.mark.slow  # generates and measures a year (scripts/test --fast skips it)


@pytest.mark.postgres
def test_start_postgres_durable_keeps_production_commits_and_the_test_cluster_does_not() -> None:
    clusters = {kind: PostgresCluster(Path(tempfile.mkdtemp(prefix=f"vld{kind[0]}-", dir="/tmp")))
                for kind in ("durable", "throwaway")}
    try:
        durable = durability(parse_database_url(clusters["durable"].start(durable=True).url))
        throwaway = durability(parse_database_url(clusters["throwaway"].start().url))
    finally:
        for cluster in clusters.values():
            cluster.destroy()
    assert durable == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on", "durable": True}
    assert throwaway == {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "durable": False}


def test_sqlite_store_is_measured_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    store = parse_database_url(f"sqlite:///{tmp_path}/ledger.db")
    app = open_ledger(store)
    try:
        assert durability(store) == {"journal_mode": "wal", "synchronous": "full", "durable": True}
    finally:
        app.close()
