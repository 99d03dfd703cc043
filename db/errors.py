"""The root of every error this project raises on purpose.

Each package keeps its own tree in its `errors.py`, all rooted here::

    FutarchyError
    ├── market.errors.MarketError        (LMSR math, assets, conditional cash, trading)
    ├── welfare.errors.WelfareError      (council, motions, metric versions, measurement)
    └── db.errors.PersistenceError       (configuration and database state)

Domain errors know nothing of HTTP; `api/problems.py` maps them to problem+json in one
table. Every message is a sentence a user can act on.
"""

from __future__ import annotations


class FutarchyError(Exception):
    """Base of all deliberate errors in the project."""


class PersistenceError(FutarchyError):
    """The database or its configuration is not in a usable state."""


class NotFoundError(FutarchyError):
    """A referenced entity does not exist (HTTP 404)."""


class ConflictError(FutarchyError):
    """The request is well-formed but the current state forbids it (HTTP 409)."""


class InvalidInputError(FutarchyError, ValueError):
    """The input itself is malformed or out of range (HTTP 422)."""
