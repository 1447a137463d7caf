"""The one place a ledger, its read models and the web app are wired: `serve`, the CLI, the bench and the
tests all open them through these functions, so what runs in tests is what runs in production.

`ledger/` knows no SQL, so what the application needs from the database beyond the library's recorders
is wired here: on PostgreSQL its tables are created under the schema lock (projections/storage/pgschema.py), and
its repository gets the bulk stream reader (projections/storage/streams.py). The schema itself is made by
`migrate` (projections/storage/schema.py); a server opens a migrated store with `create_table=False`.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date, datetime
from typing import Any, Callable

from ledger.application import VoucherLedger
from ledger.business_date import BusinessClock
from ledger.persistence import Store, parse_database_url
from projections.storage import logentries, streams, turns
from projections.storage.pgschema import schema_lock
from projections.runner import Views


def open_ledger(store: Store | None = None, *, create_table: bool = True,
                clock: Callable[[], date] | None = None, now: Callable[[], datetime] | None = None,
                application: type[VoucherLedger] = VoucherLedger) -> VoucherLedger:
    """The application on `store` (LEDGER_DATABASE_URL by default), wired for its backend.

    Its business date is Beijing's, or LEDGER_BUSINESS_DATE's when set (ledger/business_date.py), unless
    `clock` is given (tests pin it); `now`, the instant clock (token expiry), is UTC's unless given. `create_table` is for tests and scripts on a store of their own; a
    server opens a migrated store without it. `application` lets a test run a subclass of the ledger.
    """
    store = store or parse_database_url()
    creating = create_table and store.backend == "postgres"
    with schema_lock(store.url) if creating else nullcontext():
        app = application.for_store(store, create_table=create_table,
                                    clock=clock or BusinessClock.from_environ(), now=now)
    streams.install(app)  # bulk loads for the year close (projections/storage/streams.py)
    turns.install(app)  # exclusive commands take turns across processes (projections/storage/turns.py)
    logentries.install(app)  # the cache's log check reads positions only (projections/storage/logentries.py)
    return app


def open_views(ledger: VoucherLedger, *, create_table: bool = True) -> Views:
    """The read models of `ledger`'s store (not yet caught up; the caller polls or catches up)."""
    return Views(ledger, create_table=create_table)


def build_app(ledger: VoucherLedger, views: Views, test_config: dict[str, Any] | None = None) -> Any:
    """The Flask app serving `ledger` and its `views` (web/__init__.py)."""
    from web import create_app

    return create_app(test_config, ledger=ledger, views=views)
