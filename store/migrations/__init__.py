"""The product's database migrations (Alembic), shipped inside the package.

Alembic is configured here in code, so no ``alembic.ini`` is needed: :func:`alembic_config`
points at this folder and hands ``env.py`` the connection to migrate. ``store.engine.create_schema``
runs them on every start; ``python -m store.migrations`` writes and checks them (see there).
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

HERE = Path(__file__).parent


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration of these migrations, running over ``connection``."""
    config = Config()
    # configparser interpolates "%", which a checkout's path may hold.
    config.set_main_option("script_location", str(HERE).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")  # 0003_what_changes.py
    config.attributes["connection"] = connection
    return config


def is_current(connection: Connection) -> bool:
    """Whether the database is at the newest revision (read only; no lock needed)."""
    database = MigrationContext.configure(connection).get_current_heads()
    return set(database) == set(ScriptDirectory(str(HERE)).get_heads())
