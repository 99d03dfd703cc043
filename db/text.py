"""Text that may be stored: the one check for control characters and impersonating names.

Every string that enters the system from outside passes `control_character` (request
bodies through `api.schemas.base.RequestModel`, paths and query strings through the API's
request middleware, CSV cells in the observation import). PostgreSQL cannot store NUL in a
text column, and no other C0 control (U+0000–U+001F), DEL (U+007F) or C1 control
(U+0080–U+009F) has a meaning in a name, key or amount; free text (descriptions,
rationales) may hold tab, line feed and carriage return, nothing else.

Names that people read as identities (account and council member names) are also
NFKC-normalised, and refused when they hold invisible or bidirectional-control characters
(Unicode category Cf: zero-width spaces and joiners, RTL overrides and isolates, the BOM,
soft hyphen…), with which one name can be made to look like another (`clean_name`).
"""

from __future__ import annotations

import unicodedata

from db.errors import InvalidInputError

FREE_TEXT_CONTROLS = frozenset("\t\n\r")
"""Controls free text may hold: tab, line feed, carriage return (a browser's CRLF)."""


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


def control_character(text: str, *, allowed: frozenset[str] = frozenset()) -> str | None:
    """The first control character of ``text`` not in ``allowed``, as ``U+XXXX``, or None."""
    if text.isprintable():  # fast path: C-level scan, true for ordinary text
        return None
    for ch in text:
        if _is_control(ch) and ch not in allowed:
            return f"U+{ord(ch):04X}"
    return None


def clean_name(name: str, *, what: str = "name") -> str:
    """``name`` in NFKC form, stripped, refused if it could impersonate another.

    Raises:
        InvalidInputError: empty after stripping, or holding a control character or an
            invisible or bidirectional-control character (category Cf), named by code point.
    """
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        raise InvalidInputError(f"the {what} is empty")
    found = control_character(text)
    if found is not None:
        raise InvalidInputError(f"the {what} holds the control character {found}")
    for ch in text:
        if unicodedata.category(ch) == "Cf":
            raise InvalidInputError(
                f"the {what} holds the invisible or direction-changing character "
                f"U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')}), with which one name "
                "can pass for another"
            )
    return text
