"""Issue 19: no console page grows without bound as the year grows (real headless Chromium, real server).

The store is a generated year (bench/generate.py at scale 0.002: 40 enterprises, 4 providers with about
100 contracts each, a provider's year of some 1,800 trace steps, a batch paying some 350 contracts), so
the busiest provider and enterprise have many contracts and long traces. Each page the bench measures
(bench/pages.py) is opened as an auditor and as the party itself, at 1280 and 390 px wide, and must stay
under 10,000 px, with at most a page of rows in each table and of steps in a trace; the rest is behind
更多 / 展开全部. No wall-clock assertion: the bench measures time (`scripts/bench --pages-only`).

SQLite only: the heights are the console's, not the store's (the bench's page stage runs on both).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Iterator

import pytest

from tests.browser.conftest import require_chromium

pytestmark = pytest.mark.slow

SCALE = 0.002
MAX_HEIGHT_PX = 10_000
MAX_ROWS = 50  # VL.PAGE_SIZE: a table shows a page of rows, then 更多
MAX_STEPS = 15  # trace.js TRACE_PAGE

VISIBLE_ROWS = """return [...document.querySelectorAll("#vl-main table")].map(
  (t) => [...t.querySelectorAll("tbody tr")].filter((r) => r.offsetParent !== null).length);"""


@pytest.fixture(scope="module")
def busy_year() -> Iterator[dict[str, Any]]:
    """A generated year on SQLite and `voucher-ledger serve` on it, with tokens issued through the ledger."""
    require_chromium()
    from bench import generate
    from bench.http_bench import Tokens
    from bench.material import Material
    from bench.plan import Plan, Sizes
    from bench.server import Server
    from bench.world import Driver
    from ledger.business_date import BusinessClock
    from ledger.persistence import parse_database_url
    from service.bootstrap import open_ledger

    workdir = tempfile.mkdtemp(prefix="vl-busy-year-")
    store = parse_database_url(f"sqlite:///{workdir}/ledger.db")
    app = open_ledger(store)
    try:
        year = BusinessClock.from_environ()().year
        world, _ = generate.generate(app, Sizes.at(SCALE), year, seed=7)
        tokens = Tokens(Material(Driver(app, world), Plan(8)))
        access = os.path.join(workdir, "access.log")
        with Server(store.url, os.path.join(workdir, "server.log"), access_log=access) as server:
            yield {"world": world, "tokens": tokens, "base_url": f"http://127.0.0.1:{server.port}"}
    finally:
        app.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_no_page_of_a_busy_year_grows_past_10000_px_or_a_page_of_rows(busy_year: dict[str, Any]) -> None:
    import json

    from bench import pages
    from bench.server import Client

    world, tokens = busy_year["world"], busy_year["tokens"]
    port = int(busy_year["base_url"].rsplit(":", 1)[1])
    client = Client(port)
    try:
        batch = pages.busiest_batch(client, world, tokens("auditor"))
        plan = pages.plan(world, batch)
        subjects = {role: pages.subject_of(plan, role) for role in ("provider", "enterprise")}
        browser = pages.Browser(busy_year["base_url"])
        try:
            seen: dict[str, Any] = {}
            for role in ("auditor", "provider", "enterprise"):
                token = tokens(role, subjects.get(role))
                me = json.loads(client.get("/api/v1/me", token=token)[1])
                browser.sign_in(token, {"role": me["role"], "id": me["id"], "subject": me.get("subject")})
                for page in plan:
                    if role not in page.roles:
                        continue
                    for width in pages.WIDTHS:
                        browser.viewport(width)
                        shape = browser.load(page.path)
                        where = f"{page.name} as {role} at {width} px"
                        assert not shape["forbidden"] and not shape["failed"] and not shape.get("timeout"), (where, shape)
                        assert shape["height"] <= MAX_HEIGHT_PX, (where, shape["height"])
                        rows = browser.driver.execute_script(VISIBLE_ROWS)
                        assert all(count <= MAX_ROWS for count in rows), (where, rows)
                        assert shape["steps"] <= MAX_STEPS, (where, shape["steps"])
                        seen[where] = (shape["height"], rows, shape["steps"])
        finally:
            browser.close()
    finally:
        client.close()
    # The year is busy enough to need the bounds: a long trace drew only its first page, with 更多 for the rest.
    assert seen["trace_provider as auditor at 390 px"][2] == MAX_STEPS
    assert seen["notice_payment as auditor at 1280 px"][1][0] == MAX_ROWS  # hundreds of lines, 50 on screen
    assert len(seen) >= 2 * 16

