"""The HTTP face of the ledger (API.md): Flask app factory, one blueprint per resource."""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import Flask, g, request
from flask_smorest import Api

from web.auth import authenticate_request
from web.errors import register_error_handlers

MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
}


def create_app(test_config: dict[str, Any] | None = None, *, ledger: Any = None, views: Any = None) -> Flask:
    """Build the app around one ledger application and its read models (constructed if not given)."""
    app = Flask(__name__)
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

    if ledger is None:
        from ledger.application import VoucherLedger

        ledger = VoucherLedger.for_store()
    if views is None:
        from projections.runner import Views

        views = Views(ledger)
    app.extensions["ledger"] = ledger
    app.extensions["ledger_views"] = views

    @app.before_request
    def stamp_request() -> None:
        supplied = request.headers.get("X-Request-Id", "")
        g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        authenticate_request()

    @app.after_request
    def headers(response: Any) -> Any:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    register_error_handlers(app)  # after Api(), which installs its own handler for HTTP errors

    from web import contracts, enterprises, health, providers, years

    app.register_blueprint(health.blp)
    for module in (years, enterprises, providers, contracts):
        api.register_blueprint(module.blp)
    return app
