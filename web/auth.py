"""Bearer tokens → the acting party (401 without one, 403 for the wrong role or subject)."""

from __future__ import annotations

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
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        raise errors.Unauthenticated("send Authorization: Bearer <token>")
    g.actor = current_app.extensions["ledger"].authenticate(token.strip())
    if g.actor.role == INTEGRATION and request.endpoint not in INTEGRATION_ENDPOINTS:
        raise errors.Forbidden("an integration token reads the event feed only", {"role": INTEGRATION})


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise errors.Unauthenticated("send Authorization: Bearer <token>")
    return actor
