"""Money: integer fen inside, two-decimal yuan strings at the edge, shares rounding down (DOMAIN.md "Money")."""

from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.money import (
    BASIS_POINTS, MoneyFormatError, format_share, format_yuan, parse_share, parse_yuan, share_of, yuan,
)

FEN = st.integers(min_value=0, max_value=10**17)
SHARES = st.integers(min_value=0, max_value=BASIS_POINTS)


def test_parse_yuan_reads_two_decimals_into_fen():
    assert parse_yuan("50000.00") == 5_000_000
    assert parse_yuan("0.01") == 1
    assert parse_yuan("0.00") == 0
    assert parse_yuan("123.45") == 12_345


@pytest.mark.parametrize("text", [
    "50000", "50000.0", "50000.000", "1.234", "-1.00", "+1.00", "1,000.00", " 1.00", "1.00 ", "01.00",
    "1e3", "NaN", "Infinity", "", "abc", "1.0a", "１.00", "1.00\n", ".50",
])
def test_parse_yuan_refuses_anything_but_exactly_two_decimals(text):
    with pytest.raises(MoneyFormatError):
        parse_yuan(text)


@pytest.mark.parametrize("value", [100, 100.0, 1.5, None, True, Decimal("1.00"), ["1.00"]])
def test_parse_yuan_refuses_numbers_and_other_types(value):
    # Floats never touch money: even a JSON number that looks exact is refused.
    with pytest.raises(MoneyFormatError):
        parse_yuan(value)


@given(FEN)
def test_yuan_strings_round_trip_exactly(fen):
    text = format_yuan(fen)
    assert parse_yuan(text) == fen
    whole, cents = text.split(".")
    assert len(cents) == 2 and whole.isdigit()


@given(st.integers(min_value=-(10**15), max_value=-1))
def test_negative_fen_keep_their_sign_when_formatted(fen):
    assert format_yuan(fen) == "-" + format_yuan(-fen)


def test_yuan_convenience_takes_whole_yuan_or_a_string():
    assert yuan(100_000) == 10_000_000
    assert yuan("0.10") == 10


@pytest.mark.parametrize("text, bp", [("0.80", 8000), ("0.5", 5000), ("0", 0), ("1", 10_000), ("1.0000", 10_000),
                                      ("0.2", 2000), ("0.1234", 1234)])
def test_parse_share_into_basis_points(text, bp):
    assert parse_share(text) == bp


@pytest.mark.parametrize("text", ["0.12345", "1.01", "1.5", "2", "-0.5", "80%", "", ".8", "0.8\n", 0.8, 1, None])
def test_parse_share_refuses_out_of_range_or_malformed(text):
    with pytest.raises(MoneyFormatError):
        parse_share(text)


@given(SHARES)
def test_shares_round_trip(bp):
    assert parse_share(format_share(bp)) == bp


def test_format_share_uses_two_decimals_where_exact():
    assert format_share(8000) == "0.80"
    assert format_share(1234) == "0.1234"
    assert format_share(10_000) == "1.00"


@given(FEN, SHARES)
def test_share_of_rounds_down_to_the_fen(amount, bp):
    # A subsidy computed from a ratio never exceeds its cap: floor(amount × share).
    exact = Decimal(amount) * Decimal(bp) / Decimal(BASIS_POINTS)
    result = share_of(amount, bp)
    assert result == int(exact.to_integral_value(rounding=ROUND_FLOOR))
    assert result * BASIS_POINTS <= amount * bp < (result + 1) * BASIS_POINTS


def test_share_of_worked_examples():
    assert share_of(yuan(100_000), 8000) == yuan(80_000)
    assert share_of(yuan(100_000), 2000) == yuan(20_000)
    assert share_of(1, 5000) == 0  # half a fen rounds down
    assert share_of(333, 5000) == 166  # ¥3.33 × 50% = ¥1.665 → ¥1.66


@given(FEN, SHARES, SHARES)
def test_subsidy_and_deposit_never_exceed_the_amount(amount, share, deposit):
    # The split of a contract adds back exactly: deposit + subsidy + balance = amount, balance ≥ 0
    # whenever the two shares together are at most 1.
    if share + deposit > BASIS_POINTS:
        return
    subsidy, dep = share_of(amount, share), share_of(amount, deposit)
    balance = amount - subsidy - dep
    assert balance >= 0 and subsidy + dep + balance == amount


@pytest.mark.parametrize("fen, words", [
    (0, "零元整"), (5, "伍分"), (50, "伍角整"), (100, "壹元整"), (1000, "壹拾元整"), (1005, "壹拾元零伍分"),
    (1050, "壹拾元伍角整"), (102000, "壹仟零贰拾元整"), (10001000, "壹拾万零壹拾元整"), (100000000, "壹佰万元整"),
    (10000000100, "壹亿零壹元整"), (12345678, "壹拾贰万叁仟肆佰伍拾陆元柒角捌分"),
    (100100000, "壹佰万壹仟元整"), (2000000000, "贰仟万元整"), (-150, "负壹元伍角整"),
])
def test_capital_yuan_writes_amounts_as_on_payment_documents(fen: int, words: str) -> None:
    from ledger.money import capital_yuan

    assert capital_yuan(fen) == words
