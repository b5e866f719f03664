"""One writer per process and SQLite file: every write of the store goes through it.

Why: SQLite lets one connection write at a time. With each request and activity writing on its
own pooled connection, the writers queued on SQLite's busy handler, which sleeps and polls
rather than queueing fairly; a connection holding the lock kept it across turns of a busy event
loop, and under the benchmarks' load some writers waited past the busy timeout ("database is
locked") or past their activity's timeout (then retried, adding to the queue).

How: a write function of ``store.queries``/``store.vouchers`` is a plain (synchronous) function
of a session, decorated with :func:`single_writer`, which makes it the awaitable function of an
``AsyncSession`` the callers know. On PostgreSQL, which handles concurrent writers itself, it runs
on the caller's session (``run_sync``) as before. On an SQLite file it is queued to this
process's :class:`Writer` for that file, which runs the queued writes one after the other in a
thread, on its own connection, in one transaction (``BEGIN IMMEDIATE``: the write lock is taken
at once, so a write never has to upgrade a read lock, which SQLite refuses without waiting) and
commits them together. In the thread a batch's statements wait for no turn of the event loop:
a loaded loop (a send day's thousands of workflow activations) no longer stretches the time
the write lock is held, nor the time a write waits, towards the activities' 10 s timeout. Each
write runs in a SAVEPOINT of its own, so one write's error (a primary key already taken) rolls
back that write alone and is raised to its own caller; the others commit. Other processes on
the same file (the API and the worker of ``make run``) wait for the write lock on the busy
timeout, each holding it for one short batch.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import URL, Connection, StaticPool, create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from store.engine import BUSY_TIMEOUT_MS, sqlite_pragmas

P = ParamSpec("P")
T = TypeVar("T")

# Writes committed together at most: a batch holds the file's write lock, which the other
# processes on the file wait for, so a batch stays short (a few hundred statements).
BATCH_LIMIT = 64


def single_writer(
    write: Callable[Concatenate[Session, P], T],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[T]]:
    """The awaitable store function of ``write``: run through the process's writer when the
    caller's session is on an SQLite file, on the caller's session otherwise.

    ``write`` takes a (synchronous) session as its first argument and commits (or rolls back)
    it like any store function; under the writer its commit releases its savepoint and its
    rollback undoes only its own statements. It must not use ORM objects loaded by the caller's
    session (they belong to that session): it loads what it changes, or changes rows by key.
    """

    @wraps(write)
    async def routed(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> T:
        url = _sqlite_file_url(session)
        if url is None:

            def on_callers(own: OrmSession) -> T:
                assert isinstance(own, Session)  # sqlmodel's AsyncSession wraps its Session
                return write(own, *args, **kwargs)

            return await session.run_sync(on_callers)

        def on_writers(own: Session) -> T:
            return write(own, *args, **kwargs)

        result = await writer_for(url).run(on_writers)
        if session.in_transaction():
            # As before, the caller's session leaves the call with its transaction ended: what
            # it reads next is read afresh, and sees this write.
            await session.commit()
        return result

    return routed


def _sqlite_file_url(session: AsyncSession) -> URL | None:
    """The SQLite file URL the session reads, or None (PostgreSQL, or an in-memory database,
    which another connection would not see)."""
    bind = session.bind
    if isinstance(bind, AsyncConnection):
        bind = bind.engine
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return None
    database = bind.url.database
    if not database or database == ":memory:" or "mode=memory" in str(bind.url):
        return None
    return bind.url


# A writer per event loop (its queue serves one loop) and per database file.
_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Writer]] = (
    weakref.WeakKeyDictionary()
)


def writer_for(url: URL | str) -> Writer:
    """This process's (and event loop's) writer of the SQLite file at ``url``."""
    url = make_url(url)
    loop = asyncio.get_running_loop()
    key = url.set(drivername="sqlite").render_as_string(hide_password=False)
    writers = _writers.setdefault(loop, {})
    if key not in writers:
        writers[key] = Writer(url)
    return writers[key]


@dataclass
class _Write:
    """A queued write and where its caller waits for the outcome."""

    run: Callable[[Session], Any]
    outcome: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Writer:
    """Runs the queued writes to one SQLite file in batches, one transaction each."""

    def __init__(self, url: URL) -> None:
        # The driver's own (synchronous) connection, used in a thread: one, kept for the
        # writer's life (the batches run one at a time). Opening one per batch, with its
        # pragmas, took a third of the writer's time under the wallet's load.
        self._engine = create_engine(
            url.set(drivername="sqlite"),
            poolclass=StaticPool,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            hide_parameters=True,
        )
        sqlite_pragmas(self._engine)
        self._queue: deque[_Write] = deque()
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # committed, for tests and benchmarks
        self.writes = 0

    async def run(self, write: Callable[[Session], T]) -> T:
        """Queue ``write`` and return its result (or raise its error) once its batch ends.

        A caller cancelled while its write waits in the queue takes it out; one cancelled while
        its write runs leaves it to finish (committed or not, as the batch ends).
        """
        queued = _Write(write)
        self._queue.append(queued)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.get_running_loop().create_task(self._drain())
        result: T = await queued.outcome
        return result

    async def _drain(self) -> None:
        """Commit batches until the queue is empty; the next write starts a new drain."""
        while self._queue:
            batch: list[_Write] = []
            while self._queue and len(batch) < BATCH_LIMIT:
                queued = self._queue.popleft()
                if not queued.outcome.done():  # not cancelled while it waited
                    batch.append(queued)
            if batch:
                await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Write]) -> None:
        """Run the batch's writes in one transaction; settle every caller's outcome."""
        writes = [queued.run for queued in batch]
        try:
            outcomes = await asyncio.to_thread(self._in_one_transaction, writes)
        except _LockNotTaken as busy:  # another process kept the file: each caller retries
            for queued in batch:
                _settle(queued, None, busy.__cause__)
            return
        except BaseException as failed:
            if isinstance(failed, OperationalError) and len(batch) > 1:
                # The transaction itself failed (not a write's own error, which its savepoint
                # keeps): each write alone, so that one write cannot fail the others.
                for queued in batch:
                    await self._commit_batch([queued])
                return
            for queued in batch:
                _settle(queued, None, failed)
            if not isinstance(failed, Exception):
                raise  # cancelled or interrupted: the callers are told, the drain stops
            return
        self.batches += 1
        self.writes += len(batch)
        for queued, (result, error) in zip(batch, outcomes, strict=True):
            _settle(queued, result, error)

    def _in_one_transaction(
        self, writes: list[Callable[[Session], Any]]
    ) -> list[tuple[Any, BaseException | None]]:
        """In the writer's thread: the writes in one transaction, each in a savepoint."""
        with self._engine.connect() as connection:
            self._begin_immediate(connection)
            outcomes = [_in_savepoint(connection, write) for write in writes]
            connection.commit()
        return outcomes

    def _begin_immediate(self, connection: Connection) -> None:
        """Begin the batch's transaction holding the write lock (the sqlite3 driver then
        leaves the transaction to us: it issues no BEGIN of its own).

        It waits one busy timeout (``store.engine.BUSY_TIMEOUT_MS``, 5 s) for another process's
        batch, which is short; no more, so that a write fails and is retried well inside its
        activity's 10 s timeout rather than at it.
        """
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as busy:
            raise _LockNotTaken() from busy


def _in_savepoint(
    connection: Connection, write: Callable[[Session], Any]
) -> tuple[Any, BaseException | None]:
    """Run one write in a savepoint of the batch's transaction: its result, or its error with
    its statements undone."""
    try:
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            result = write(session)
            session.commit()  # what the write left pending (its own commit released it)
    except Exception as refused:
        return None, refused
    return result, None


class _LockNotTaken(Exception):
    """The batch's transaction could not begin (its cause says why); no write of it ran."""


def _settle(queued: _Write, result: Any, error: BaseException | None) -> None:
    if queued.outcome.done():
        return
    if error is None:
        queued.outcome.set_result(result)
    elif isinstance(error, asyncio.CancelledError):
        queued.outcome.cancel()
    else:
        queued.outcome.set_exception(error)
