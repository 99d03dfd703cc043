"""Who is acting: accounts, their role, and their API keys (stored hashed).

Identity is shared by the trading side (`market`) and the council side (`welfare`), so it
lives here rather than in either. An API key is 32 random bytes; only its SHA-256 is kept,
which is enough for a key of that entropy (no password stretching needed). The plaintext is
returned once, when issued.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.base import Base
from db.errors import ConflictError, InvalidInputError, NotFoundError
from db.types import UTCDateTime, utcnow

KEY_PREFIX = "fut_"


class Role(enum.StrEnum):
    """What an account may do. Checked on every route."""

    ADMIN = "admin"
    COUNCIL = "council"
    TRADER = "trader"


class Account(Base):
    """A person or service acting on the system."""

    __tablename__ = "account"
    __table_args__ = (CheckConstraint("role IN ('admin', 'council', 'trader')", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """An API key: only its SHA-256 hex digest and a short display prefix are stored."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class UnknownAccount(NotFoundError):
    """No account with that id."""


class DuplicateAccount(ConflictError):
    """An account with that name exists already."""


class InvalidRole(InvalidInputError):
    """The role is not one of admin, council, trader."""


def hash_key(plaintext: str) -> str:
    """SHA-256 hex digest of an API key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_account(session: Session, name: str, role: str) -> Account:
    """Create an account.

    Raises:
        InvalidRole: ``role`` is not admin, council or trader.
        DuplicateAccount: the name is taken.
    """
    try:
        checked = Role(role)
    except ValueError:
        raise InvalidRole(
            f"role must be one of {', '.join(r.value for r in Role)}, not {role!r}"
        ) from None
    name = name.strip()
    if not name:
        raise InvalidInputError("an account needs a non-empty name")
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise DuplicateAccount(f"an account named {name!r} exists already")
    account = Account(name=name, role=checked.value)
    session.add(account)
    session.flush()
    return account


def get_account(session: Session, account_id: int) -> Account:
    """The account with this id, or `UnknownAccount`."""
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount(f"no account with id {account_id}")
    return account


def issue_api_key(session: Session, account: Account) -> str:
    """Issue a new API key for ``account`` and return its plaintext (shown only now)."""
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(account_id=account.id, key_hash=hash_key(plaintext), prefix=plaintext[:10]))
    session.flush()
    return plaintext


def account_for_key(session: Session, plaintext: str) -> Account | None:
    """The account owning a live (unrevoked) key, or None."""
    return account_for_key_hash(session, hash_key(plaintext))


def account_for_key_hash(session: Session, key_hash: str) -> Account | None:
    """The account owning the live (unrevoked) key with this SHA-256 hex digest, or None."""
    stmt = (
        select(Account)
        .join(ApiKey, ApiKey.account_id == Account.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    return session.scalar(stmt)
