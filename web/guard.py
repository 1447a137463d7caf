"""The hostile-input guard (issue 8): every request is checked before any schema or command sees it.

Bodies nested or sized as parser bombs, text with NUL, control characters, bidirectional overrides
or lone surrogates (in the body, the query or the path), and path credit codes that are not credit
codes are a 400; an oversized body a 413. `web/__init__.py` runs it before each request.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from ledger.errors import ValidationFailed
from ledger.rules import valid_credit_code

MAX_JSON_DEPTH = 20  # the deepest body of the API nests 3 levels; a parser bomb nests thousands
MAX_JSON_NODES = 20_000  # values in one body: far above any real request, far below a 1 MiB array bomb
_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}
# Bidirectional embeddings, overrides and isolates: they make text read other than it is stored
# ("Trojan Source"), e.g. a note whose figures appear reversed to the reviewer.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def text_problem(value: str) -> str | None:
    """Why a string may not be stored: NUL and other control characters, lone UTF-16 surrogates.

    PostgreSQL TEXT cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8 at all, so
    both would fail deep in the store as a 500; other control characters hide text from reviewers.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    if not _CONTROL.isdisjoint(value):
        return "must not contain NUL or other control characters"
    if not _BIDI.isdisjoint(value):
        return "must not contain bidirectional override characters"
    return None


def json_problems(document: Any) -> dict[str, list[str]]:
    """Walk a parsed JSON body iteratively: depth, size and every string (keys too) checked."""
    stack: list[tuple[Any, int, str]] = [(document, 1, "body")]
    nodes = 0
    while stack:
        value, depth, where = stack.pop()
        nodes += 1
        if depth > MAX_JSON_DEPTH:
            return {"body": [f"nested deeper than {MAX_JSON_DEPTH} levels"]}
        if nodes > MAX_JSON_NODES:
            return {"body": [f"more than {MAX_JSON_NODES} values"]}
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return {where: [problem]}
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    return {"body": [f"a field name {problem}"]}
                stack.append((item, depth + 1, key))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, where) for item in value)
    return {}


def parse_json_body(raw: bytes) -> Any:
    """Parse a request body, turning every way it can fail into a ValidationError (→ 400)."""
    import json

    try:
        return json.loads(raw)
    except RecursionError:
        raise ValidationError({"body": [f"nested deeper than {MAX_JSON_DEPTH} levels"]}) from None
    except ValueError:  # includes UnicodeDecodeError: the body is not UTF-8 JSON
        raise ValidationError({"body": ["must be a JSON document"]}) from None


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
