"""Marshmallow fields for the API's conventions: yuan strings, shares, credit codes, strict types.

Money is parsed into fen here by `ledger.money` and formatted back from fen; nothing else in
`web/` touches amounts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields

from ledger.money import MoneyFormatError, format_share, format_yuan, parse_share, parse_yuan
from ledger.rules import valid_credit_code
from web.guard import text_problem


class Yuan(fields.Field):
    """A string of yuan with exactly two decimals ("50000.00"); fen inside."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update(
            {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,15})\.[0-9]{2}$", "example": "50000.00"})
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_yuan(int(value))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return parse_yuan(value)
        except MoneyFormatError as exc:
            raise ValidationError(str(exc)) from None


class Share(fields.Field):
    """A decimal share string ("0.80"); basis points inside."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"type": "string", "pattern": r"^(0|1)(\.[0-9]{1,4})?$",
                                                   "example": "0.80"})
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format_share(int(value))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return parse_share(value)
        except MoneyFormatError as exc:
            raise ValidationError(str(exc)) from None


class CreditCode(fields.String):
    """An 18-character unified social credit code with a valid check character (GB 32100)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"minLength": 18, "maxLength": 18, "example": "91450100000000001B"})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not valid_credit_code(text):
            raise ValidationError("must be an 18-character unified social credit code with a valid check character")
        return text


class StrictBoolean(fields.Boolean):
    """Only JSON true or false: "yes", 1 or "false" are refused rather than guessed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer: no floats, strings or booleans."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be an integer")
        return super()._deserialize(value, attr, data, **kwargs)


class IsoDate(fields.Field):
    """A calendar date YYYY-MM-DD, kept as its ISO string."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"type": "string", "format": "date"})
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return value

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or len(value) != 10:
            raise ValidationError("must be a date YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValidationError("must be a date YYYY-MM-DD") from None


def Text(max_length: int = 500, **kwargs: Any) -> fields.String:
    """Free text with a bound, so a huge string is a 400 rather than a stored burden."""
    from marshmallow.validate import Length

    extra = kwargs.pop("validate", None)
    validators = [Length(max=max_length), *([extra] if callable(extra) else (extra or []))]
    return fields.String(validate=validators, **kwargs)


def Year(**kwargs: Any) -> StrictInteger:
    from marshmallow.validate import Range

    return StrictInteger(validate=Range(min=2000, max=2100), **kwargs)


def QueryYear(**kwargs: Any) -> fields.Integer:
    """A year in a query string, where every value arrives as text."""
    from marshmallow.validate import Range

    return fields.Integer(strict=False, validate=Range(min=2000, max=2100), **kwargs)


class PlainName:
    """A registered name (登记名称) or reference: letters, marks, digits, punctuation and spaces only.

    No emoji or other symbols, no invisible format characters, no private-use or unassigned code
    points: a name must read the same on the screen, in an export and in the public notice (公示).
    """

    ALLOWED = ("L", "M", "N", "P", "Zs")

    def __call__(self, value: Any) -> Any:
        import unicodedata

        if isinstance(value, str):
            for char in value:
                if not unicodedata.category(char).startswith(self.ALLOWED):
                    raise ValidationError(f"must contain only letters, digits, punctuation and spaces "
                                          f"(not U+{ord(char):04X})")
        return value


def safe_document_uri(value: str) -> bool:
    """A document reference that points nowhere it should not: no `..` however encoded (Art. 13).

    http(s), s3 and oss URIs need a host; file URIs an absolute path (`file:///...`). The ledger never
    opens these, but a reference like `file://../../etc/passwd` must not be recorded as evidence.
    """
    from urllib.parse import unquote, urlsplit

    # The value is a str (fields.String) the request guard already found free of control characters
    # (web/guard.py): only what decoding reveals is checked again below.
    if "\\" in value:
        return False
    decoded = value
    for _ in range(3):  # %252e%252e → %2e%2e → ..
        decoded = unquote(decoded)
    if "\\" in decoded or text_problem(decoded):
        return False
    try:
        parts = urlsplit(decoded)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https", "s3", "oss", "file"):
        return False
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return False
    elif not parts.netloc or parts.netloc.startswith("."):
        return False
    return not any(segment in ("..", ".") for segment in parts.path.split("/"))


class DocumentUri(fields.String):
    """A document's URI: http(s)://host/..., s3://bucket/..., oss://bucket/... or file:///abs/path."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"minLength": 1, "maxLength": 1000,
                                                  "pattern": r"^(https?|s3|oss|file)://[^\s]*$",
                                                  "example": "https://docs.example.org/licence.pdf"})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not 1 <= len(text) <= 1000 or not safe_document_uri(text):
            raise ValidationError("must be an http(s), s3 or oss URI with a host, or file:/// with an absolute "
                                  "path, and no '..' segments")
        return text


class Instant(fields.Field):
    """An ISO 8601 instant with its UTC offset ("2026-06-01T09:30:00+08:00" or "...Z"); none is refused.

    Without an offset the instant would depend on the server's time zone, so it is a 400.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"type": "string", "format": "date-time",
                                                  "example": "2026-06-01T09:30:00+08:00"})
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else (value if isinstance(value, str) else value.isoformat())

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        message = "must be an ISO 8601 instant with offset, e.g. 2026-06-01T09:30:00+08:00"
        if isinstance(value, str) and len(value) > 6 and value[-6] == " " and value[-5:-3].isdigit():
            # An unencoded "+" in a query string arrives as a space: "...T09:30:00 08:00" meant +08:00.
            value = value[:-6] + "+" + value[-5:]
        if not isinstance(value, str) or not 10 < len(value) <= 40 or "T" not in value.upper():
            raise ValidationError(message)
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(message) from None
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValidationError(message)
        return instant
