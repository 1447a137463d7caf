"""Warming a fresh process's aggregate cache with the year's providers' years (issue 7).

Every signature saves the provider's year with the contract and the voucher (the annual cap, Art. 10),
so the providers' years are what a command most often finds uncached after a restart: each is a
snapshot and up to 99 events to replay (ProviderYear snapshots every 100), about 2 ms on PostgreSQL, once
its snapshot is checked; warming reads each stream whole and checks its snapshot (ledger/cache.py).
At design size 2,000 of them load ahead in a few bulk statements (`projections/storage/streams.py`) in about
two seconds of start-up; on SQLite they load one by one, in-process. The read models say which exist;
a year the read models do not know yet is simply not warmed.
"""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.year import Year
from projections.storage.store import ViewStore

# Streams per bulk read. A thousand at once (the year close's chunk) decoded at design size raised the
# server's peak memory by 100 MB, which it keeps; a hundred by 23 MB (11 MB of it the cache), as fast.
WARM_CHUNK = 100


def warm_cache(app: Any, store: ViewStore, year: int) -> int:
    """Load the year and its providers' years into the application's cache; return how many are cached."""
    cache = app.repository.pickled
    if cache is None:
        return 0
    rows = store.query("SELECT stream_id FROM vl_provider_years WHERE year = ?", [year])
    hot = [Year.create_id(year), *(UUID(row["stream_id"]) for row in rows)]
    for start in range(0, len(hot), WARM_CHUNK):
        app.repository.prefetch(hot[start:start + WARM_CHUNK])
    for aggregate_id in hot:
        if cache.get(aggregate_id) is None:  # no bulk reader (SQLite), or the year is not opened
            with contextlib.suppress(AggregateNotFoundError):
                app.repository.get(aggregate_id)
    return sum(1 for aggregate_id in hot if cache.get(aggregate_id) is not None)
