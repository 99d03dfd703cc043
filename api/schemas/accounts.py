"""Schemas for accounts and API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.base import RequestModel
from db.identity import Role


class AccountCreate(RequestModel):
    """A new account."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["alice"])
    role: Role = Field(examples=["trader"])


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
    api_key: str
