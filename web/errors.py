"""One error handler for the whole app: every error is the API's JSON body, never HTML or a trace."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ledger.errors import LedgerError

log = logging.getLogger("voucher_ledger.web")

# The one table from error codes to HTTP statuses (API.md, "Errors"); other codes are rules: 422.
STATUS_BY_CODE = {
    "VALIDATION_ERROR": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ALREADY_ISSUED": 409,
    "ALREADY_CLAIMED": 409,
    "INVALID_STATE": 409,
    "ALREADY_SETTLED": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "SERVICE_UNAVAILABLE": 503,
}

HTTP_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
              405: "METHOD_NOT_ALLOWED", 409: "INVALID_STATE", 413: "PAYLOAD_TOO_LARGE", 415: "VALIDATION_ERROR",
              422: "VALIDATION_ERROR", 429: "TOO_MANY_REQUESTS"}


# Seconds a client is asked to wait before repeating a request answered 503 (README "Timeouts").
RETRY_AFTER_S = int(os.environ.get("LEDGER_RETRY_AFTER_SECONDS", "2"))


def error_response(code: str, message: str, details: dict[str, Any] | None = None, status: int | None = None) -> Any:
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status or STATUS_BY_CODE.get(code, 422)
    if response.status_code == 503:  # transient: the database is away or retries ran out; nothing was recorded
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _field_messages(data: Any) -> dict[str, Any]:
    """webargs nests messages under the location ("json", "query"); the API wants field → messages."""
    messages = (data or {}).get("messages") or {}
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location if location != "json" else "body"] = fields
    return flat


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(LedgerError)
    def ledger_error(exc: LedgerError) -> Any:
        return error_response(exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        code = HTTP_CODES.get(status, "HTTP_ERROR")
        details = _field_messages(getattr(exc, "data", None))
        message = "invalid request" if details else (exc.description or exc.name)
        return error_response(code, message, details, status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        from web.health import is_database_unavailable

        if is_database_unavailable(exc):
            log.warning("database unavailable: %s", type(exc).__name__)
            return error_response("SERVICE_UNAVAILABLE", "the ledger's database is unavailable; try again shortly",
                                  status=503)
        # Neither the client nor the log gets the trace (it may carry tokens or amounts): the type
        # and the innermost frame are enough to find the bug.
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
        log.error("unexpected error %s at %s", type(exc).__name__, where)
        return error_response("INTERNAL_ERROR", "internal error", status=500)


def install_waitress_error_bodies() -> None:
    """Give the answers waitress makes itself the API's error body and security headers too.

    Waitress refuses some requests before the app sees them — a body over its
    `max_request_body_size` (413, refused without reading it), a malformed request (400), headers
    too large (431) — with a plain-text page. `voucher-ledger serve` calls this once at start.
    """
    import json

    from waitress import utilities

    from web import SECURITY_HEADERS

    def to_response(self: Any, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        code = HTTP_CODES.get(self.code, "INTERNAL_ERROR" if self.code >= 500 else "HTTP_ERROR")
        body = json.dumps({"error": {"code": code, "message": self.reason, "details": {}}}).encode("utf-8")
        headers = [("Content-Type", "application/json"), *SECURITY_HEADERS.items()]
        return f"{self.code} {self.reason}", headers, body

    utilities.Error.to_response = to_response  # type: ignore[method-assign]
