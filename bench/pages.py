"""The console's pages at the bench's scale (issue 19): server time, load time and height of each page.

Issue 19 is done when, at scale 0.1, every list page answers under 300 ms and no page is over 10,000 px
tall. For each console page (web/console/__init__.py and its templates) and each role that may open it,
a real headless Chromium (tests/browser/chromium.py) signs in as that role and loads the page on the
generated year; the stage records

- the page's load time: from navigation start to the end of its last API response once the page is
  quiet (no request in flight), over `repetitions` loads, p50/p95/max;
- every API request the page made, each replayed `api_repetitions` times by the bench's own keep-alive
  client with the role's token, its server time read from the server's access log (`duration_ms`,
  web/observe.py), p50/p95/max;
- the document's height at 1280 and 390 px wide, and how many table rows and trace steps it shows.

List pages (counted by the targets): the year dashboard (its contracts and batches), search, the
settlement batches, a batch (its claims), the sanction cases, the two long traces, an enterprise (its
vouchers and contracts), a provider (its contracts and products) and the year-end warning (its
enterprises and providers). Measured but not counted: the trace index (a form), the audit page (the
chain head and forms), and the printable notices, which are documents to print whole (a year's
providers and products, a batch's payment list: 公示 must show every line), not pages to scroll.
The home page only redirects to the dashboard or the subject's own page, both measured.

A role sees a page when the page does not answer it with the console's 403 page (#vl-forbidden);
a page a role may not see is recorded as forbidden, without figures.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from bench.server import Client
from bench.timing import Progress, percentile, stage

STAFF = ("approver", "finance", "operator", "supervisor", "auditor")
WIDTHS = (1280, 390)
VIEWPORT_HEIGHT = 900
SEARCH_TERM = "有限公司"  # in every generated enterprise's and provider's name: the commonest term there is
QUIET_SECONDS = 0.3  # no request in flight and no new response for this long: the page is drawn
LOAD_TIMEOUT_S = 120.0

# Counts the page's fetches in flight, from before its first script runs (Page.addScriptToEvaluateOnNewDocument).
_PENDING = """(() => { let n = 0; const f = window.fetch;
  window.__vlPending = () => n;
  window.fetch = function (...a) { n++; return f.apply(this, a).then(
    async (r) => { try { await r.clone().arrayBuffer(); } catch (e) {} n--; return r; },
    (e) => { n--; throw e; }); }; })();"""

_STATE = """const api = performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/v1/"));
const nav = performance.getEntriesByType("navigation")[0] || {};
return {ready: document.readyState, pending: window.__vlPending ? window.__vlPending() : 0,
  api: api.map((e) => e.name), api_end: Math.max(0, ...api.map((e) => e.responseEnd)),
  load_end: nav.loadEventEnd || 0, forbidden: !!document.getElementById("vl-forbidden"),
  failed: [...document.querySelectorAll("#vl-main .alert")].map((e) => e.textContent.slice(0, 120))};"""

_SHAPE = """const sections = [...document.querySelectorAll("#vl-main table")].map((t) => t.querySelectorAll("tbody tr").length);
return {height: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight),
  rows: sections, steps: document.querySelectorAll(".timeline > li").length};"""


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    roles: tuple[str, ...]
    list_page: bool = True


def plan(world: Any, batch: str | None) -> list[Page]:
    """The pages to open: the busiest provider's and enterprise's, the batch with most claims."""
    year = world.year
    provider = Counter(c.provider for c in world.contracts).most_common(1)[0][0]
    enterprise = Counter(c.enterprise for c in world.contracts).most_common(1)[0][0]
    term = quote(SEARCH_TERM)
    pages = [
        Page("dashboard", f"/console/years/{year}", STAFF),
        Page("search_enterprises", f"/console/search?q={term}&kind=enterprises", STAFF),
        Page("search_providers", f"/console/search?q={term}&kind=providers", STAFF),
        Page("settlements", "/console/settlements/", STAFF),
        Page("cases", "/console/cases/", STAFF),
        Page("trace_index", "/console/trace/", STAFF, list_page=False),
        Page("trace_provider", f"/console/trace/providers/{provider}?year={year}", (*STAFF, "provider")),
        Page("trace_enterprise", f"/console/trace/enterprises/{enterprise}?year={year}", (*STAFF, "enterprise")),
        Page("provider", f"/console/providers/{provider}?year={year}", (*STAFF, "provider")),
        Page("enterprise", f"/console/enterprises/{enterprise}?year={year}", (*STAFF, "enterprise")),
        Page("year_end", f"/console/year-end/{year}", STAFF),
        Page("audit", "/console/audit", ("supervisor", "auditor"), list_page=False),
        Page("notice_providers", f"/console/notices/providers/{year}", STAFF, list_page=False),
        Page("notice_products", f"/console/notices/products/{year}", STAFF, list_page=False),
    ]
    if batch:
        pages[4:4] = [Page("settlement_batch", f"/console/settlements/{batch}", (*STAFF, "provider"))]
        pages.append(Page("notice_payment", f"/console/notices/settlements/{batch}", STAFF, list_page=False))
    return pages


def subject_of(pages: list[Page], name: str) -> str:
    """The party whose page `name` ("provider", "enterprise") is opened: the busiest of its kind."""
    return urlsplit(next(p.path for p in pages if p.name == name)).path.rsplit("/", 1)[1]


def busiest_batch(client: Client, world: Any, token: str) -> str | None:
    """The batch with most claims (its page lists them)."""
    best, most = None, -1
    for batch_id in world.batches:
        status, body = client.get(f"/api/v1/settlements/{batch_id}", token=token)
        claims = len(json.loads(body).get("claims") or []) if status == 200 else -1
        if claims > most:
            best, most = batch_id, claims
    return best


def _summary(samples_ms: list[float]) -> dict[str, Any]:
    return {"n": len(samples_ms), "p50_ms": round(statistics.median(samples_ms), 1) if samples_ms else None,
            "p95_ms": round(percentile(samples_ms, 0.95), 1) if samples_ms else None,
            "max_ms": round(max(samples_ms), 1) if samples_ms else None}


class Browser:
    """One headless Chromium, signed in as one role at a time through the tab's sessionStorage."""

    def __init__(self, base_url: str) -> None:
        from tests.browser import chromium

        self.base_url = base_url
        self.profile = tempfile.mkdtemp(prefix="vl-bench-chromium-")
        self.driver = chromium.start(self.profile)
        self.driver.set_page_load_timeout(LOAD_TIMEOUT_S)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _PENDING})
        self.width = 0

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def sign_in(self, token: str, me: dict[str, Any]) -> None:
        self.driver.get(self.base_url + "/console/login")
        self.driver.execute_script("sessionStorage.clear(); sessionStorage.setItem('vl.token', arguments[0]);"
                                   "sessionStorage.setItem('vl.me', arguments[1]);", token, json.dumps(me))

    def viewport(self, width: int) -> None:
        if width != self.width:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": VIEWPORT_HEIGHT, "deviceScaleFactor": 1, "mobile": False})
            self.width = width

    def load(self, path: str) -> dict[str, Any]:
        """Open the page and wait until it is quiet; its load time, API requests and shape."""
        self.driver.get(self.base_url + path)
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        last: tuple[int, float] | None = None
        quiet_since = time.monotonic()
        while True:
            state = self.driver.execute_script(_STATE)
            mark = (len(state["api"]), state["api_end"])
            busy = state["ready"] != "complete" or state["pending"]
            if busy or mark != last:
                last, quiet_since = mark, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_SECONDS:
                break
            if time.monotonic() > deadline:
                state["timeout"] = True
                break
            time.sleep(0.05)
        state["load_ms"] = round(max(state["load_end"], state["api_end"]), 1)
        state.update(self.driver.execute_script(_SHAPE))
        return state


class AccessLog:
    """The server's access log (one JSON line per request): the server time of the requests we replay."""

    def __init__(self, path: str) -> None:
        self.path = path

    def mark(self) -> int:
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def since(self, offset: int) -> list[dict[str, Any]]:
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode("utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def _replay(client: Client, log: AccessLog, urls: list[str], token: str, repetitions: int) -> dict[str, Any]:
    """Each API request of a page, `repetitions` times: server time from the access log, client wall time."""
    figures = {}
    for url in dict.fromkeys(urls):  # once each, in the page's order
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        client.get(target, token=token)  # warm, as the page's own request was
        offset = log.mark()
        walls, statuses = [], Counter()
        for _ in range(repetitions):
            started = time.perf_counter()
            status, _ = client.get(target, token=token)
            walls.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
        time.sleep(0.05)  # the log line is written after the answer is sent
        server = [line["duration_ms"] for line in log.since(offset)
                  if line.get("path") == parts.path][-repetitions:]
        figures[target[len("/api/v1"):]] = {"server": _summary(server), "client": _summary(walls),
                                             "statuses": {str(k): v for k, v in statuses.items()}}
    return figures


def measure(base_url: str, access_log: str, world: Any, tokens: Any, repetitions: int = 3,
            api_repetitions: int = 5, roles: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Open every page as every role that sees it; the report's `pages` section."""
    from tests.browser import chromium

    reason = chromium.missing()
    if reason:
        return {"skipped": f"Chromium unavailable: {reason}"}
    port = int(urlsplit(base_url).port or 80)
    client = Client(port)
    log = AccessLog(access_log)
    auditor = tokens("auditor")
    batch = busiest_batch(client, world, auditor)
    pages = plan(world, batch)
    subjects = {role: subject_of(pages, role) for role in ("provider", "enterprise")}
    wanted = [(page, role) for page in pages for role in page.roles if roles is None or role in roles]
    stage(f"控制台页面 console pages: {len(pages)} pages, {len(wanted)} page × role, "
          f"{repetitions} loads each in headless Chromium")
    browser = Browser(base_url)
    results: dict[str, Any] = {}
    bar = Progress("页面 pages", len(wanted))
    try:
        for role in dict.fromkeys(role for _, role in wanted):
            token = tokens(role, subjects.get(role))
            status, body = client.get("/api/v1/me", token=token)
            me = json.loads(body)
            browser.sign_in(token, {"role": me.get("role"), "id": me.get("id"), "subject": me.get("subject")})
            for page in (p for p, r in wanted if r == role):
                results.setdefault(page.name, {"path": page.path, "list_page": page.list_page, "roles": {}})
                results[page.name]["roles"][role] = _one(browser, client, log, page, token, repetitions,
                                                          api_repetitions)
                bar.advance()
    finally:
        bar.finish()
        browser.close()
        client.close()
    return {"batch": batch, "subjects": subjects, "repetitions": repetitions, "api_repetitions": api_repetitions,
            "widths": list(WIDTHS), "pages": results, "worst": worst(results)}


def _one(browser: Browser, client: Client, log: AccessLog, page: Page, token: str, repetitions: int,
         api_repetitions: int) -> dict[str, Any]:
    browser.viewport(WIDTHS[0])
    loads = [browser.load(page.path) for _ in range(repetitions)]
    last = loads[-1]
    if last["forbidden"]:
        return {"forbidden": True}
    heights = {str(WIDTHS[0]): last["height"]}
    for width in WIDTHS[1:]:
        browser.viewport(width)
        heights[str(width)] = browser.load(page.path)["height"]
    browser.viewport(WIDTHS[0])
    return {"load": _summary([load["load_ms"] for load in loads]), "height_px": heights,
            "rows": last["rows"], "steps": last["steps"], "failed": last["failed"],
            "timeout": any(load.get("timeout") for load in loads),
            "api": _replay(client, log, last["api"], token, api_repetitions)}


def worst(results: dict[str, Any]) -> dict[str, Any]:
    """Over the list pages and every role: the slowest API request (p95 server time), the slowest load
    (p50) and the tallest page; over every page: the tallest."""
    api, load, tall, tall_any = (None, 0.0), (None, 0.0), (None, 0), (None, 0)
    for name, page in results.items():
        for role, figures in page["roles"].items():
            if figures.get("forbidden"):
                continue
            height = max(figures["height_px"].values())
            if height > tall_any[1]:
                tall_any = (f"{name} as {role}", height)
            if not page["list_page"]:
                continue
            if height > tall[1]:
                tall = (f"{name} as {role}", height)
            if (figures["load"]["p50_ms"] or 0) > load[1]:
                load = (f"{name} as {role}", figures["load"]["p50_ms"])
            for request, timing in figures["api"].items():
                if (timing["server"]["p95_ms"] or 0) > api[1]:
                    api = (f"{name} as {role}: {request}", timing["server"]["p95_ms"])
    return {"api_server_p95_ms": api[1], "api_where": api[0], "load_p50_ms": load[1], "load_where": load[0],
            "height_px": tall[1], "height_where": tall[0], "height_any_page_px": tall_any[1],
            "height_any_where": tall_any[0]}
