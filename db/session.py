"""Engines and transactions: one `Database` per process, one transaction per unit of work.

Write transactions on SQLite start with ``BEGIN IMMEDIATE`` (the write lock is taken up
front, so two writers never deadlock upgrading from a read lock) and are serialised by an
in-process lock first, so writers queue in Python instead of spinning on ``busy_timeout``.
On PostgreSQL a write is a plain transaction; repository functions lock rows with
``SELECT … FOR UPDATE`` (market row first, then account rows).

Services only ``flush()``; the context manager commits on success and rolls back on any
exception, so a refused request changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_POOL_SIZE = 40
"""Pooled SQLite connections kept open: one per worker thread of the server's thread pool
(anyio's default limit is 40). Fewer made every burst of concurrent requests open and
close overflow connections, each paying the connect PRAGMAs and the WAL-index mapping
(about 7% of a trade under 32 clients)."""


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """Create an engine with the project's per-backend settings.

    SQLite: WAL journal, ``busy_timeout``, foreign keys on, and explicit transaction control
    (the driver's own implicit BEGIN is switched off so we can say ``BEGIN IMMEDIATE``).
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=10,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


class Database:
    """An engine plus the two kinds of transaction the application uses.

    Args:
        url: SQLAlchemy database URL.
        echo: log SQL.
        pool_size: connections per process for server databases.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_bind = (
            self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        )
        self._read_factory = sessionmaker(self.engine, expire_on_commit=False)
        self._write_factory = sessionmaker(write_bind, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """Build from the settings class."""
        return cls(settings.database_url, echo=settings.sql_echo, pool_size=settings.pool_size)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: commit on success, roll back on any exception."""
        if self._write_lock is not None:
            with self._write_lock, self._transaction(self._write_factory) as session:
                yield session
        else:
            with self._transaction(self._write_factory) as session:
                yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read transaction, released at the end (reads never commit).

        ``close()`` ends the transaction without expiring loaded objects, so values read
        here stay usable after the block.
        """
        session = self._read_factory()
        try:
            yield session
        finally:
            session.close()

    @staticmethod
    @contextmanager
    def _transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
