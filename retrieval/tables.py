"""Creating the catalog's tables, and the columns a newer version added to them, without losing data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine, Table, inspect, text
from sqlmodel import SQLModel

SCHEMA_LOCK = 0x5C15_7E00  # PostgreSQL advisory lock held while a process creates or changes tables


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, one process at a time changes the schema (replicas starting together would race to
    create the same tables); SQLite serialises writers itself."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})


def create_tables(engine: Engine, tables: list[Table]) -> None:
    """Create missing tables, and add the columns and indexes a newer version defined to existing ones (columns
    all nullable or defaulted), so an older library opens without losing anything."""
    with schema_lock(engine):
        _create_tables(engine, tables)


def _create_tables(engine: Engine, tables: list[Table]) -> None:
    SQLModel.metadata.create_all(engine, tables=tables)
    inspector = inspect(engine)
    for table in tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                with engine.begin() as connection:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
    for table in tables:  # create_all skips tables that exist: the indexes a newer version added come here
        for index in table.indexes:
            index.create(engine, checkfirst=True)
