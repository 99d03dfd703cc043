"""The base of every request body: the checks every field gets, in one place.

`RequestModel` refuses unknown fields and, for every field, whatever pydantic's own type
says:

- a string holding a control character (`db.text.control_character`), anywhere in the
  field, nested lists and mappings included. A field annotated `FreeText` may hold tab,
  line feed and carriage return;
- a JSON ``true``/``false`` where a number is expected: pydantic's lax mode would read
  ``false`` as 0, and a boolean is not a number;
- ``NaN`` and ``Infinity`` (Python's JSON reader accepts the literals; no quantity here is
  ever infinite).

Both are 422s naming the field, like every other validation error.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from db.text import FREE_TEXT_CONTROLS, control_character


class _FreeTextMarker:
    """Field metadata: this text may hold tab, line feed and carriage return."""

    def __repr__(self) -> str:
        return "FreeText"


FREE_TEXT = _FreeTextMarker()

FreeText = Annotated[str, FREE_TEXT]
"""Free text (descriptions, rationales): tab and line breaks allowed, other controls not."""


def _control_in(value: object, allowed: frozenset[str]) -> str | None:
    if isinstance(value, str):
        return control_character(value, allowed=allowed)
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            found = _control_in(item, allowed)
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _control_in(key, allowed) or _control_in(item, allowed)
            if found is not None:
                return found
    return None


def _bool_read_as_number(raw: object, result: object) -> bool:
    """Did validation turn a JSON boolean into a number (here or in a nested list)?"""
    if isinstance(raw, bool):
        return not isinstance(result, bool) and isinstance(result, int | float)
    if isinstance(raw, list) and isinstance(result, list | tuple) and len(raw) == len(result):
        return any(_bool_read_as_number(r, v) for r, v in zip(raw, result, strict=True))
    return False


class RequestModel(BaseModel):
    """Base of every request body schema (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="wrap")
    @classmethod
    def _no_controls_no_bool_numbers(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        result = handler(value)
        if _bool_read_as_number(value, result):
            raise PydanticCustomError(
                "bool_is_not_number", "a boolean is not a number: send a number"
            )
        field = cls.model_fields.get(info.field_name or "")
        free = field is not None and any(m is FREE_TEXT for m in field.metadata)
        found = _control_in(result, FREE_TEXT_CONTROLS if free else frozenset())
        if found is not None:
            allowed = " (tab and line breaks are allowed here)" if free else ""
            raise PydanticCustomError(
                "control_character",
                "holds the control character {code}; send printable text{allowed}",
                {"code": found, "allowed": allowed},
            )
        return result
