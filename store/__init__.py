"""What the product keeps in its database, and every statement that reads or writes it.

``tables`` (the sqlmodel tables), ``queries`` (the database functions, each given its session),
``engine`` (engine, sessions, ``create_schema``) and ``migrations`` (Alembic). Import from the
submodules: this package re-exports nothing, so importing one part loads no other.
"""
