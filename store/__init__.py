"""What the product keeps in its database, and every statement that reads or writes it.

``tables`` (the sqlmodel tables); ``queries`` (listings, cycles, consents, SMS), ``vouchers``
(issue, activation, hand-over, settlement, purchases) and ``reports`` (counts over many rows),
each statement a function given its session; ``engine`` (engine, sessions, ``create_schema``);
``writer`` (SQLite's one writer per process, which every write function goes through);
``migrations`` (Alembic). Import from the submodules: this package re-exports nothing.
"""
