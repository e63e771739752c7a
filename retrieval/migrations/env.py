"""Alembic's environment for SciSynth's tables: run by retrieval/schema.py on a connection it opened (under the
schema lock), never from an alembic.ini. Only the tables the models define are compared and migrated: the
pgvector index tables (made per embedding model by PgVectorStore) and LangGraph's checkpoint tables (made by
langgraph-checkpoint-postgres) belong to their owners."""

from alembic import context
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

config = context.config
if context.is_offline_mode():
    raise SystemExit("SciSynth migrates a live database: run 'scisynth db upgrade' (no --sql mode)")
connection = config.attributes["connection"]
target_metadata = config.attributes.get("target_metadata")  # the models, when writing a new revision


def include_name(name: str | None, kind: str, _parents: dict) -> bool:
    return kind != "table" or target_metadata is None or name in target_metadata.tables


def render_item(kind: str, item: object, _context: object) -> str | bool:
    """sqlmodel's column types written as the SQLAlchemy types they store as: a revision, once written, must not
    change meaning with sqlmodel's version."""
    if kind == "type" and isinstance(item, AutoString):
        return "sa.String()"
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(connection=connection, target_metadata=target_metadata, include_name=include_name,
                  render_item=render_item,
                  render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
