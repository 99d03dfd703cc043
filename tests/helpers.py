"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

MakeAccount = Callable[..., tuple[int, str]]
"""``make_account(role, name=None) -> (account id, API key)``."""


def auth(key: str) -> dict[str, str]:
    """Authorization headers for an API key."""
    return {"Authorization": f"Bearer {key}"}
