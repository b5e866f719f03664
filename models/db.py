"""The database engine and sessions: SQLite by default, PostgreSQL in production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import models.records  # noqa: F401  (registers the tables on SQLModel.metadata)

Sessions = async_sessionmaker[AsyncSession]


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL and a busy timeout for concurrent writers."""
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def create_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables that do not exist yet; safe to call from every process on start.

    Two processes starting together (worker and API) may both find a table missing and both
    create it; the loser's error is that race, and a second look finds the table there.
    """
    for attempt in range(3):
        try:
            async with engine.begin() as connection:
                await connection.run_sync(SQLModel.metadata.create_all)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == 2:
                raise
