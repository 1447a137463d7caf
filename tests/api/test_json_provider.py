"""Response bodies are written by orjson (web/json_provider.py) byte for byte as Flask's provider wrote them."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from web.json_provider import OrjsonProvider


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUES = {
    "an error body": {"error": {"code": "VOUCHER_CEILING", "message": "超出上限",
                                "details": {"amount": ["≤ 50000.00"]}}},
    "every ASCII character and then some": "".join(map(chr, range(128))) + "桂\u2028\u2029\ufeff😀",
    "keys in their given order": {"z": 1, "a": [True, False, None], "m": {"b": 2, "a": 1}},
    "integer keys": {1: "one", 2: "two"},
    "64-bit edges": [2 ** 63 - 1, -(2 ** 63)],
    "an integer beyond 64 bits": 2 ** 70,
    "dates and instants": [date(2026, 6, 1), datetime(2026, 6, 1, 2, 3, 4, 5, tzinfo=timezone.utc)],
    "a decimal and a UUID": [Decimal("12.30"), uuid.UUID("12345678-1234-5678-1234-567812345678")],
    "a dataclass": Point(3, "点"),
    "nothing": None,
}


def body(provider_class: Any, value: Any) -> bytes:
    app = Flask(__name__)
    app.json = provider_class(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    with app.app_context():
        return app.json.response(value).get_data()


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_response_body_is_what_flasks_provider_writes(name):
    assert body(OrjsonProvider, VALUES[name]) == body(DefaultJSONProvider, VALUES[name])


def test_a_lone_surrogate_fails_as_it_failed_before():
    for provider_class in (OrjsonProvider, DefaultJSONProvider):
        with pytest.raises(UnicodeEncodeError):
            body(provider_class, "\ud800")


def test_the_ledger_app_writes_with_orjson_and_refuses_in_the_api_error_body(client):
    assert isinstance(client.application.json, OrjsonProvider)
    response = client.get("/api/v1/vouchers/not-a-uuid")
    assert response.status_code in (401, 404) and set(response.get_json()) == {"error"}
