"""A fresh process warms its aggregate cache from the read models (projections/storage/warmup.py, issue 7)."""

from __future__ import annotations

from ledger.domain.provider_year import ProviderYear
from ledger.domain.year import Year
from projections.runner import Views
from projections.storage import streams
from projections.storage.warmup import warm_cache
from service.bootstrap import open_ledger
from tests.support import YEAR


def test_a_fresh_process_warms_the_year_and_every_providers_year_from_the_read_models(store, scenario, views,
                                                                                         clock) -> None:
    scenario.open_year()
    scenario.open_year(YEAR + 1)
    providers = [scenario.provider() for _ in range(3)]
    later = scenario.provider(signed_for=YEAR + 1)
    holder, voucher_id = scenario.holder()
    product = scenario.product(providers[0])
    scenario.contract(holder, voucher_id, providers[0], product, 3_000_000, state="signed")
    views.catch_up()

    fresh = open_ledger(store, clock=clock)  # what `serve` builds on start
    streams.install(fresh)
    fresh_views = Views(fresh)
    try:
        cached = warm_cache(fresh, fresh_views.store, YEAR)
        hot = [Year.create_id(YEAR), *(ProviderYear.create_id(code, YEAR) for code in providers)]
        assert cached == len(hot) == 4
        for aggregate_id in hot:
            version, _ = fresh.repository.pickled.get(aggregate_id)
            assert version == scenario.app.repository.get(aggregate_id).version
        # Another year's streams stay out: the cache is for what this year's commands touch.
        assert fresh.repository.pickled.get(ProviderYear.create_id(later, YEAR + 1)) is None
        assert fresh.repository.pickled.get(Year.create_id(YEAR + 1)) is None
    finally:
        fresh_views.close()
        fresh.close()


def test_warming_a_year_nobody_opened_caches_nothing_and_does_not_fail(store, views, clock) -> None:
    fresh = open_ledger(store, clock=clock)
    try:
        assert warm_cache(fresh, views.store, YEAR) == 0
    finally:
        fresh.close()

