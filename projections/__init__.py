"""Read models of the voucher fund: built from the event store, never appending events.

All views are one projection with one tracking position (the SQLite recorders share one `tracking`
table per file), applied a page of events per transaction: exactly once, rebuildable from 0.
"""
