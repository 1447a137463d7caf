"""Backup and restore (issue 20): `voucher-ledger backup DEST` on a store in use, restored the documented
way (SQLite: the backup's files; PostgreSQL: `pg_restore` into an empty database), keeps the audit chain:
the restored store verifies (`audit/verify`'s check) and its head is the head at the backup, not the
head of what was recorded after it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger.persistence import Store, parse_database_url
from projections.audit import chain
from projections.storage.schema import migrate
from service.bootstrap import open_ledger, open_views
from service.cli import EXIT_UNAVAILABLE, EXIT_USAGE
from tests.conftest import postgres_admin_url
from tests.servers import cli_env, run_cli, scratch_database
from tests.support import BUSINESS_DATE, Scenario


def busy_store(store: Store) -> Any:
    """A migrated store with an open year, vouchers and a signed contract."""
    migrate(store)
    app = open_ledger(store, create_table=False)
    scenario = Scenario(app)
    scenario.open_year()
    provider = scenario.provider()
    product = scenario.product(provider, "diagnosis")
    enterprise, voucher = scenario.holder(("tech_sme",))
    scenario.contract(enterprise, voucher, provider, product, 5_000_000, state="signed")
    return app, scenario


def chain_of(store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    """(head, verification) of a store, its views caught up first, as `GET /audit/verify` computes them."""
    app = open_ledger(store, create_table=False)
    views = open_views(app, create_table=False)
    try:
        views.catch_up()
        return chain.head(views.store), chain.verify(app, views.store)
    finally:
        views.close()
        app.close()


def restore(store: Store, dest: Path, tmp_path: Path) -> Any:
    """The documented restore, yielding the restored store (docs/deployment.md "Backup and restore")."""
    if store.backend == "sqlite":
        target = tmp_path / "restored" / "ledger.db"
        target.parent.mkdir()
        shutil.copy(dest, target)
        shutil.copy(Store(url="", backend="sqlite", sqlite_path=str(dest)).views_sqlite_path,
                    target.parent / "ledger.views.db")
        yield parse_database_url(f"sqlite:///{target}")
        return
    admin = postgres_admin_url()
    assert admin is not None
    with scratch_database(admin, prefix="vl_restored") as url:
        restored = parse_database_url(url)
        env = {**os.environ, "PGPASSWORD": restored.pg_password}
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-h", restored.pg_host, "-p", restored.pg_port,
                        "-U", restored.pg_user, "-d", restored.pg_dbname, str(dest)], env=env, check=True,
                       capture_output=True, timeout=120)
        yield restored


@pytest.mark.slow  # runs the real CLI and pg_restore
def test_a_backup_restores_to_the_same_chain_head(store: Store, tmp_path: Path) -> None:
    app, scenario = busy_store(store)
    try:
        head_before, _ = chain_of(store)
        assert head_before["position"] > 0
        dest = tmp_path / "backups" / "ledger-backup.db"
        dest.parent.mkdir()
        backed = run_cli(cli_env(store.url, BUSINESS_DATE), "backup", str(dest))
        assert json.loads(backed.stdout.strip().splitlines()[-1])["chain_head"] == head_before
        # The ledger goes on after the backup: the restore is the store as it was at the backup.
        scenario.holder(("gazelle",))
        head_after, _ = chain_of(store)
        assert head_after["position"] > head_before["position"]
        # A second backup to the same name is refused, not overwritten.
        again = run_cli(cli_env(store.url, BUSINESS_DATE), "backup", str(dest), check=False)
        assert again.returncode == EXIT_USAGE and "Traceback" not in again.stderr
    finally:
        app.close()

    for restored in restore(store, dest, tmp_path):
        head_restored, verification = chain_of(restored)
        assert head_restored == head_before
        assert verification["ok"] is True and verification["head"] == head_before
        assert verification["checked"] == head_before["position"]


@pytest.mark.slow  # runs the real CLI
@pytest.mark.parametrize("backend", ["postgres"])
def test_a_failing_pg_dump_is_said_in_one_line(store: Store, tmp_path: Path) -> None:
    env = cli_env(store.url, BUSINESS_DATE, LEDGER_PG_DUMP=str(tmp_path / "no-such-pg_dump"))
    result = run_cli(env, "backup", str(tmp_path / "x.dump"), check=False)
    assert result.returncode == EXIT_UNAVAILABLE and "Traceback" not in result.stderr
    assert result.stderr.startswith("备份失败") and "pg_dump" in result.stderr
    assert not (tmp_path / "x.dump").exists()
