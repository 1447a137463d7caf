"""A person's console session (issue 19): sign-in with an issued token sets an HttpOnly, SameSite=Strict
cookie that signs in new tabs; writes under it need the session's CSRF token; bearer tokens work as before."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import YEAR, bearer, issue_tokens
from web.auth import SESSION_COOKIE, csrf_token


@pytest.fixture
def tokens(ledger: Any) -> dict[str, str]:
    return issue_tokens(ledger)


def sign_in(client: Any, token: str) -> dict[str, Any]:
    response = client.post("/console/session", json={"token": token})
    assert response.status_code == 200, response.get_json()
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # it ends with the browser session
    return response.get_json()


def test_a_session_cookie_signs_in_a_new_tab(client: Any, tokens: dict[str, str]) -> None:
    me = sign_in(client, tokens["operator"])
    assert me["role"] == "operator" and me["csrf"] == csrf_token(tokens["operator"])
    again = client.get("/console/session").get_json()
    assert again == me
    assert client.get("/api/v1/me").get_json()["role"] == "operator"  # the cookie alone reads


def test_a_session_write_needs_its_csrf_token(client: Any, tokens: dict[str, str]) -> None:
    me = sign_in(client, tokens["operator"])
    body = {"year": YEAR, "name": "第一批"}
    refused = client.post("/api/v1/settlements", json=body)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "FORBIDDEN"
    wrong = client.post("/api/v1/settlements", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    # With the token the write reaches the ledger (which refuses it for its own reason: no such year).
    reached = client.post("/api/v1/settlements", json=body, headers={"X-CSRF-Token": me["csrf"]})
    assert reached.get_json()["error"]["code"] not in ("FORBIDDEN", "UNAUTHENTICATED")


def test_bearer_tokens_still_work_and_win_over_the_cookie(client: Any, tokens: dict[str, str]) -> None:
    sign_in(client, tokens["operator"])
    assert client.get("/api/v1/me", headers=bearer(tokens["auditor"])).get_json()["role"] == "auditor"


def test_sign_in_refuses_what_is_not_an_issued_token(client: Any, tokens: dict[str, str]) -> None:
    assert client.post("/console/session", json={"token": "vl_unknown"}).status_code == 401
    assert client.post("/console/session", json={}).status_code == 400
    # A form post (what another site could send) is not JSON: refused, no cookie set.
    form = client.post("/console/session", data={"token": tokens["operator"]})
    assert form.status_code == 400 and "Set-Cookie" not in form.headers
    assert client.get("/console/session").status_code == 401


def test_sign_out_clears_the_cookie(client: Any, tokens: dict[str, str]) -> None:
    me = sign_in(client, tokens["approver"])
    assert client.post("/console/session/end").status_code == 403  # needs the CSRF token too
    ended = client.post("/console/session/end", headers={"X-CSRF-Token": me["csrf"]})
    assert ended.status_code == 200 and f"{SESSION_COOKIE}=;" in ended.headers["Set-Cookie"]
    assert client.get("/console/session").status_code == 401
    assert client.get("/api/v1/me").status_code == 401
