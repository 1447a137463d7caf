"""Access control: the full matrix endpoint × principal, generated from the route table (API.md "Auth").

Principals: no token, an unknown token, each staff and reader role, and the enterprise and provider
tokens for the world's own subjects and for other subjects. Every cell is asserted: no or unknown
token → 401; a role not allowed → 403; an allowed subject role on another subject's resource → 403;
allowed → neither 401 nor 403 (2xx, or a 4xx for domain reasons, never 5xx). Refusals run first and
must change nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.hardening.access_matrix import (
    AUDITOR, ENTERPRISE, EXPECTATIONS, PROVIDER, ROLES, SUPERVISOR, SUPERVISOR_COMMANDS, Expect,
)
from tests.hardening.world import PUBLIC_RULES, Route, World, api_routes

AMOUNT = re.compile(r"\b\d+\.\d{2}\b")
SUBJECT_PRINCIPALS = {ENTERPRISE: ("enterprise", "enterprise_other"), PROVIDER: ("provider", "provider_other")}


def expected_status(expect: Expect, principal: str) -> str:
    """"401", "403" or "allowed" for one cell."""
    if principal in ("anonymous", "unknown_token"):
        return "401"
    role = principal.removesuffix("_other")
    if role not in expect.allowed:
        return "403"
    if principal.endswith("_other") and role not in expect.unowned:
        return "403"  # the role may, but not on another subject's resource
    return "allowed"


def cells(world: World) -> list[tuple[Route, Expect, str, str]]:
    out = []
    for route in api_routes(world.flask_app):
        if route.rule in PUBLIC_RULES:
            continue
        for expect in EXPECTATIONS.get(route.key, []):  # a route without an entry fails the test above
            for principal in ("anonymous", "unknown_token", *[p for role in ROLES
                                                             for p in SUBJECT_PRINCIPALS.get(role, (role,))]):
                out.append((route, expect, principal, expected_status(expect, principal)))
    return out


def send(world: World, route: Route, expect: Expect, principal: str) -> Any:
    return world.request(principal, route.method, route.rule, path=expect.path, body=expect.body, query=expect.query)


def describe(route: Route, expect: Expect, principal: str, response: Any) -> str:
    label = f" [{expect.label}]" if expect.label else ""
    return f"{route.key}{label} as {principal}: {response.status_code} {response.get_data(as_text=True)[:300]}"


def test_every_api_route_has_an_expectation(flask_app: Any) -> None:
    routes = [r for r in api_routes(flask_app) if r.rule not in PUBLIC_RULES]
    missing = sorted({r.key for r in routes if r.key not in EXPECTATIONS})
    assert not missing, f"routes with no entry in tests/hardening/access_matrix.py (add them from API.md): {missing}"


def test_supervisor_and_auditor_never_change_fund_state() -> None:
    """Art. 21-24: oversight reads everything and changes nothing, except that a case may be filed."""
    for key, expects in EXPECTATIONS.items():
        if key.startswith("GET "):
            continue
        for expect in expects:
            assert AUDITOR not in expect.allowed, key
            if key not in SUPERVISOR_COMMANDS:
                assert SUPERVISOR not in expect.allowed, key


@pytest.mark.slow  # every route × every principal: a sweep, run in the full lane
def test_access_matrix(world: World, capsys: Any) -> None:
    all_cells = cells(world)
    refused = [c for c in all_cells if c[3] != "allowed"]
    allowed = [c for c in all_cells if c[3] == "allowed"]
    failures = []

    # Refusals first: they must all be refused, with the error body, and record nothing at all.
    head = world.head()
    for route, expect, principal, status in refused:
        response = send(world, route, expect, principal)
        body = response.get_json(silent=True) or {}
        code = body.get("error", {}).get("code")
        if str(response.status_code) != status:
            failures.append("expected " + status + ": " + describe(route, expect, principal, response))
        elif code != {"401": "UNAUTHENTICATED", "403": "FORBIDDEN"}[status]:
            failures.append("wrong error body: " + describe(route, expect, principal, response))
        elif AMOUNT.search(response.get_data(as_text=True)):
            failures.append("a refusal shows an amount: " + describe(route, expect, principal, response))
    assert world.head() == head, "a refused request recorded events"

    # Then the allowed cells, reads before commands so the world is still intact for the reads.
    statuses: dict[int, int] = {}
    for route, expect, principal, _ in sorted(allowed, key=lambda c: c[0].method != "GET"):
        response = send(world, route, expect, principal)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 400:
            # The generated request must be valid: a 400 would hide a missing authorisation check.
            failures.append("generated request invalid: " + describe(route, expect, principal, response))
        if response.status_code in (401, 403) or response.status_code >= 500:
            failures.append("expected allowed: " + describe(route, expect, principal, response))

    assert not failures, f"{len(failures)} of {len(all_cells)} cells wrong:\n" + "\n".join(failures)
    missing = sorted(set(EXPECTATIONS) - {r.key for r in api_routes(world.flask_app)})
    with capsys.disabled():
        print(f"\naccess matrix: {len(all_cells)} cells ({len(refused)} refused, {len(allowed)} allowed) over "
              f"{len({c[0].key for c in all_cells})} routes; allowed answered {dict(sorted(statuses.items()))}; "
              f"in the table but not yet implemented: {len(missing)} {missing}")
