"""Who is acting: accounts, their role, and their API keys (stored hashed).

Identity is shared by the trading side (`market`) and the council side (`welfare`), so it
lives here rather than in either. An API key is 32 random bytes; only its SHA-256 is kept,
which is enough for a key of that entropy (no password stretching needed). The plaintext is
returned once, when issued; afterwards a key is shown by its id and `ApiKey.prefix` (the
``fut_`` marker and the first six random characters: enough to tell keys apart, useless to
an attacker who needs the other 37).

Names are what people read as identities, so `create_account` stores a name in NFKC form
and refuses invisible and direction-changing characters (`db.text.clean_name`): ``alice``
followed by a zero-width space, or a right-to-left override, cannot pass for ``alice``.
Uniqueness is checked on that normalised name.

Revocation (`revoke_api_key`) is permanent and idempotent: it stamps ``revoked_at`` once;
`account_for_key_hash` finds only unrevoked keys. Revoking an account's last live key is
allowed (a leaked key must always be revocable by its holder) and reported: the account
then cannot authenticate until an admin issues it a new key.

Each change appends its event to the governance stream of the audit log (`db.audit`), in
the same transaction: ``account.created`` (id, name, role), ``key.issued`` (the key's id and
the account's role: never the key, nor its hash) and ``key.revoked`` (the first revocation
only; revoking again changes nothing and records nothing). docs/audit.md lists the fields.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from db import audit
from db.audit_chain import iso_instant
from db.base import Base
from db.errors import ConflictError, InvalidInputError, NotFoundError
from db.text import clean_name
from db.types import UTCDateTime, utcnow

KEY_PREFIX = "fut_"
"""Every API key starts with this marker."""

DISPLAY_PREFIX_LENGTH = 10
"""Characters of a key kept in clear as its display prefix: ``fut_`` and six random ones."""

MAX_NAME = 100
"""Most characters in an account name (after NFKC normalisation)."""


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


class InvalidAccountName(InvalidInputError):
    """The name is empty, too long, or holds a control, invisible or bidi character."""


class UnknownApiKey(NotFoundError):
    """No API key with that id belongs to that account."""


def hash_key(plaintext: str) -> str:
    """SHA-256 hex digest of an API key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def account_name(name: str) -> str:
    """The name as it is stored: NFKC-normalised and stripped.

    Raises:
        InvalidAccountName: empty, longer than `MAX_NAME` characters once normalised, or
            holding a control, invisible or bidirectional-control character; every problem
            is named in the one message.
    """
    problems = []
    normalised = unicodedata.normalize("NFKC", name).strip()
    if len(normalised) > MAX_NAME:
        problems.append(
            f"the account name has {len(normalised)} characters; send at most {MAX_NAME}"
        )
    try:
        cleaned = clean_name(name, what="account name")
    except InvalidInputError as exc:
        problems.insert(0, f"{exc}; send a name of visible, printable characters")
        cleaned = ""
    if problems:
        raise InvalidAccountName("; ".join(problems))
    return cleaned


def create_account(session: Session, name: str, role: str) -> Account:
    """Create an account named `account_name` ``(name)``.

    Raises:
        InvalidAccountName: the name is empty, too long, or could pass for another
            (`account_name`); a bad role too is named in the same message.
        InvalidRole: ``role`` is not admin, council or trader (and the name is fine).
        DuplicateAccount: an account has the same normalised name (also when a concurrent
            request took it first).
    """
    name_problem = role_problem = ""
    try:
        name = account_name(name)
    except InvalidAccountName as exc:
        name_problem = str(exc)
    try:
        checked = Role(role)
    except ValueError:
        role_problem = f"role must be one of {', '.join(r.value for r in Role)}, not {role!r}"
    if name_problem:
        raise InvalidAccountName("; ".join(p for p in (name_problem, role_problem) if p))
    if role_problem:
        raise InvalidRole(role_problem)
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise DuplicateAccount(f"an account named {name!r} exists already; choose another name")
    account = Account(name=name, role=checked.value)
    try:
        with session.begin_nested():  # the unique name index decides a race
            session.add(account)
    except IntegrityError:
        raise DuplicateAccount(
            f"an account named {name!r} exists already; choose another name"
        ) from None
    audit.record(
        session,
        "account.created",
        {"account_id": account.id, "name": account.name, "role": account.role},
    )
    return account


def get_account(session: Session, account_id: int) -> Account:
    """The account with this id, or `UnknownAccount`."""
    account = session.get(Account, account_id)
    if account is None:
        raise UnknownAccount(f"no account with id {account_id}")
    return account


def account_by_name(session: Session, name: str) -> Account:
    """The account with this name (compared in its normalised form, `account_name`).

    Raises:
        InvalidAccountName: the name could not be an account's name.
        UnknownAccount: no account has it.
    """
    normalised = account_name(name)
    account = session.scalar(select(Account).where(Account.name == normalised))
    if account is None:
        raise UnknownAccount(f"no account named {normalised!r}")
    return account


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just issued: its plaintext (shown only now), id and display prefix."""

    id: int
    account_id: int
    prefix: str
    plaintext: str


def issue_key(session: Session, account: Account) -> IssuedKey:
    """Issue a new API key for ``account``.

    The key is `KEY_PREFIX` and 43 URL-safe characters (32 random bytes); the database
    keeps its SHA-256 and its first `DISPLAY_PREFIX_LENGTH` characters. The audit log
    records only the key's id and the account's role (``key.issued``).
    """
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        account_id=account.id,
        key_hash=hash_key(plaintext),
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
    )
    session.add(row)
    session.flush()
    audit.record(
        session, "key.issued", {"key_id": row.id, "account_id": account.id, "role": account.role}
    )
    return IssuedKey(id=row.id, account_id=account.id, prefix=row.prefix, plaintext=plaintext)


def issue_api_key(session: Session, account: Account) -> str:
    """Issue a new API key for ``account`` and return its plaintext (shown only now)."""
    return issue_key(session, account).plaintext


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


def list_api_keys(
    session: Session, account_id: int, *, after_id: int = 0, limit: int = 100
) -> list[ApiKey]:
    """One page of an account's keys, revoked ones included, by id (`db.paging`).

    Raises:
        UnknownAccount: no such account.
    """
    get_account(session, account_id)
    stmt = (
        select(ApiKey)
        .where(ApiKey.account_id == account_id, ApiKey.id > after_id)
        .order_by(ApiKey.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def live_key_count(session: Session, account_id: int) -> int:
    """How many unrevoked keys the account holds."""
    stmt = select(func.count(ApiKey.id)).where(
        ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None)
    )
    return int(session.scalar(stmt) or 0)


@dataclass(frozen=True, slots=True)
class Revocation:
    """The state after `revoke_api_key`.

    Attributes:
        key: the revoked key (its ``revoked_at`` is the first revocation's time).
        live_keys: unrevoked keys the account still holds.
    """

    key: ApiKey
    live_keys: int

    @property
    def locked_out(self) -> bool:
        """True when the account has no live key left and cannot authenticate."""
        return self.live_keys == 0


def revoke_api_key(
    session: Session, account_id: int, key_id: int, *, now: datetime | None = None
) -> Revocation:
    """Revoke one of an account's keys; revoking a revoked key changes nothing.

    Locks the account row first (PostgreSQL ``FOR UPDATE``; SQLite serialises writers), so
    two concurrent revocations of an account's last two keys both see the true count.

    Raises:
        UnknownAccount: no such account.
        UnknownApiKey: the account holds no key with this id.
    """
    account = session.scalar(select(Account).where(Account.id == account_id).with_for_update())
    if account is None:
        raise UnknownAccount(f"no account with id {account_id}")
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account_id))
    if key is None:
        raise UnknownApiKey(f"account {account_id} has no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.flush()
        audit.record(
            session,
            "key.revoked",
            {
                "key_id": key.id,
                "account_id": account_id,
                "revoked_at": iso_instant(key.revoked_at),
            },
        )
    return Revocation(key=key, live_keys=live_key_count(session, account_id))
