"""Alembic's environment: migrate the connection the caller put in ``config.attributes``.

The caller (``store.engine.create_schema`` or ``python -m store.migrations``) has opened it and
holds the schema lock; the migrations run inside its transaction and commit with it.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)


def _render_item(kind: str, item: Any, _context: Any) -> str | Literal[False]:
    """Write sqlmodel's types as the SQLAlchemy types they store as, so that migrations need
    not import sqlmodel (whose Python-side conversions do not change the schema)."""
    if kind == "type" and isinstance(item, AutoString):
        return "sa.String()"
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=SQLModel.metadata,
    # SQLite alters a table by copying it; batch operations do that and are plain ALTERs elsewhere.
    render_as_batch=True,
    compare_type=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
