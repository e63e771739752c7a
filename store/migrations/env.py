"""Alembic's environment for SciSynth's tables: run by store/schema.py on a connection it opened (under the
schema lock), never from an alembic.ini. Only the tables the models define are compared and migrated: the
pgvector index tables (made per embedding model by PgVectorStore) and LangGraph's checkpoint tables (made by
langgraph-checkpoint-postgres) belong to their owners."""

from alembic import context
from alembic.operations import ops
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from store.schema import VERSION_TABLE

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


def check_revision(_context: object, _revision: object, directives: list[ops.MigrationScript]) -> None:
    """A revision written from the models: none when nothing changed; refused when it makes a column required
    that the rows already there could not fill (a new one without a database default, or an existing one)."""
    if directives[0].upgrade_ops is None or directives[0].upgrade_ops.is_empty():
        directives.clear()
        return
    for table in directives[0].upgrade_ops.ops:
        for change in table.ops if isinstance(table, ops.ModifyTableOps) else [table]:
            if isinstance(change, ops.AddColumnOp) and not change.column.nullable \
                    and change.column.server_default is None:
                raise ValueError(f"{change.table_name}.{change.column.name} is required but has no server_default: "
                                 "the rows already there need a value (sa_column_kwargs={'server_default': ...}), "
                                 "or make it optional")
            if isinstance(change, ops.AlterColumnOp) and change.modify_nullable is False:
                raise ValueError(f"{change.table_name}.{change.column_name} becomes required: rows may hold none, "
                                 "so write this revision by hand (fill them, then alter the column)")


context.configure(connection=connection, target_metadata=target_metadata, include_name=include_name,
                  render_item=render_item, process_revision_directives=check_revision, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
