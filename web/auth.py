"""Bearer tokens → the acting party (401 without one, 403 for the wrong role or subject).

A person signed in at the console may instead carry the same issued token in the session cookie
(`vl_session`: HttpOnly, SameSite=Strict, set by `POST /console/session`), so a new tab stays signed in.
A request with the cookie and no Authorization header is that person's; any other method than
GET/HEAD must then carry `X-CSRF-Token` (derived from the token, given only to the console's own
page), so another site can never make the browser act. Machines send their bearer token as always.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request

from ledger import errors
from ledger.context import Actor
from ledger.rules import INTEGRATION

PUBLIC_PATHS = ("/healthz", "/api/v1/openapi.json")
# The machine role `integration` follows the ledger and reads nothing else (API.md "Following the
# ledger"): every other route refuses it here, before its own role checks (web/feed.py).
INTEGRATION_ENDPOINTS = frozenset({"feed.events"})


def authenticate_request() -> None:
    """Resolve the token of every API request; public paths pass."""
    if request.path in PUBLIC_PATHS or not request.path.startswith("/api/"):
        return
    header = request.headers.get("Authorization", "")
    if not header and request.cookies.get(SESSION_COOKIE):
        g.actor = session_actor(request.cookies[SESSION_COOKIE], check_csrf=request.method not in SAFE_METHODS)
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        raise errors.Unauthenticated("send Authorization: Bearer <token>")
    g.actor = authenticate(token.strip())
    if g.actor.role == INTEGRATION and request.endpoint not in INTEGRATION_ENDPOINTS:
        raise errors.Forbidden("an integration token reads the event feed only", {"role": INTEGRATION})


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise errors.Unauthenticated("send Authorization: Bearer <token>")
    return actor


SESSION_COOKIE = "vl_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def csrf_token(token: str) -> str:
    """The CSRF token of a session: unguessable without the session's own token, which the cookie hides."""
    return hmac.new(b"voucher-ledger console csrf", token.encode(), hashlib.sha256).hexdigest()


def session_actor(token: str, check_csrf: bool) -> Actor:
    """The actor of a console session's cookie; a write without the session's CSRF token is refused."""
    if not token or len(token) > 200:
        raise errors.Unauthenticated("sign in again")
    if check_csrf and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf_token(token)):
        raise errors.Forbidden("a console session's write needs its X-CSRF-Token", {CSRF_HEADER: ["missing or wrong"]})
    return authenticate(token)


def authenticate(token: str) -> Actor:
    """The token's actor; notes in `g.log_head` the log's head that authentication's check of the log read,
    which the request's queries then wait for instead of asking the store for it again (web/commands.py)."""
    ledger = current_app.extensions["ledger"]
    actor = ledger.authenticate(token)
    g.log_head = ledger.log_check.checked_head()
    return actor
