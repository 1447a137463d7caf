"""LEDGER_DATABASE_URL → the eventsourcing library's own recorders (SQLite or PostgreSQL).

`sqlite:///PATH` (the default: `ledger.db` under the working directory; `sqlite:////abs/path` for an
absolute path) or `postgresql://USER:PASS@HOST:PORT/DB`. Read models live beside the events: on
PostgreSQL in the same database; on SQLite in a sibling file `<name>.views.db`, so that the single
SQLite writer lock is not shared between commands and projections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///ledger.db"


def postgres_timeout(name: str, default: int) -> int:
    """A timeout in whole seconds from the environment (README "Timeouts"); 0 turns a statement timeout off."""
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number of seconds, not {raw!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative")
    return value


class ConfigurationError(ValueError):
    """Raised when LEDGER_DATABASE_URL is not a URL this ledger can use."""


@dataclass(frozen=True)
class Store:
    """Where the events and the read models live."""

    url: str
    backend: str  # "sqlite" | "postgres"
    sqlite_path: str | None = None
    pg_host: str = ""
    pg_port: str = "5432"
    pg_user: str = ""
    pg_password: str = ""
    pg_dbname: str = ""

    @property
    def views_sqlite_path(self) -> str:
        assert self.sqlite_path is not None
        root, ext = os.path.splitext(self.sqlite_path)
        return f"{root}.views{ext or '.db'}"

    def event_store_env(self, create_table: bool = True) -> dict[str, str]:
        """Environment for the application's recorder."""
        env = {"CREATE_TABLE": "y" if create_table else "n"}
        if self.backend == "sqlite":
            env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=self.sqlite_path or "",
                       SQLITE_LOCK_TIMEOUT="30")
        else:
            env.update(self._postgres_env())
        return env

    def views_env(self, create_table: bool = True) -> dict[str, str]:
        """Environment for the read models' tracking recorder."""
        env = {"CREATE_TABLE": "y" if create_table else "n"}
        if self.backend == "sqlite":
            env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=self.views_sqlite_path,
                       SQLITE_LOCK_TIMEOUT="30")
        else:
            env.update(self._postgres_env())
        return env

    def _postgres_env(self) -> dict[str, str]:
        return {
            # The library's PostgreSQL factory with every database call bounded in time (README "Timeouts"):
            # a connect and a statement timeout, and fail-fast while the database is unreachable.
            "PERSISTENCE_MODULE": "projections.storage.pgschema:BoundedPostgresFactory",
            "POSTGRES_DBNAME": self.pg_dbname,
            "POSTGRES_HOST": self.pg_host,
            "POSTGRES_PORT": self.pg_port,
            "POSTGRES_USER": self.pg_user,
            "POSTGRES_PASSWORD": self.pg_password,
            "POSTGRES_POOL_SIZE": os.environ.get("LEDGER_POSTGRES_POOL_SIZE", "4"),
            "POSTGRES_MAX_OVERFLOW": os.environ.get("LEDGER_POSTGRES_MAX_OVERFLOW", "8"),
            # Also how long a request waits for a pooled connection while the database is away,
            # before it is answered 503 (web/errors.py).
            "POSTGRES_CONNECT_TIMEOUT": str(postgres_timeout("LEDGER_POSTGRES_CONNECT_TIMEOUT", 3)),
            # No ping round trip before every statement: it doubled the round trips of a command
            # (issue 7). A connection the server dropped fails its statement instead, and the
            # library's recorders retry such OperationalErrors on a fresh connection from the pool.
            "POSTGRES_PRE_PING": os.environ.get("LEDGER_POSTGRES_PRE_PING", "n"),
            "POSTGRES_LOCK_TIMEOUT": "10",
            # Read by BoundedPostgresFactory (projections/storage/pgschema.py).
            "LEDGER_CONNECT_TIMEOUT": str(postgres_timeout("LEDGER_POSTGRES_CONNECT_TIMEOUT", 3)),
            "LEDGER_STATEMENT_TIMEOUT": str(postgres_timeout("LEDGER_POSTGRES_STATEMENT_TIMEOUT", 30)),
            "LEDGER_FAIL_FAST": str(postgres_timeout("LEDGER_POSTGRES_FAIL_FAST_SECONDS", 5)),
        }


def parse_database_url(url: str | None = None) -> Store:
    """Interpret LEDGER_DATABASE_URL (or the given URL)."""
    url = url or os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path:
            raise ConfigurationError("sqlite URL needs a file path: sqlite:///ledger.db")
        return Store(url=url, backend="sqlite", sqlite_path=path)
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not (parts.hostname and dbname):
            raise ConfigurationError("postgresql URL needs a host and a database: postgresql://USER:PASS@HOST:PORT/DB")
        return Store(
            url=url,
            backend="postgres",
            pg_host=parts.hostname,
            pg_port=str(parts.port or 5432),
            pg_user=unquote(parts.username or ""),
            pg_password=unquote(parts.password or ""),
            pg_dbname=dbname,
        )
    raise ConfigurationError(f"unsupported LEDGER_DATABASE_URL scheme: {parts.scheme or url!r}")
