"""The web console (控制台) for settlement clerks, auditors, the supervisor, enterprises and providers.

Every page is a static, server-rendered shell in Simplified Chinese (English on request, remembered
in the browser); the data comes from the public API (`/api/v1`), called by the page's own
JavaScript with the bearer token kept in the tab's sessionStorage (or, in a new tab, the HttpOnly
session cookie that sign-in sets, web/auth.py). The shells carry no data and need no token, so what a
person sees is exactly what the API allows their token to read.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request

from ledger import errors
from web.auth import SESSION_COOKIE, csrf_token, session_actor

from web.console.i18n import TEXTS, text

STATIC = Path(__file__).parent / "static"
STATIC_MAX_AGE = 24 * 3600  # static files are versioned by content (?v=...), so a day's caching is safe
MAX_ID_LENGTH = 100
TRACE_KINDS = ("contracts", "enterprises", "providers", "settlements")
CHINA_TIME = timezone(timedelta(hours=8))


class ConsoleBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        return STATIC_MAX_AGE


blp = ConsoleBlueprint("console", __name__, url_prefix="/console", template_folder="templates",
                       static_folder="static", static_url_path="/static")


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


_VERSION = _static_version()
_TEXTS_JSON = json.dumps({key: {"zh": zh, "en": en} for key, (zh, en) in TEXTS.items()}, ensure_ascii=False,
                         separators=(",", ":"))


@blp.app_template_global("vl_text")
def _vl_text(key: str) -> str:
    return text(key)


@blp.context_processor
def _shell_context() -> dict[str, Any]:
    return {"t": text, "static_version": _VERSION, "texts_json": _TEXTS_JSON,
            "this_year": datetime.now(CHINA_TIME).year}


def _shell(template: str, page: str, **params: Any) -> str:
    for value in params.values():
        if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
            abort(404)
    return render_template(template, page=page, params=params)


@blp.get("/")
def home() -> str:
    return _shell("home.html", "home")


@blp.get("/login")
def login() -> str:
    return _shell("login.html", "login")


@blp.get("/years/")
@blp.get("/years/<int:year>")
def year(year: int | None = None) -> str:
    return _shell("year.html", "year", year=year or "")


@blp.get("/search")
def search() -> str:
    return _shell("search.html", "search")


# Path arguments are not named enterprise_id / provider_id / subject_id: the app refuses those unless they
# are credit codes, while a shell takes anything and lets the API say what is wrong with it.
@blp.get("/enterprises/<code>")
def enterprise(code: str) -> str:
    return _shell("enterprise.html", "enterprise", id=code)


@blp.get("/providers/<code>")
def provider(code: str) -> str:
    return _shell("provider.html", "provider", id=code)


@blp.get("/contracts/<contract_id>")
def contract(contract_id: str) -> str:
    return _shell("contract.html", "contract", id=contract_id)


@blp.get("/settlements/")
def settlements() -> str:
    return _shell("settlements.html", "settlements")


@blp.get("/settlements/<batch_id>")
def settlement(batch_id: str) -> str:
    return _shell("settlement.html", "settlement", id=batch_id)


@blp.get("/trace/")
def trace_index() -> str:
    return _shell("trace_index.html", "trace-index")


@blp.get("/trace/<any(contracts, enterprises, providers, settlements):kind>/<subject>")
def trace(kind: str, subject: str) -> str:
    return _shell("trace.html", "trace", kind=kind, id=subject)


@blp.get("/audit")
def audit() -> str:
    return _shell("audit.html", "audit")


@blp.get("/cases/")
def cases() -> str:
    """Sanction cases: the list, filing one and deciding one (issue 19)."""
    return _shell("cases.html", "cases")


@blp.get("/year-end/<int:year>")
def year_end(year: int) -> str:
    """The year-end warning (余额预警): what expires at the year's end unless used (issue 19)."""
    return _shell("year_end.html", "year-end", year=year)


@blp.get("/notices/<any(providers, products, settlements):kind>/<subject>")
def notice(kind: str, subject: str) -> str:
    """A printable notice (公示): a year's providers or products, or a batch's payment list (issue 19)."""
    return _shell("notice.html", "notice", kind=kind, id=subject)


@blp.get("/webhooks")
def webhooks() -> str:
    """Webhook subscriptions: the list, and a new one for the operator (issue 19)."""
    return _shell("webhooks.html", "webhooks")


def _me(actor: Any, token: str) -> dict[str, Any]:
    return {"role": actor.role, "id": actor.id, "subject": actor.subject, "csrf": csrf_token(token)}


@blp.post("/session")
def open_session() -> Any:
    """Sign a person in for the browser: an issued token in, the session cookie out (issue 19).

    JSON only, so no other site's form can post it (a login CSRF); the cookie is HttpOnly (no script
    reads the token), SameSite=Strict (no other site's request carries it) and lasts the browser session.
    """
    body = request.get_json(silent=True) if request.is_json else None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip() or len(token) > 200:
        raise errors.ValidationFailed("send {\"token\": \"...\"} as JSON", {"token": ["an issued token"]})
    token = token.strip()
    from flask import current_app

    actor = current_app.extensions["ledger"].authenticate(token)
    response = jsonify(_me(actor, token))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure,
                        path="/")
    return response


@blp.get("/session")
def current_session() -> Any:
    """Who the session cookie signs in, with the CSRF token its writes carry (a new tab asks this)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return jsonify(_me(session_actor(token, check_csrf=False), token))


@blp.post("/session/end")
def end_session() -> Any:
    """Sign out: the cookie is cleared (the session's CSRF token is needed, as for any write)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        session_actor(token, check_csrf=True)
    response = jsonify({"signed_out": True})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    return response
