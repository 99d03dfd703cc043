"""Schemas for accounts and API keys.

A key is shown in full once, when issued (`ApiKeyIssued`); afterwards only by its id, its
display prefix (``fut_`` and six characters), and when it was created and revoked
(`ApiKeyRead`). Neither the key nor its hash ever leaves the server again.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas.base import RequestModel
from db.identity import MAX_NAME, ApiKey, Revocation, Role, account_name


class AccountCreate(RequestModel):
    """A new account. The name is stored NFKC-normalised; invisible and direction-changing
    characters (zero-width spaces, RTL overrides…) are refused, as one name could pass for
    another with them."""

    name: str = Field(min_length=1, max_length=MAX_NAME, examples=["alice"])
    role: Role = Field(examples=["trader"])

    @field_validator("name")
    @classmethod
    def _clean_name(cls, name: str) -> str:
        return account_name(name)  # InvalidAccountName is a ValueError: a 422 naming `name`


class AccountRead(BaseModel):
    """An account as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    created_at: datetime


class ApiKeyIssued(BaseModel):
    """A freshly issued API key. The plaintext is shown this once and never again."""

    account_id: int
    key_id: int = Field(description="The key's id, to list or revoke it later.")
    prefix: str = Field(description="Its display prefix, as key listings show it.")
    api_key: str


class ApiKeyRead(BaseModel):
    """An API key as listings show it: never the key itself, nor its hash."""

    id: int
    account_id: int
    prefix: str = Field(
        description="The key's first characters (fut_ and six more), to tell keys apart.",
        examples=["fut_Ab3dE9"],
    )
    created_at: datetime
    revoked_at: datetime | None = Field(description="When it was revoked; null while live.")

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyRead:
        """The listing view of a stored key."""
        return cls(
            id=key.id,
            account_id=key.account_id,
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyPage(BaseModel):
    """A page of an account's keys by id. To read on, pass ``after_id`` = ``next_after_id``."""

    keys: list[ApiKeyRead]
    next_after_id: int | None


class ApiKeyRevoked(BaseModel):
    """The result of a revocation: the same on every repeat while nothing else changes."""

    key: ApiKeyRead
    live_keys: int = Field(description="Unrevoked keys the account still holds.")
    locked_out: bool = Field(
        description="True when that was the account's last live key: it cannot authenticate "
        "until an admin issues it a new one."
    )
    detail: str = Field(description="What the revocation did, in one sentence.")

    @classmethod
    def of(cls, revocation: Revocation) -> ApiKeyRevoked:
        """The response for a `db.identity.Revocation`."""
        key = revocation.key
        if revocation.locked_out:
            detail = (
                f"key {key.id} ({key.prefix}…) is revoked; it was the account's last live key, "
                f"so account {key.account_id} cannot authenticate until an admin issues it a "
                f"new key (POST /accounts/{key.account_id}/keys, or `futarchy admin issue-key "
                "NAME`)"
            )
        else:
            detail = (
                f"key {key.id} ({key.prefix}…) is revoked; account {key.account_id} holds "
                f"{revocation.live_keys} live key{'s' if revocation.live_keys != 1 else ''}"
            )
        return cls(
            key=ApiKeyRead.of(key),
            live_keys=revocation.live_keys,
            locked_out=revocation.locked_out,
            detail=detail,
        )
