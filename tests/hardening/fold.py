"""After load or a crash: every identity of DOMAIN.md holds and the views equal a fresh fold.

Three checks, each independent of the code paths the load went through:
- `tests/support_fold.py`: the log folded afresh into aggregates (no snapshots, no cache); the fund
  identities on them, and every figure of the read models against them;
- the settlement identities the fold helper leaves out (Σ settled ≤ Σ used + Σ clawed back per year;
  each contract settled at most once, counted on the log itself);
- every read-model table, row for row, against a replay of the whole log into empty tables on the
  same backend: views built page by page, by racing processes, across kills, equal views built once.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Iterator


from ledger.persistence import Store, parse_database_url
from projections.storage.store import open_view_store
from tests.servers import scratch_database
from tests.support_fold import Fold, assert_fund_identity, assert_views_match_fold, fold


@contextlib.contextmanager
def scratch_store(like: Store, tmp_dir: Path) -> Iterator[Store]:
    """An empty store on the same backend (a new database on the same PostgreSQL server)."""
    if like.backend == "sqlite":
        yield parse_database_url(f"sqlite:///{tmp_dir}/replay-{uuid.uuid4().hex[:8]}.db")
        return
    admin = f"postgresql://{like.pg_user}:{like.pg_password}@{like.pg_host}:{like.pg_port}/postgres"
    with scratch_database(admin, "vl_replay") as url:
        yield parse_database_url(url)


def table_rows(view_store: Any) -> dict[str, list[tuple]]:
    rows = {}
    for name in view_store.table_names():
        rows[name] = sorted((tuple(sorted((k, repr(v)) for k, v in row.items()))
                             for row in view_store.query(f"SELECT * FROM {name}")))
    return rows


def assert_views_equal_replay(app: Any, views: Any, tmp_dir: Path) -> int:
    """Replay the whole log into empty read models and compare every table row for row."""
    with scratch_store(app.store, tmp_dir) as store:
        replay = open_view_store(store)
        try:
            last = 0
            while page := app.recorder.select_notifications(start=last, limit=500, inclusive_of_start=False):
                replay.apply_page([(app.mapper.to_domain_event(n), n.id) for n in page], app.name, page[-1].id)
                last = page[-1].id
            expected, actual = table_rows(replay), table_rows(views.store)
        finally:
            replay.datastore.close()  # type: ignore[attr-defined]
    differences = []
    for name in expected:
        missing = Counter(expected[name]) - Counter(actual.get(name, []))
        extra = Counter(actual.get(name, [])) - Counter(expected[name])
        if missing or extra:
            differences.append(f"{name}: {sum(missing.values())} rows missing, {sum(extra.values())} rows extra; "
                               f"e.g. missing {list(missing)[:1]} extra {list(extra)[:1]}")
    assert not differences, "the views differ from a replay of the log:\n" + "\n".join(differences)
    return sum(len(rows) for rows in expected.values())


def assert_settlement_identities(app: Any, folded: Fold) -> None:
    """Σ settled ≤ Σ used + Σ clawed back for each year; a contract settled at most once (DOMAIN.md)."""
    settled_events: Counter[str] = Counter()
    last = 0
    while page := app.recorder.select_notifications(start=last, limit=500, inclusive_of_start=False):
        for notification in page:
            if notification.topic.endswith("Contract.Settled"):
                settled_events[str(notification.originator_id)] += 1
        last = page[-1].id
    twice = {cid: n for cid, n in settled_events.items() if n > 1}
    assert not twice, f"contracts settled more than once: {twice}"
    for year in folded.years:
        settled = sum(py.settled_fen for py in folded.provider_years if py.year == year.year)
        vouchers = [v for v in folded.vouchers if v.year == year.year]
        assert settled <= sum(v.used_fen + v.clawed_back_fen for v in vouchers), f"year {year.year}: overpaid"


def check_ledger(app: Any, views: Any, tmp_dir: Path) -> dict[str, Any]:
    """All of the above; answers the figures for the report, and the fold."""
    views.catch_up()
    folded = fold(app)
    assert_fund_identity(folded)
    assert_settlement_identities(app, folded)
    assert_views_match_fold(app, views, folded)
    rows = assert_views_equal_replay(app, views, tmp_dir)
    return {"events": folded.last_position, "vouchers": len(folded.vouchers), "contracts": len(folded.contracts),
            "view_rows": rows, "fold": folded}
