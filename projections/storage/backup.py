"""Backups of a live store (`voucher-ledger backup DEST`), taken while servers run.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies the events' file to DEST and the read
models' file to DEST's sibling `<name>.views.db` (the same naming rule as the store's), each a consistent
snapshot; the read models are copied after the events, so they are never ahead of the events they came
from (a restored store catches them up at start). Restore: stop the servers, put both files back (or point
LEDGER_DATABASE_URL at them) and start again.

PostgreSQL: `pg_dump -Fc` of the whole database (events, snapshots, read models, the schema version),
one consistent snapshot. Restore into an empty database with `pg_restore --no-owner -d DB DEST`
(docs/deployment.md). `pg_dump` is taken from PATH, or LEDGER_PG_DUMP; its major version must not be
older than the server's.

A file is written as DEST.partial and renamed when complete: an interrupted backup never looks whole.
An existing DEST is refused rather than overwritten.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing

from ledger.persistence import Store


class BackupFailed(RuntimeError):
    """Raised when the backup tool could not copy the store (its own message says why)."""


def backup_paths(store: Store, dest: str) -> list[str]:
    """The files a backup of `store` writes: DEST, and on SQLite the read models' sibling of DEST."""
    if store.backend == "sqlite":
        return [dest, Store(url=f"sqlite:///{dest}", backend="sqlite", sqlite_path=dest).views_sqlite_path]
    return [dest]


def backup(store: Store, dest: str) -> list[str]:
    """Copy the store to `dest` (see the module's docstring); the files written."""
    targets = backup_paths(store, dest)
    for target in targets:
        if os.path.exists(target):
            raise FileExistsError(17, "the backup file exists already; choose a new name", target)
    if store.backend == "sqlite":
        assert store.sqlite_path is not None
        for source, target in zip((store.sqlite_path, store.views_sqlite_path), targets):
            _sqlite_backup(source, target)
    else:
        _pg_dump(store, dest)
    return targets


def _sqlite_backup(source: str, target: str) -> None:
    partial = f"{target}.partial"
    with closing(sqlite3.connect(source, timeout=30)) as src, \
            closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)  # the whole file in one step, under a read transaction: a consistent snapshot
    os.replace(partial, target)


def _pg_dump(store: Store, dest: str) -> None:
    tool = os.environ.get("LEDGER_PG_DUMP") or shutil.which("pg_dump")
    if not tool or not os.access(tool, os.X_OK):
        raise BackupFailed(f"pg_dump not found ({tool or 'PATH'}): install the PostgreSQL client tools or set "
                           "LEDGER_PG_DUMP")
    partial = f"{dest}.partial"
    env = {**os.environ, "PGPASSWORD": store.pg_password, "PGCONNECT_TIMEOUT": "10"}
    command = [tool, "--format=custom", "--no-password", "--file", partial, "--host", store.pg_host,
               "--port", store.pg_port, "--username", store.pg_user, "--dbname", store.pg_dbname]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        if os.path.exists(partial):
            os.remove(partial)
        raise BackupFailed(f"pg_dump exited {done.returncode}: {done.stderr.strip()}")
    os.replace(partial, dest)
