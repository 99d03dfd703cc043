"""Money and shares at the API: decimal strings in, decimal strings out, micro-units inside.

Every amount of cash or shares crosses the API as a JSON *string* holding a plain decimal
number with at most six decimals, e.g. ``"12.5"`` or ``"0.000001"``; inside it is an
integer of micro-units (``1 unit = 1_000_000 micros``), exactly, with no float on the way.

Parsing (`parse_micros`) refuses, each with a sentence saying what to send instead:

- anything that is not a string (a JSON number could already have lost digits as a float);
- NaN and infinities, exponent forms (``"1e3"``), signs other than a leading ``-`` (and
  the ``-`` only where negatives are allowed, which no request field is today), blanks,
  thousands separators, a bare ``"."``;
- more than six decimals (an amount finer than one micro-unit);
- an amount above `MAX_UNITS` (``1e9`` units: the largest single operation the services
  accept), and zero where the field must be positive.

Rendering (`format_amount`) writes the shortest exact decimal: ``12_500_000 → "12.5"``,
``1 → "0.000001"``, ``0 → "0"``, ``-2_000_000 → "-2"``. Parsing the rendered text gives
the same integer back.

The pydantic types bind these to schema fields: `PositiveAmount` (requests: > 0),
`OptionalLimitAmount` (request limits: ≥ 0, may be omitted) and `Amount` (responses: any
integer of micros, rendered as a string). Their OpenAPI schema is a string with a pattern.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from market.book import format_micros

MICROS = 1_000_000
"""Micro-units per unit of cash or per share."""

DECIMALS = 6
"""Most decimals an amount may have (one micro-unit is ``0.000001``)."""

MAX_UNITS = 10**9
"""Largest amount a request may carry, in units (``10**15`` micro-units)."""

MAX_MICROS = MAX_UNITS * MICROS

_MAX_TEXT = 40
"""Longest amount text looked at; longer text is refused before any parsing."""

_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_PATTERN = r"^[0-9]+(\.[0-9]{1,6})?$"
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("amount", message)


def parse_micros(value: object, *, positive: bool = True, allow_negative: bool = False) -> int:
    """A decimal string as an integer of micro-units (exact).

    Args:
        value: the JSON value sent; must be a string such as ``"12.5"``.
        positive: refuse zero.
        allow_negative: accept a leading ``-``.

    Returns:
        ``round(value · 1e6)``, which is exact because at most six decimals are accepted;
        ``|result| ≤ MAX_MICROS``.

    Raises:
        pydantic_core.PydanticCustomError: the text is not an acceptable amount (FastAPI
            turns it into a 422 naming the field).
    """
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
            example = value if isinstance(value, int) or abs(value) < 1e15 else 12.5
            raise _refuse(
                f'send amounts as decimal strings, e.g. "{example}" rather than {example}, '
                "so no digit is lost on the way"
            )
        if isinstance(value, float):
            raise _refuse('must be a finite decimal string such as "12.5"')
        raise _refuse('must be a decimal string such as "12.5"')
    if len(value) > _MAX_TEXT:
        raise _refuse(
            f"is {len(value)} characters long; an amount is at most {MAX_UNITS} "
            f"with {DECIMALS} decimals"
        )
    if value.strip().lower() in _NON_FINITE:
        raise _refuse(f"must be a finite number, got {value!r}")
    match = _DECIMAL.fullmatch(value)
    if match is None:
        if re.fullmatch(r"[-+]?[0-9.]*[eE][-+]?[0-9]+", value.strip()):
            raise _refuse(
                f"exponent notation is not accepted, got {value!r}; write the number out, "
                'e.g. "1500" or "0.0015"'
            )
        raise _refuse(
            f'must be a plain decimal number such as "12.5" (digits, at most one point, '
            f"no spaces or signs), got {value!r}"
        )
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if sign and not allow_negative:
        raise _refuse(f"must not be negative, got {value!r}")
    if len(frac) > DECIMALS:
        raise _refuse(
            f"has {len(frac)} decimals; at most {DECIMALS} are allowed (one micro-unit is "
            f"0.000001), got {value!r}"
        )
    micros = int(whole) * MICROS + int(frac.ljust(DECIMALS, "0") or "0")
    if micros > MAX_MICROS:
        raise _refuse(f"is too large: at most {MAX_UNITS} is accepted, got {value!r}")
    if positive and micros == 0:
        raise _refuse(f"must be more than zero, got {value!r}")
    return -micros if sign else micros


format_amount = format_micros
"""Micro-units as the shortest exact decimal string: ``12_500_000 → "12.5"`` (the same
rendering the domain's error messages use, `market.book.format_micros`)."""


def _positive(value: Any) -> int:
    return parse_micros(value, positive=True)


def _non_negative(value: Any) -> int | None:
    if value is None:
        return None
    return parse_micros(value, positive=False)


def _render(micros: int) -> str:
    return format_amount(micros)


_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": _PATTERN,
    "examples": ["12.5"],
    "description": f"A decimal string, at most {DECIMALS} decimals and at most {MAX_UNITS}.",
}

PositiveAmount = Annotated[
    int,
    BeforeValidator(_positive),
    PlainSerializer(_render, return_type=str),
    WithJsonSchema({**_REQUEST_SCHEMA, "description": _REQUEST_SCHEMA["description"] + " > 0."}),
]
"""A request amount > 0: decimal string in, micro-units inside."""

OptionalLimitAmount = Annotated[
    int | None,
    BeforeValidator(_non_negative),
    WithJsonSchema(
        {**_REQUEST_SCHEMA, "description": "Optional; " + _REQUEST_SCHEMA["description"]}
    ),
]
"""An optional request amount ≥ 0 (a price or cash limit): decimal string or null."""

Amount = Annotated[
    int,
    PlainSerializer(_render, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]+(\.[0-9]{1,6})?$",
            "examples": ["12.5"],
            "description": "An exact decimal string (shortest form, at most 6 decimals).",
        }
    ),
]
"""A response amount: micro-units inside, rendered as the shortest exact decimal string."""
