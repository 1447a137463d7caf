"""The HTTP face of the ledger (API.md): Flask app factory, one blueprint per resource."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, current_app, g, request
from flask_smorest import Api
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from ledger.errors import ValidationFailed
from ledger.rules import valid_credit_code
from web.auth import authenticate_request
from web.errors import register_error_handlers
from web.fields import json_problems, parse_json_body, text_problem
from web.json_provider import OrjsonProvider
from web.schemas import ErrorSchema

MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    # Behind the TLS front end browsers keep to HTTPS; over plain loopback HTTP they ignore it.
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


# Path arguments that are credit codes on every route that has them (API.md: anything else is a 400).
CREDIT_CODE_ARGS = ("enterprise_id", "provider_id", "subject_id")


def refuse_hostile_input() -> None:
    """400 before any schema or command sees it: bodies nested or sized as parser bombs, text with NUL,
    control characters or lone surrogates (in the body, the query or the path), path credit codes
    that are not credit codes. Reading the body here enforces MAX_CONTENT_LENGTH from the
    Content-Length header (413) before a byte is read.
    """
    problems: dict[str, list[str]] = {}
    for name, value in [*request.args.items(multi=True), *(request.view_args or {}).items()]:
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            problems[name] = [problem]
    for name in CREDIT_CODE_ARGS:
        value = (request.view_args or {}).get(name)
        if isinstance(value, str) and name not in problems and not valid_credit_code(value):
            problems[name] = ["must be an 18-character unified social credit code with a valid check character"]
    if request.method in ("POST", "PUT", "PATCH"):
        raw = request.get_data(cache=True)
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length is None and len(raw) >= limit:
            # A chunked body is cut off at the limit by werkzeug, silently: refuse it instead.
            raise RequestEntityTooLarge()
        if raw and request.is_json:
            try:
                problems.update(json_problems(parse_json_body(raw)))
            except ValidationError as exc:
                problems.update(exc.messages)  # type: ignore[arg-type]
    if problems:
        raise ValidationFailed("invalid request", problems)


class LedgerApi(Api):
    """flask-smorest's Api documenting the API's own error body, so clients and schema checks see it."""

    ERROR_SCHEMA = ErrorSchema


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` path segments beyond a 64-bit integer are a 400, not a database's overflow (a 500)."""

    def to_python(self, value: str) -> int:
        number = int(value)
        if not -2**63 <= number < 2**63:
            raise BadRequest("integer out of range")
        return number


def create_app(test_config: dict[str, Any] | None = None, *, ledger: Any, views: Any) -> Flask:
    """Build the app around one ledger application and its read models (wired by service/bootstrap.py)."""
    app = Flask(__name__)
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    app.json = OrjsonProvider(app)  # web/json_provider.py: the same bodies, written faster
    app.config.update(
        API_TITLE="Voucher Ledger 广西企业服务补贴券资金台账",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # Chinese names round-trip as they are
    app.json.sort_keys = False
    if test_config:
        app.config.update(test_config)

    app.extensions["ledger"] = ledger
    app.extensions["ledger_views"] = views

    @app.before_request
    def stamp_request() -> None:
        supplied = request.headers.get("X-Request-Id", "")
        g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        authenticate_request()
        refuse_hostile_input()

    @app.after_request
    def headers(response: Any) -> Any:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    api = LedgerApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    register_error_handlers(app)  # after Api(), which installs its own handler for HTTP errors

    from web import contracts, enterprises, health, providers, years

    app.register_blueprint(health.blp)
    for module in (years, enterprises, providers, contracts):
        api.register_blueprint(module.blp)

    # Settlement batches, cases and sanctions (issue 4).
    from web import cases, settlement

    for module in (settlement, cases):
        api.register_blueprint(module.blp)

    # Audit and supervision (issue 5): traces, the audit chain, the export.
    from web import audit

    api.register_blueprint(audit.blp)

    # The console (issue 6): its API queries, and its pages (static shells; data comes from the API).
    from web import directory, me, overview
    from web.console import blp as console_blp

    for module in (me, directory, overview):
        api.register_blueprint(module.blp)
    app.register_blueprint(console_blp)
    return app
