"""One input check for amounts, outcomes and finite numbers, with the same sentences everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.checks import (
    check_amount,
    check_outcome,
    check_outcome_count,
    check_real,
    check_vector,
    format_micros,
    is_int,
)
from market.errors import InvalidMarketInput, InvalidProposal


def test_an_amount_is_a_positive_whole_number_of_micro_units_within_its_bound() -> None:
    assert check_amount(5, "spend") == 5
    with pytest.raises(InvalidMarketInput, match=r"^The spend must be positive, got -0\.000001\.$"):
        check_amount(-1, "spend")
    with pytest.raises(InvalidMarketInput, match=r"whole number of micro-units, got 1\.5"):
        check_amount(1.5, "spend")
    with pytest.raises(InvalidMarketInput, match="got True"):
        check_amount(True, "spend")
    with pytest.raises(InvalidMarketInput, match=r"The spend 2 exceeds the bound of 1 per trade\."):
        check_amount(2_000_000, "spend", bound=1_000_000)
    with pytest.raises(InvalidProposal, match="The subsidy must be positive"):
        check_amount(0, "subsidy", error=InvalidProposal)


def test_an_outcome_is_an_index_of_the_market() -> None:
    assert check_outcome(1, 2) == 1
    assert check_outcome(np.int64(1), 2) == 1
    with pytest.raises(InvalidMarketInput, match=r"Outcome 2 does not exist: .* 0 to 1"):
        check_outcome(2, 2)
    with pytest.raises(InvalidMarketInput, match="Outcome -1 does not exist"):
        check_outcome(-1, 2)
    with pytest.raises(InvalidMarketInput, match="must be an integer index, got '0'"):
        check_outcome("0", 2)
    with pytest.raises(InvalidMarketInput, match="must be an integer index, got False"):
        check_outcome(False, 2)
    assert check_outcome_count(3) == 3
    with pytest.raises(InvalidMarketInput, match="at least two outcomes, got 1"):
        check_outcome_count(1)


def test_a_real_is_a_finite_number() -> None:
    assert check_real(3, "b") == 3.0
    assert check_real(np.float32(0.5), "b") == 0.5
    with pytest.raises(
        InvalidMarketInput, match=r"^The liquidity b must be a finite number, got nan"
    ):
        check_real(math.nan, "The liquidity b")
    with pytest.raises(InvalidMarketInput, match="must be a number, got '1'"):
        check_real("1", "x")
    with pytest.raises(InvalidMarketInput, match=r"must be positive, got 0\.0"):
        check_real(0.0, "x", positive=True)
    with pytest.raises(InvalidMarketInput, match=r"within ±10, got 11\.0"):
        check_real(11, "x", limit=10.0)


def test_a_vector_is_flat_finite_and_as_long_as_the_market() -> None:
    assert check_vector([1, 2.5], "q").tolist() == [1.0, 2.5]
    with pytest.raises(InvalidMarketInput, match="has 3 entries but the market has 2 outcomes"):
        check_vector([1, 2, 3], "The trade vector", n=2)
    with pytest.raises(InvalidMarketInput, match="only finite numbers"):
        check_vector([1.0, math.inf], "q")
    with pytest.raises(InvalidMarketInput, match="only numbers, got True"):
        check_vector([1.0, True], "q")
    with pytest.raises(InvalidMarketInput, match="flat vector"):
        check_vector(np.zeros((2, 2)), "q")
    with pytest.raises(InvalidMarketInput, match="at least two outcomes"):
        check_vector([1.0], "q")


def test_micro_units_are_written_as_the_api_writes_them() -> None:
    assert format_micros(5_124_948) == "5.124948"
    assert format_micros(-1) == "-0.000001"
    assert format_micros(12_500_000) == "12.5"
    assert is_int(3)
    assert not is_int(True)
    assert not is_int(np.int64(3))
