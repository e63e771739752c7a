"""Creating the catalog's tables, and the columns a newer version added to them, without losing data."""

from __future__ import annotations

from sqlalchemy import Engine, Table, inspect, text
from sqlmodel import SQLModel


def create_tables(engine: Engine, tables: list[Table]) -> None:
    """Create missing tables, and add the columns and indexes a newer version defined to existing ones (columns
    all nullable or defaulted), so an older library opens without losing anything."""
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
