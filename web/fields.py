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
