"""The demo that `make run` seeds into an empty database (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.identity import Account, Role, create_account, issue_api_key

DEMO_ADMIN = "admin"


@dataclass(frozen=True)
class SeedReport:
    """What the seed did: the admin's fresh API key and whether the demo was new."""

    admin_key: str
    created: bool


def seed_demo(session: Session) -> SeedReport:
    """Create the demo admin unless it exists, and issue it a fresh API key.

    Keys are stored hashed, so an old key cannot be shown again; every start issues a new one.
    """
    admin = session.scalar(select(Account).where(Account.name == DEMO_ADMIN))
    created = admin is None
    if admin is None:
        admin = create_account(session, DEMO_ADMIN, Role.ADMIN)
    return SeedReport(admin_key=issue_api_key(session, admin), created=created)
