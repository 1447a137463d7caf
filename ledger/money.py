"""Money: integer fen (分) inside, two-decimal yuan strings at the edge; ratios in basis points.

Floats never touch money. A subsidy computed from a ratio rounds down to the fen so it never
exceeds its cap (DOMAIN.md, "Money").
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

FEN_PER_YUAN = 100
BASIS_POINTS = 10_000  # a share of 1 (100%)
# The largest amount the API accepts (16 digits of yuan). Running totals kept by aggregates (a year's
# budget, a provider's cap exceptions) are held within it too, so every read-model column (a signed
# 64-bit integer on both backends) can hold them: an overflowing total would be stored as an event
# that no projection could ever apply.
MAX_FEN = 10**18 - 1

_YUAN = re.compile(r"^(0|[1-9][0-9]{0,15})\.([0-9]{2})$")
_SHARE = re.compile(r"^(0|1)(\.[0-9]{1,4})?$")


class MoneyFormatError(ValueError):
    """Raised when a yuan or share string is not in the exact form the API accepts."""


def parse_yuan(text: object) -> int:
    """Parse a two-decimal yuan string ("50000.00") into fen; anything else is refused."""
    if not isinstance(text, str):
        raise MoneyFormatError("must be a string of yuan with exactly two decimals, e.g. \"50000.00\"")
    match = _YUAN.fullmatch(text)  # fullmatch: `$` alone would let a trailing newline through
    if match is None:
        raise MoneyFormatError("must be a non-negative amount of yuan with exactly two decimals, e.g. \"50000.00\"")
    return int(match.group(1)) * FEN_PER_YUAN + int(match.group(2))


def format_yuan(fen: int) -> str:
    """Format fen as a two-decimal yuan string; negative amounts keep their sign."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def yuan(amount: int | str) -> int:
    """Fen from whole yuan (int) or a yuan string: a convenience for rules and tests."""
    if isinstance(amount, int):
        return amount * FEN_PER_YUAN
    return parse_yuan(amount)


def parse_share(text: object) -> int:
    """Parse a decimal share string ("0.80") into basis points (8000); at most four decimals, 0..1."""
    if not isinstance(text, str) or _SHARE.fullmatch(text) is None:
        raise MoneyFormatError("must be a decimal string between 0 and 1, e.g. \"0.80\"")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already guards this
        raise MoneyFormatError("must be a decimal string, e.g. \"0.80\"") from None
    if value > 1:
        raise MoneyFormatError("must not exceed 1")
    return int(value * BASIS_POINTS)


def format_share(basis_points: int) -> str:
    """Format basis points as a two-decimal share string (8000 -> "0.80"); finer shares keep 4 decimals."""
    value = Decimal(basis_points) / BASIS_POINTS
    return f"{value:.2f}" if basis_points % 100 == 0 else f"{value:.4f}"


def share_of(amount_fen: int, share_bp: int) -> int:
    """The share of an amount in fen, rounded down to the fen (never above the share)."""
    return amount_fen * share_bp // BASIS_POINTS


_CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CAPITAL_SMALL = ("", "拾", "佰", "仟")
_CAPITAL_GROUPS = ("", "万", "亿", "万亿")


def _capital_integer(number: int) -> str:
    """A whole number in capital numerals, one 零 for each run of zeros between digits."""
    groups = []
    while number:
        number, group = divmod(number, 10_000)
        groups.append(group)
    out, pending_zero = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            pending_zero = bool(out)
            continue
        if out and (pending_zero or group < 1000):
            out += "零"
        pending_zero = False
        part, zero = "", False
        for place in range(3, -1, -1):
            digit = group // 10**place % 10
            if digit == 0:
                zero = bool(part)
                continue
            if zero:
                part, zero = part + "零", False
            part += _CAPITAL_DIGITS[digit] + _CAPITAL_SMALL[place]
        out += part + _CAPITAL_GROUPS[index]
    return out


def capital_yuan(fen: int) -> str:
    """An amount in Chinese capital numerals (大写金额) as written on payment documents:
    12345678 fen → "壹拾贰万叁仟肆佰伍拾陆元柒角捌分"; whole yuan or jiao end in 整; zero is 零元整."""
    if fen < 0:
        return "负" + capital_yuan(-fen)
    whole, cents = divmod(fen, FEN_PER_YUAN)
    jiao, fen_digit = divmod(cents, 10)
    if whole == 0 and cents == 0:
        return "零元整"
    out = _capital_integer(whole) + "元" if whole else ""
    if jiao:
        out += _CAPITAL_DIGITS[jiao] + "角"
    elif fen_digit and whole:
        out += "零"
    if fen_digit:
        return out + _CAPITAL_DIGITS[fen_digit] + "分"
    return out + "整"
