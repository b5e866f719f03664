"""Write or check migrations: ``python -m store.migrations revision -m "what changes"``.

``revision`` writes ``versions/<next number>_<message>.py`` from what the models have that the
newest revision does not (review it: autogenerate misses renames, and data needs moving by
hand); ``check`` fails while there is any such difference. Both compare against a scratch SQLite
database migrated to the newest revision, or against ``--url`` (also migrated first, so give a
scratch database): PostgreSQL's reflection sees changes of type that SQLite's cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from functools import partial
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection

from store.engine import create_engine, create_schema
from store.migrations import HERE, alembic_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m store.migrations", description=__doc__)
    parser.add_argument("action", choices=["revision", "check"])
    parser.add_argument("-m", "--message", help="what the revision changes (for revision)")
    parser.add_argument("--url", help="a scratch database to compare against (default SQLite)")
    args = parser.parse_args(argv)
    if args.action == "revision" and not args.message:
        parser.error("revision needs -m/--message")
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url or f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        try:
            asyncio.run(_compare(url, partial(_act, args.action, args.message)))
        except CommandError as error:
            sys.exit(f"{args.action}: {error}")


async def _compare(url: str, act: partial[None]) -> None:
    engine = create_engine(url)
    try:
        await create_schema(engine)
        async with engine.connect() as connection:
            await connection.run_sync(act)
    finally:
        await engine.dispose()


def _act(action: str, message: str | None, connection: Connection) -> None:
    config = alembic_config(connection)
    if action == "check":
        command.check(config)
        return
    head = ScriptDirectory(str(HERE)).get_current_head()
    number = f"{int(head or 0) + 1:04d}"
    command.revision(config, message=message, autogenerate=True, rev_id=number)


if __name__ == "__main__":
    main()
