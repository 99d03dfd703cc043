"""The one settings class, read from the environment (and `.env`) when asked for.

Never built at import time: call `get_settings()` (cached) or construct `Settings(...)` in tests.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./futarchy.db"


class Settings(BaseSettings):
    """Runtime configuration.

    Attributes:
        database_url: SQLAlchemy URL. The embedded default is a SQLite file in the working
            directory; scale out with ``postgresql+psycopg://user@host:5432/db``.
        sql_echo: log every SQL statement (debugging only).
        pool_size: connections per worker for server databases.
        auth_cache_seconds: how long a worker trusts an API key it looked up (`api.auth`),
            in seconds: a key revoked through another worker keeps working on this one for
            at most this long (the revoking worker refuses it at once); 0 looks every key
            up on every request.
        decide_due_every_seconds: how often the server decides the proposals whose decision
            time has passed, in seconds (`api.routers.decisions.due_timer`); 0 (the
            default) turns the timer off: proposals are then decided by any caller
            (``POST /proposals/{id}/decide``) or ``futarchy decide --due``.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL)
    sql_echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=200)
    auth_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    decide_due_every_seconds: float = Field(default=0.0, ge=0, le=86_400)
    session_secret: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        if not url.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL, not {url!r}"
            )
        return url

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite backend."""
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
