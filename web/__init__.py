"""The HTTP face of the ledger (API.md): Flask app factory, one blueprint per resource."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, g, request
from flask_smorest import Api
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from web.auth import authenticate_request
from web.errors import register_error_handlers
from web.guard import refuse_hostile_input
from web.json_provider import OrjsonProvider
from web.observe import Metrics, finish_request, start_request
from web.openapi import OperationsPlugin
from web.schemas import ErrorSchema

MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

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

_SECURITY_HEADER_ITEMS = [(name.lower(), name, value) for name, value in SECURITY_HEADERS.items()]


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


def blueprints() -> list[tuple[Any, bool]]:
    """Every resource module of the API, in the order its paths appear in the OpenAPI document, and
    whether the document describes it (the health probe and the console's pages are not API)."""
    from web import (
        archive, audit, cases, console, contracts, directory, enterprises, feed, health, me, notices, observe,
        overview, providers, root, settlement, webhooks, workbooks, years,
    )

    return [(health, False), (years, True), (enterprises, True), (providers, True), (contracts, True),
            (settlement, True), (cases, True), (audit, True), (me, True), (directory, True), (overview, True),
            (archive, True), (workbooks, True), (notices, True), (console, False), (root, False), (feed, True),
            (webhooks, True), (observe, False)]


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
    app.extensions["ledger_metrics"] = Metrics(ledger, views)  # web/observe.py: per app, so per process

    @app.before_request
    def stamp_request() -> None:
        start_request()
        supplied = request.headers.get("X-Request-Id", "")
        g.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
        authenticate_request()
        refuse_hostile_input()

    @app.after_request
    def headers(response: Any) -> Any:
        if not g.get("request_id"):  # a request refused before its stamp still gets an id to quote
            g.request_id = uuid.uuid4().hex
        response.headers["X-Request-Id"] = g.request_id
        # A route's own value stands (setdefault's meaning); one pass over the headers instead of a
        # scan per name: 21 -> 7 us a response.
        present = {name.lower() for name in response.headers.keys()}
        response.headers.extend([(name, value) for lower, name, value in _SECURITY_HEADER_ITEMS if lower not in present])
        finish_request(response)  # its metrics and its access-log line
        return response

    api = LedgerApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}],
        "extra_plugins": [OperationsPlugin()]})  # operationIds, headers, error codes (web/openapi.py)
    register_error_handlers(app)  # after Api(), which installs its own handler for HTTP errors

    for module, documented in blueprints():
        if documented:
            api.register_blueprint(module.blp)
        else:
            app.register_blueprint(module.blp)
    return app
