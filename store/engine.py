"""The database engine and sessions: SQLite by default, PostgreSQL in production.

The schema is Alembic's migrations in ``store/migrations/versions``, run by
:func:`create_schema` when the worker or the API starts. To change it, edit ``store/tables.py``,
then write the revision from the difference and review it::

    .venv/bin/python -m store.migrations revision -m "what changes"

which migrates a scratch SQLite database to the newest revision and compares it with the
models (``--url postgresql://…`` compares against a PostgreSQL database instead: it sees type
changes SQLite cannot). ``python -m store.migrations check`` fails while the models and the
migrations differ; ``tests/integration/test_postgres.py`` does the same in CI on both databases.
"""

from __future__ import annotations

import time
from typing import Any

from alembic import command
from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from store.migrations import alembic_config, is_current

Sessions = async_sessionmaker[AsyncSession]

# How long (ms) an SQLite connection waits for another's write lock: shorter than the shortest
# activity timeout (10 s), so a write that cannot get the lock fails cleanly and is retried,
# never cancelled mid-transaction while it holds the lock. Within a process the writes queue on
# ``store.writer`` instead; this wait is for another process's batch, a fraction of a second.
BUSY_TIMEOUT_MS = 5000

# The advisory lock (any 64-bit key, the same in every process) of a PostgreSQL schema upgrade.
_SCHEMA_LOCK = 0x5357_5343_4845_4D41  # "SWSCHEMA"


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL and a busy timeout (:func:`sqlite_pragmas`).

    Its errors and statement logs never show a statement's parameters (``hide_parameters``):
    they hold IINs, and an error's text travels into logs and Temporal's failure messages.
    """
    if not url.startswith("sqlite"):
        return create_async_engine(
            url, pool_size=20, max_overflow=20, pool_pre_ping=True, hide_parameters=True
        )
    engine = create_async_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
    )
    sqlite_pragmas(engine.sync_engine)
    return engine


def sqlite_pragmas(engine: Engine) -> None:
    """Set WAL, ``synchronous=NORMAL`` and the busy timeout on each of the engine's new SQLite
    connections.

    WAL lets readers go on while a batch is written (and a commit is a WAL append, synced at
    checkpoints under NORMAL: a power cut may lose the last commits, never corrupt the file).
    Writes go through ``store.writer``, one writer per process; the busy timeout is how long it
    waits for another process's batch.
    """

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Switching a new file to WAL takes an exclusive lock and, unlike a write, answers
        # "database is locked" at once when processes open it together (a worker and the API
        # starting side by side): a few tries, then the error.
        for attempt in range(50):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except Exception as busy:  # the driver's OperationalError
                if "locked" not in str(busy) or attempt == 49:
                    raise
                time.sleep(0.1)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def create_schema(engine: AsyncEngine) -> None:
    """Migrate the database to the newest revision; safe to call from every process on start.

    The worker and the API may start together: PostgreSQL serialises them on an advisory lock
    and SQLite on its write lock, each held for the whole upgrade, so the second finds the
    schema current and does nothing. The lock is taken before Alembic runs because Alembic's
    ``context`` and ``op`` are process globals: two upgrades must not interleave even in one
    process. A database ``SQLModel.metadata.create_all`` made (before migrations) is adopted by
    the first revision, which creates only the tables missing.
    """
    async with engine.connect() as connection:
        # Most starts find the schema current: they need not wait for the lock, which SQLite
        # shares with every writer.
        if await connection.run_sync(is_current):
            return
    for attempt in range(3):
        try:
            async with engine.connect() as connection:
                await _lock_schema(connection)
                await connection.run_sync(_upgrade)
                await connection.commit()
            return
        except OperationalError:
            # SQLite's busy timeout can still run out behind a long upgrade; try again.
            if attempt == 2 or engine.dialect.name != "sqlite":
                raise


async def _lock_schema(connection: AsyncConnection) -> None:
    """Begin the upgrade's transaction holding the lock that keeps other upgrades out."""
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
    elif connection.dialect.name == "sqlite":
        # IMMEDIATE takes the write lock at once (a deferred BEGIN would let two upgrades both
        # read "no tables" first); the sqlite3 driver then leaves the transaction to us.
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
