"""How the composition roots (`voucher-ledger`, the web app, the bench) open the ledger on a store.

`ledger/` knows no SQL, so what the application needs from the database beyond the library's
recorders is wired here: on PostgreSQL its tables are created under the schema lock
(projections/pgschema.py), and its repository gets the bulk stream reader (projections/streams.py).
"""

from __future__ import annotations

from contextlib import nullcontext

from ledger.application import VoucherLedger
from ledger.business_date import BusinessClock
from ledger.persistence import Store, parse_database_url
from projections import streams
from projections.pgschema import schema_lock


def open_ledger(store: Store | None = None, *, create_table: bool = True) -> VoucherLedger:
    """The application on `store` (LEDGER_DATABASE_URL by default), wired for its backend.

    Its business date is Beijing's, or LEDGER_BUSINESS_DATE's when set (ledger/business_date.py).
    """
    store = store or parse_database_url()
    creating = create_table and store.backend == "postgres"
    with schema_lock(store.url) if creating else nullcontext():
        app = VoucherLedger.for_store(store, create_table=create_table, clock=BusinessClock.from_environ())
    streams.install(app)
    return app
