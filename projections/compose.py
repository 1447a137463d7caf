"""How the composition roots (`voucher-ledger`, the web app, the bench) open the ledger on a store.

`ledger/` knows no SQL, so what the application needs from the database beyond the library's
recorders is wired here: on PostgreSQL its tables are created under the schema lock
(projections/storage/pgschema.py), and its repository gets the bulk stream reader (projections/storage/streams.py).

The schema (events, snapshots, read models) is made by one step, `migrate` (projections/storage/schema.py,
re-exported here); a server checks the recorded version (`require_current_schema`) and never runs DDL.
"""

from __future__ import annotations

from contextlib import nullcontext

from ledger.application import VoucherLedger
from ledger.business_date import BusinessClock
from ledger.persistence import Store, parse_database_url
from projections.storage import streams
from projections.storage.pgschema import schema_lock
from projections.storage.schema import (  # noqa: F401  (re-exported for the composition roots)
    SCHEMA_VERSION, VERSION_TABLE, SchemaNotCurrent, migrate, require_current_schema, schema_version,
)


def open_ledger(store: Store | None = None, *, create_table: bool = True) -> VoucherLedger:
    """The application on `store` (LEDGER_DATABASE_URL by default), wired for its backend.

    Its business date is Beijing's, or LEDGER_BUSINESS_DATE's when set (ledger/business_date.py).
    `create_table` is for tests and scripts on a store of their own; a server opens a migrated store
    without it (`require_current_schema`, `migrate`: projections/storage/schema.py).
    """
    store = store or parse_database_url()
    creating = create_table and store.backend == "postgres"
    with schema_lock(store.url) if creating else nullcontext():
        app = VoucherLedger.for_store(store, create_table=create_table, clock=BusinessClock.from_environ())
    streams.install(app)
    return app
