"""Decimal strings ↔ micro-units: exact both ways, every malformed amount refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from api.money import MAX_MICROS, Amount, OptionalLimitAmount, PositiveAmount, format_amount


class _In(BaseModel):
    amount: PositiveAmount
    limit: OptionalLimitAmount = None


class _Out(BaseModel):
    amount: Amount


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("12.5", 12_500_000),
        ("0.000001", 1),
        ("1", 1_000_000),
        ("007.10", 7_100_000),
        ("1000000000", MAX_MICROS),
        ("999999999.999999", MAX_MICROS - 1),
    ],
)
def test_valid_decimal_strings_parse_exactly(text: str, micros: int) -> None:
    assert _In(amount=text).amount == micros


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("NaN", "finite"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("-Infinity", "finite"),
        ("-1", "negative"),
        ("1.0000001", "at most 6"),
        ("1e3", "exponent"),
        ("1E-2", "exponent"),
        ("1000000000.000001", "too large"),
        ("99999999999999999999", "too large"),
        ("9" * 41, "characters long"),
        ("0", "more than zero"),
        ("0.000000", "more than zero"),
        ("", "plain decimal"),
        (" 1", "plain decimal"),
        ("1,000", "plain decimal"),
        ("+1", "plain decimal"),
        (".5", "plain decimal"),
        ("5.", "plain decimal"),
        (12.5, "decimal strings"),
        (12, "decimal strings"),
        (True, "decimal string"),
        (None, "decimal string"),
        (["1"], "decimal string"),
    ],
)
def test_malformed_amounts_are_refused_with_a_reason(value: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        _In(amount=value)
    errors = info.value.errors()
    assert errors[0]["loc"] == ("amount",)
    assert fragment in errors[0]["msg"]


def test_a_limit_may_be_zero_or_absent_but_not_negative() -> None:
    assert _In(amount="1").limit is None
    assert _In(amount="1", limit="0").limit == 0
    assert _In(amount="1", limit="0.25").limit == 250_000
    with pytest.raises(ValidationError, match="negative"):
        _In(amount="1", limit="-0.25")


@pytest.mark.parametrize(
    ("micros", "text"),
    [(12_500_000, "12.5"), (1, "0.000001"), (0, "0"), (-2_000_000, "-2"), (10_000_010, "10.00001")],
)
def test_amounts_render_as_the_shortest_exact_decimal(micros: int, text: str) -> None:
    assert format_amount(micros) == text
    assert _Out(amount=micros).model_dump(mode="json") == {"amount": text}


@given(st.integers(min_value=1, max_value=MAX_MICROS))
def test_rendering_then_parsing_is_the_identity(micros: int) -> None:
    assert _In(amount=format_amount(micros)).amount == micros
