"""Hostile input: every refused request ends in a 4xx with the error body and changes nothing.

Targeted cases (oversized bodies refused before they are read, parser bombs, wrong types, unknown
fields, Unicode edge cases, SQL-looking strings, path traversal in document URIs), then schemathesis
against /api/v1/openapi.json on every operation, as several roles, in-process over WSGI.
"""

from __future__ import annotations

import io
import json
from typing import Any, Callable

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from service.demo import credit_code
from tests.hardening.world import World
from tests.support import YEAR, bearer
from web import MAX_BODY_BYTES

# (label, principal, method, path, body: a JSON value, or bytes sent as they are)
Case = tuple[str, str, str, str, Any]


def provider_body(world: World, **changes: Any) -> dict[str, Any]:
    body = {"id": world.refs["other_provider"], "name": "机构", "registered_in_guangxi": True,
            "entity_type": "legal_person", "fixed_premises": True, "years_operating": 5, "core_staff_insured": 12,
            "clients_last_year": 30, "revenue_last_year": "5000000.00", "dishonest": False, "documents": []}
    return {**body, **changes}


def document(uri: str, name: str = "营业执照.pdf") -> dict[str, Any]:
    return {"name": name, "sha256": "a" * 64, "size": 1024, "uri": uri}


def enterprise_body(world: World, **changes: Any) -> dict[str, Any]:
    body = {"id": world.refs["enterprise"], "name": "企业", "employees": 300, "revenue": "50000000.00",
            "registered_in_guangxi": True, "legal_person": True, "social_insurance": True, "dishonest": False,
            "major_violation": False, "industry_aligned": True, "honours": []}
    return {**body, **changes}


def hostile_cases(world: World) -> list[Case]:
    voucher = {"enterprise_id": world.refs["other_enterprise"], "year": YEAR, "kind": "general"}
    budget = f"/api/v1/years/{YEAR}/budget"
    contract = world.refs["contract_signed"]
    deep = 100_000
    cases: list[Case] = [
        # Parser bombs and sheer size
        ("deeply nested arrays", "operator", "POST", "/api/v1/vouchers", b"[" * deep + b"]" * deep),
        ("deeply nested objects", "operator", "POST", "/api/v1/vouchers",
         ('{"a":' * 5_000 + "1" + "}" * 5_000).encode()),
        ("nested past the limit inside a field", "operator", "POST", "/api/v1/vouchers",
         {**voucher, "kind": json.loads("[" * 30 + "]" * 30)}),
        ("huge array", "operator", "POST", "/api/v1/vouchers", {**voucher, "extra": [0] * 200_000}),
        ("huge list of honours", "operator", "POST", "/api/v1/enterprises",
         enterprise_body(world, honours=["tech_sme"] * 15_000)),
        ("huge string", "finance", "POST", budget, {"amount": "1.00", "reference": "长" * 300_000}),
        ("many keys", "operator", "POST", "/api/v1/vouchers", {**voucher, **{f"k{i}": i for i in range(30_000)}}),
        # Not JSON, or not the JSON asked for
        ("malformed JSON", "operator", "POST", "/api/v1/vouchers", b'{"enterprise_id": '),
        ("invalid UTF-8", "operator", "POST", "/api/v1/vouchers", b'{"enterprise_id": "\xff\xfe"}'),
        ("NaN", "finance", "POST", budget, b'{"amount": NaN, "reference": "x"}'),
        ("a list instead of an object", "operator", "POST", "/api/v1/vouchers", [voucher]),
        ("a string instead of an object", "operator", "POST", "/api/v1/vouchers", "voucher"),
        ("null body", "operator", "POST", "/api/v1/vouchers", None),
        # Wrong types
        ("year as a string", "operator", "POST", "/api/v1/vouchers", {**voucher, "year": str(YEAR)}),
        ("year as a float", "operator", "POST", "/api/v1/vouchers", {**voucher, "year": float(YEAR)}),
        ("year as a boolean", "operator", "POST", "/api/v1/vouchers", {**voucher, "year": True}),
        ("year out of range", "operator", "POST", "/api/v1/vouchers", {**voucher, "year": 10**30}),
        ("amount as a number", "finance", "POST", budget, {"amount": 100, "reference": "x"}),
        ("amount as a float", "finance", "POST", budget, {"amount": 100.5, "reference": "x"}),
        ("amount in exponent form", "finance", "POST", budget, {"amount": "1e3", "reference": "x"}),
        ("negative amount", "finance", "POST", budget, {"amount": "-1.00", "reference": "x"}),
        ("amount with three decimals", "finance", "POST", budget, {"amount": "1.001", "reference": "x"}),
        ("amount beyond any budget", "finance", "POST", budget, {"amount": "9" * 40 + ".00", "reference": "x"}),
        ("boolean as a string", "operator", "POST", "/api/v1/enterprises", enterprise_body(world, dishonest="false")),
        ("count as a string", "operator", "POST", "/api/v1/enterprises", enterprise_body(world, employees="300")),
        ("list as a string", "operator", "POST", "/api/v1/enterprises", enterprise_body(world, honours="tech_sme")),
        ("object for a list", "operator", "POST", "/api/v1/providers", provider_body(world, documents={})),
        ("deposit as an object", "enterprise", "POST", f"/api/v1/contracts/{contract}/deposit",
         {"amount": {"yuan": "4000.00"}}),
        # Unknown fields
        ("an unknown field", "operator", "POST", "/api/v1/vouchers", {**voucher, "quota": "999999.00"}),
        ("a prototype-pollution field", "operator", "POST", "/api/v1/vouchers", {**voucher, "__proto__": {"a": 1}}),
        ("an unknown nested field", "operator", "POST", "/api/v1/providers",
         provider_body(world, documents=[{**document("https://docs.example.org/a.pdf"), "owner": "x"}])),
        # Unicode edge cases
        ("NUL in a name", "operator", "POST", "/api/v1/enterprises", enterprise_body(world, name="企业\u0000名")),
        ("NUL in a field name", "operator", "POST", "/api/v1/vouchers", {**voucher, "ye\u0000ar": 1}),
        ("a lone surrogate", "finance", "POST", budget, b'{"amount": "1.00", "reference": "\\ud800"}'),
        ("a reversed surrogate pair", "finance", "POST", budget, b'{"amount": "1.00", "reference": "\\udc00\\ud800"}'),
        ("a right-to-left override in a name", "operator", "POST", "/api/v1/enterprises",
         enterprise_body(world, name="企业\u202e00.001")),
        ("a right-to-left override in a reason", "enterprise", "POST", f"/api/v1/contracts/{contract}/termination",
         {"reason": "退款 \u202e00.0005"}),
        ("an emoji in a name", "operator", "POST", "/api/v1/enterprises", enterprise_body(world, name="企业\U0001F4B0")),
        ("a zero-width space in a name", "provider", "POST", "/api/v1/products",
         {"provider_id": world.refs["provider"], "name": "产\u200b品", "category": "diagnosis", "price": "1.00"}),
        ("an escape sequence in a reference", "finance", "POST", budget, {"amount": "1.00", "reference": "\x1b[31m"}),
        ("NUL in the query", "operator", "GET", f"/api/v1/enterprises/{world.refs['enterprise']}/balance?year=20%0026",
         None),
        ("NUL in the path", "operator", "GET", "/api/v1/enterprises/%00/balance?year=2026", None),
        ("NUL in a search", "operator", "GET", "/api/v1/enterprises?q=%00", None),
        # SQL-looking strings where an identifier or a number goes
        ("SQL in a credit code", "operator", "POST", "/api/v1/vouchers", {**voucher, "enterprise_id": "1' OR '1'='1"}),
        ("SQL in a path id", "operator", "GET", "/api/v1/vouchers/'%20OR%20'1'='1", None),
        ("SQL in a path code", "operator", "GET",
         "/api/v1/enterprises/1%27%3B%20DROP%20TABLE%20stored_events%3B--/balance?year=2026", None),
        ("SQL in a query year", "operator", "GET",
         f"/api/v1/enterprises/{world.refs['enterprise']}/balance?year=2026%20OR%201=1", None),
        ("SQL in a UUID field", "enterprise", "POST", "/api/v1/contracts",
         {"voucher_id": "'; DELETE FROM stored_events; --", "provider_id": world.refs["provider"],
          "product_id": world.refs["product"], "amount": "1.00"}),
        # Path traversal in document URIs
        *[("traversal in a document URI: " + uri, "operator", "POST", "/api/v1/providers",
           provider_body(world, documents=[document(uri)])) for uri in (
            "file://../../etc/passwd", "file:///var/data/../../etc/passwd", "file:..%2F..%2Fetc%2Fpasswd",
            "https://docs.example.org/a/..%2F..%2Fetc%2Fpasswd", "https://docs.example.org/%2e%2e/%2e%2e/etc/passwd",
            "https://docs.example.org/%252e%252e/secret", "s3://bucket/../other-bucket/key",
            "oss://bucket/..\\..\\windows\\win.ini", "..%2F..%2Fetc%2Fpasswd", "file://localhost/../etc/passwd",
            "https://../etc/passwd", "javascript:alert(1)", "file:///etc/passwd\u0000.pdf",
        )],
        # Traversal in the URL itself
        ("traversal in a path id", "operator", "GET", "/api/v1/vouchers/..%2F..%2Fetc%2Fpasswd", None),
        ("traversal in a product id", "operator", "GET", "/api/v1/products/..%2f..%2f..%2fetc%2fpasswd", None),
    ]
    return cases


def assert_error_body(response: Any, what: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and set(body) == {"error"}, f"{what}: not the error body"
    assert set(body["error"]) == {"code", "message", "details"}, what
    assert body["error"]["code"].isupper(), what
    return body["error"]


def test_hostile_requests_end_in_a_4xx_and_change_nothing(world: World, capsys: Any) -> None:
    client = world.client
    cases = hostile_cases(world)
    head = world.head()
    codes: dict[str, int] = {}
    for label, principal, method, path, body in cases:
        headers = world.headers(principal)
        if isinstance(body, bytes):
            response = client.open(path, method=method, headers=headers, data=body, content_type="application/json")
        elif method == "GET":
            response = client.open(path, method=method, headers=headers)
        else:
            response = client.open(path, method=method, headers=headers,
                                   data=json.dumps(body, ensure_ascii=True), content_type="application/json")
        error = assert_error_body(response, label)
        codes[error["code"]] = codes.get(error["code"], 0) + 1
        assert world.head() == head, f"{label}: something was recorded"
    with capsys.disabled():
        print(f"\nhostile requests: {len(cases)} tried, all refused: {dict(sorted(codes.items()))}")


def test_sql_looking_text_is_stored_as_text(world: World) -> None:
    """Free text is data, never SQL: a name like a Bobby Tables payload round-trips and the store is intact."""
    name = "Robert'); DROP TABLE stored_events; -- 有限公司"
    operator = bearer(world.tokens["operator"])
    code = credit_code(999_001)
    response = world.client.post("/api/v1/enterprises", headers=operator,
                                 json=enterprise_body(world, id=code, name=name))
    assert response.status_code == 201, response.get_json()
    found = world.client.get("/api/v1/enterprises", headers=operator, query_string={"q": "DROP TABLE"}).get_json()
    assert [e["name"] for e in found["enterprises"] if e["id"] == code] == [name]
    assert world.client.get(f"/api/v1/years/{YEAR}", headers=operator).status_code == 200


class Tripwire(io.RawIOBase):
    """A request body that counts what the server reads of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b" " * n
        self.read_bytes += n
        return n


def send_raw(world: World, path: str, stream: Tripwire, *, chunked: bool) -> tuple[str, dict, bytes]:
    headers = {**bearer(world.tokens["operator"]), "Content-Type": "application/json"}
    environ = EnvironBuilder(path=path, method="POST", headers=headers).get_environ()
    environ["wsgi.input"] = stream
    environ["CONTENT_LENGTH"] = str(stream.size)
    if chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    body_iter, status, response_headers = run_wsgi_app(world.flask_app.wsgi_app, environ)
    return status, dict(response_headers), b"".join(body_iter)


@pytest.mark.parametrize("path", ["/api/v1/vouchers", "/api/v1/contracts/{contract}/signature", "/api/v1/nowhere"])
def test_an_oversized_body_is_refused_before_it_is_read(world: World, path: str) -> None:
    path = path.format(contract=world.refs["contract_proposed"])
    head = world.head()
    stream = Tripwire(10 * MAX_BODY_BYTES)
    status, _, body = send_raw(world, path, stream, chunked=False)
    assert status.startswith("413"), (status, body)
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stream.read_bytes == 0, "the body was read although its Content-Length was too large"
    assert world.head() == head


def test_an_oversized_chunked_body_is_cut_off_at_the_limit(world: World) -> None:
    head = world.head()
    stream = Tripwire(4 * MAX_BODY_BYTES)
    status, _, body = send_raw(world, "/api/v1/vouchers", stream, chunked=True)
    assert status.startswith("413"), (status, body)
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stream.read_bytes <= MAX_BODY_BYTES + 64 * 1024, "read far past the limit"
    assert world.head() == head


def test_a_body_at_the_limit_is_read(world: World) -> None:
    """Just under the limit is not refused for its size (it is still not a valid voucher request)."""
    body = json.dumps({"enterprise_id": world.refs["enterprise"], "year": YEAR, "kind": "general",
                       "pad": " " * (MAX_BODY_BYTES - 200)}).encode()
    assert len(body) < MAX_BODY_BYTES
    response = world.client.post("/api/v1/vouchers", headers=world.headers("operator"), data=body,
                                 content_type="application/json")
    assert response.status_code == 400


def headers_cases(world: World) -> list[tuple[str, dict[str, str], Callable[[Any], bool]]]:
    token = world.tokens["operator"]
    return [
        ("an oversized token", bearer("x" * 10_000), lambda r: r.status_code == 401),
        ("a token with spaces", {"Authorization": f"Bearer {token} {token}"}, lambda r: r.status_code == 401),
        ("an oversized Idempotency-Key", {**bearer(token), "Idempotency-Key": "k" * 500},
         lambda r: r.status_code == 400),
        ("a blank Idempotency-Key", {**bearer(token), "Idempotency-Key": " "}, lambda r: r.status_code == 400),
        ("a request id with a newline", {**bearer(token), "X-Request-Id": "a\r\nSet-Cookie: x=1"},
         lambda r: "Set-Cookie" not in r.headers and "\n" not in r.headers["X-Request-Id"]),
    ]


def test_hostile_headers(world: World) -> None:
    head = world.head()
    voucher = {"enterprise_id": world.refs["other_enterprise"], "year": YEAR, "kind": "bogus"}
    for label, headers, ok in headers_cases(world):
        try:
            response = world.client.post("/api/v1/vouchers", headers=headers, json=voucher)
        except ValueError:
            continue  # the test client itself refuses a header with a newline: so would any HTTP server
        assert ok(response), (label, response.status_code, response.get_data(as_text=True))
        assert world.head() == head, label


@pytest.mark.slow
def test_the_server_refuses_what_it_will_not_read_with_the_error_body(tmp_path: Any) -> None:
    """`voucher-ledger serve`: a body over waitress's limit is refused unread, a garbled request line too —
    both with the API's error body and the security headers, never a plain-text page."""
    import http.client
    import socket

    from tests.hardening.cli import issue_token
    from tests.hardening.processes import Server
    from web import SECURITY_HEADERS

    url = f"sqlite:///{tmp_path}/ledger.db"
    _, token = issue_token(url, "operator")
    server = Server(url, tmp_path / "server.log")
    try:
        server.start().wait_healthy()
        for size in (MAX_BODY_BYTES + 10, 3 * MAX_BODY_BYTES):  # over Flask's limit; over waitress's
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.putrequest("POST", "/api/v1/vouchers")
            conn.putheader("Authorization", f"Bearer {token}")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            try:
                conn.send(b" " * size)
            except OSError:
                pass  # the server may close before it has all of it: it refused it unread
            response = conn.getresponse()
            assert response.status == 413, size
            assert json.loads(response.read())["error"]["code"] == "PAYLOAD_TOO_LARGE", size
            assert all(response.getheader(name) for name in SECURITY_HEADERS), response.getheaders()
            conn.close()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(b"GARBAGE\x00 /\r\n\r\n")
            chunks = []
            while chunk := raw.recv(65536):  # the server closes after its answer
                chunks.append(chunk)
            answer = b"".join(chunks).decode("utf-8", "replace")
        assert answer.split(" ", 2)[1] == "400", answer
        assert '"code": "VALIDATION_ERROR"' in answer and "X-Content-Type-Options" in answer, answer
    finally:
        server.stop()
