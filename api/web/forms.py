"""Reading the pages' forms: a small urlencoded body, printable fields, errors by field.

Forms post ``application/x-www-form-urlencoded`` (the browser's default). The body is read
here, not by a multipart library: at most `MAX_FORM_BYTES`, at most `MAX_FIELDS` fields,
each name and value free of control characters (`db.text.control_character`), the last
value of a repeated name kept. Anything else is a `FormRefused` (a 4xx page, nothing
changed).

A form's own errors (an amount that is not a number, a refused trade) are a `FieldErrors`:
a message per field name, shown next to that field; ``""`` names the form as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import ValidationError

from db.text import control_character

MAX_FORM_BYTES = 16 * 1024
"""Largest form body read (every form here is a handful of short fields)."""

MAX_FIELDS = 32
"""Most fields a form may send."""


class FormRefused(Exception):
    """The form cannot be read at all (too large, wrong type, control characters).

    Attributes:
        status: the HTTP status to answer with (400, 413, 415 or 422).
        detail: what was wrong, as a sentence.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields, name → value (see the module docstring).

    Raises:
        FormRefused: the body is not a small urlencoded form of printable text.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused(
            415, "send the form as application/x-www-form-urlencoded (as a browser does)"
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormRefused(413, f"the form is larger than {MAX_FORM_BYTES // 1024} KiB")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRefused(400, "the form is not UTF-8 text with a few fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        found = control_character(name) or control_character(value)
        if found is not None:
            raise FormRefused(
                422, f"the field {name[:40]!r} holds the control character {found}; send text"
            )
        fields[name] = value
    return fields


@dataclass
class FieldErrors:
    """Messages by field name (``""``: the whole form) and the values to show again."""

    messages: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    status: int = 422

    def __bool__(self) -> bool:
        return bool(self.messages)

    def add(self, name: str, message: str) -> None:
        """Record a message for a field (the first one per field is kept)."""
        self.messages.setdefault(name, message)


def errors_of(exc: ValidationError, names: dict[str, str]) -> dict[str, str]:
    """A pydantic validation error as messages by form field.

    Args:
        exc: the error from validating a request schema built from the form.
        names: schema field → form field (schema fields not listed map to ``""``).
    """
    messages: dict[str, str] = {}
    for err in exc.errors():
        loc = err.get("loc", ())
        key = str(loc[0]) if loc else ""
        messages.setdefault(names.get(key, ""), str(err.get("msg", "invalid")))
    return messages
