"""The one canonical JSON encoding of everything the engine hashes.

Metric version ids, proposal rule hashes, idempotency fingerprints and every audit event
are SHA-256 digests of this encoding, so the same value always gives the same bytes, on
any machine and in any language that follows these rules:

- the value is built from JSON objects with string keys, arrays, strings, integers,
  finite floats, ``true``, ``false`` and ``null`` (tuples are arrays); anything else (NaN,
  infinities, bytes, sets, non-string keys) raises `NotCanonical`;
- no whitespace at all: ``,`` between items and ``:`` between a key and its value;
- object keys in ascending order of their Unicode code points (Python's ``sorted`` on
  ``str``), each key once;
- strings are UTF-8 as written, not ``\\u`` escaped, except: ``"`` → ``\\"``,
  ``\\`` → ``\\\\``, and the control characters U+0000–U+001F, written ``\\b \\t \\n \\f \\r``
  for U+0008, U+0009, U+000A, U+000C, U+000D and ``\\u00xx`` (lowercase hex) for the rest;
  U+007F and everything above is written as itself;
- integers in decimal without leading zeros or a ``+`` (any size);
- floats as their shortest round-trip decimal (Python's ``repr``): always with a ``.`` or an
  exponent, so ``100.0``, ``0.1``, ``-0.0``; exponent form when the decimal exponent is
  below −4 or at least 16, written ``e-05`` / ``e+16`` with a sign and at least two digits
  (``1e-05``, ``1.5e+16``);
- the bytes hashed are the UTF-8 encoding of that text.

This is Python's ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)``; `encode` is that call, checked. Text in ASCII
encodes the same with or without ``ensure_ascii``, so hashes written before this module
(proposal rules, all ASCII) are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


class NotCanonical(ValueError):
    """A value that has no canonical JSON form (NaN, infinity, a non-JSON type)."""


def _check_keys(value: Any) -> None:
    """Refuse a dict key that is not a string: ``json`` would write ``{1: …}`` as ``"1"``
    but sort it as a number, so the text would not read back to itself. Recurses only into
    containers (a plain value costs one type check)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"object keys must be strings, got {key!r}")
            if isinstance(item, dict | list | tuple):
                _check_keys(item)
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, dict | list | tuple):
                _check_keys(item)


def encode(value: Any) -> str:
    """The canonical JSON text of ``value`` (see the module docstring).

    Raises:
        NotCanonical: a non-finite float, a non-string object key, or a value JSON cannot
            represent.
    """
    _check_keys(value)
    try:
        return _ENCODER.encode(value)
    except (ValueError, TypeError) as error:
        raise NotCanonical(f"no canonical JSON for this value: {error}") from None


def encode_parsed(value: Any) -> str:
    """`encode` of a value ``json.loads`` returned (its keys are strings already, its numbers
    finite): the check of keys is skipped, which halves the cost on the verifier's path."""
    return _ENCODER.encode(value)


def encode_bytes(value: Any) -> bytes:
    """The canonical JSON of ``value`` as UTF-8 bytes (what is hashed)."""
    return encode(value).encode("utf-8")


def digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``: 64 lowercase hex digits."""
    return hashlib.sha256(encode_bytes(value)).hexdigest()


def is_canonical(text: str) -> bool:
    """Whether ``text`` is exactly the canonical JSON of the value it parses to."""
    try:
        return encode(json.loads(text)) == text
    except (ValueError, NotCanonical):
        return False
