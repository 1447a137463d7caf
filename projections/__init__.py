"""Read models of the voucher fund: built from the event store, never appending events.

All views are one projection with one tracking position (the SQLite recorders share one `tracking`
table per file), applied a page of events per transaction: exactly once, rebuildable from 0.

By job: `views/` the read models (one module per model: its tables, handlers and queries), `audit/`
the canonical record, hash chain, trace index, history, export, verification and party scope,
`storage/` the schema, the read models' store and the bulk reads (the one place that knows the
library's own tables), and `runner.py` the catch-up loop with the one table of read models.
"""
