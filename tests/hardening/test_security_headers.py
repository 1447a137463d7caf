"""Security headers on every response: every route of the url map, as every principal, and every error path
(401, 403, 404, 405, 413, 400, 500)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from service.bootstrap import build_app
from tests.hardening.world import World, principals
from tests.support import bearer
from web import MAX_BODY_BYTES, SECURITY_HEADERS


def assert_secure(response: Any, what: str) -> None:
    missing = {name: value for name, value in SECURITY_HEADERS.items() if response.headers.get(name) is None}
    assert not missing, f"{what} ({response.status_code}) lacks {sorted(missing)}"
    assert response.headers.get("X-Request-Id"), what
    if response.mimetype == "application/json" or what.startswith(("GET /api", "POST /api")):
        # The API's answers are JSON, never sniffed, framed or cached.
        for name in ("X-Content-Type-Options", "X-Frame-Options", "Cache-Control"):
            assert response.headers[name] == SECURITY_HEADERS[name], (what, name, response.headers[name])


@pytest.mark.slow  # every route × every principal: a sweep, run in the full lane
def test_every_route_and_principal_gets_the_security_headers(world: World) -> None:
    client = world.client
    seen = 0
    for rule in world.flask_app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if rule.rule.startswith("/api/v1"):
                path = world.path_for(rule.rule)
            else:
                path = re.sub(r"<[^<>]+>", "x", rule.rule)
            for principal in principals():
                response = client.open(path, method=method, headers=world.headers(principal), json=None)
                response.get_data()
                assert_secure(response, f"{method} {rule.rule} as {principal}")
                seen += 1
    assert seen > 100


def test_error_paths_get_the_security_headers(world: World) -> None:
    app = build_app(world.app, world.flask_app.extensions["ledger_views"], {"TESTING": True})

    def boom() -> Any:
        raise RuntimeError("forced failure")

    app.add_url_rule("/api/v1/test-only/boom", "test_only_boom", boom)
    client = app.test_client()
    operator = bearer(world.tokens["operator"])
    cases = {
        401: client.get("/api/v1/years/2026"),
        403: client.post("/api/v1/years", headers=operator,
                         json={"year": 2030, "starts_on": "2030-01-01", "ends_on": "2030-12-31"}),
        404: client.get("/api/v1/no-such-thing", headers=operator),
        405: client.delete("/api/v1/years/2026", headers=operator),
        413: client.post("/api/v1/vouchers", headers=operator, data=b"x" * (MAX_BODY_BYTES + 1),
                         content_type="application/json"),
        400: client.post("/api/v1/vouchers", headers=operator, data=b"{not json", content_type="application/json"),
        500: client.get("/api/v1/test-only/boom", headers=operator),
    }
    for status, response in cases.items():
        assert response.status_code == status, (status, response.get_data(as_text=True))
        assert response.get_json()["error"]["code"], status
        assert_secure(response, f"the {status} answer")
