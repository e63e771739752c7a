"""The tables as they were when migrations began; adopts a library made before then.

A library made before migrations has no scisynth_schema_version table but may have any older shape of these tables
(older versions added columns by hand at start). So this revision creates the tables that are missing, adds the
columns and indexes an older version lacked (optional ones empty; required ones with the value their model
defaults to, which stays their database default there), and leaves every row in place.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

metadata = sa.MetaData()


def _table(name: str, *columns: sa.Column, indexed: tuple[str, ...] = ()) -> sa.Table:
    indexes = [sa.Index(f"ix_{name}_{column}", column) for column in indexed]
    return sa.Table(name, metadata, *columns, *indexes)


def _text(name: str, nullable: bool = False, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.String(), nullable=nullable, **kwargs)


def _int(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _refers(name: str, target: str) -> sa.Column:
    return sa.Column(name, sa.String(), sa.ForeignKey(target), nullable=False)


# Required columns an older version lacked, with the value the rows already there get (what the model defaults
# to): the Zotero sync learnt to retry incomplete items after its tables existed.
ADDED_REQUIRED = {("zotero_items", "incomplete"): "0", ("zotero_items", "retries"): "0",
                  ("zotero_items", "attachments_json"): "[]"}

TABLES = [
    _table("api_keys", _text("hash", primary_key=True), _text("name"), _text("role", True), _time("created_at")),
    _table("arxiv_cache", _text("key", primary_key=True), _text("records_json"), _time("fetched_at")),
    _table("conversations", _text("id", primary_key=True), _text("title"), _text("owner", True),
           _time("created_at"), indexed=("owner",)),
    _table("digests", _text("id", primary_key=True), _text("watch_id"), _text("watch_name"), _time("created_at"),
           _text("status"), _text("entries_json"), _text("error", True), _text("delivery"),
           indexed=("created_at", "watch_id")),
    _table("ingest_runs", sa.Column("id", sa.Integer(), primary_key=True), _time("finished_at"),
           _text("paths_json"), _int("added"), _int("unchanged"), _int("failed")),
    _table("jobs", _text("id", primary_key=True), _text("kind"), _text("owner"), _text("status"),
           _text("payload_json"), _text("results_json"), _text("error", True), _int("attempts"),
           _text("worker", True), _text("claimed_by", True), _time("lease_until", True), _time("created_at"),
           _time("updated_at"), indexed=("owner", "status", "worker")),
    _table("papers", _text("paper_id", primary_key=True), _text("title"), _text("authors_json"), _int("year", True),
           _text("source"), _text("sha256", True), _text("arxiv_id", True), _text("doi", True), _text("path", True),
           _int("page_count", True), _text("license", True), _text("title_key", True), _text("added_by", True),
           _int("file_bytes", True), _time("added_at"),
           indexed=("added_by", "arxiv_id", "doi", "sha256", "title_key")),
    _table("slack_events", _text("event_id", primary_key=True), _time("seen_at")),
    _table("slack_threads", _text("thread_key", primary_key=True), _text("conversation_id")),
    _table("watch_seen", _text("watch_id", primary_key=True), _text("arxiv_id", primary_key=True)),
    _table("watches", _text("id", primary_key=True), _text("name"), _text("query"), _text("questions_json"),
           sa.Column("every_hours", sa.Float(), nullable=False), _int("max_results"), _flag("with_pdf"),
           _text("owner"), _time("created_at"), _time("next_run_at"), _time("last_run_at", True),
           _text("last_status", True), _time("running_until", True), indexed=("next_run_at", "owner")),
    _table("zotero_items", _text("source", primary_key=True), _text("item_key", primary_key=True),
           _text("paper_id"), _flag("added"), _flag("incomplete"), _int("retries"), _text("attachments_json")),
    _table("zotero_sync", _text("source", primary_key=True), _int("version"), _time("synced_at", True)),
    _table("chunks", sa.Column("id", sa.Integer(), primary_key=True), _refers("paper_id", "papers.paper_id"),
           _int("ordinal"), _text("section"), _text("text"), _text("page_spans_json"), indexed=("paper_id",)),
    _table("messages", sa.Column("id", sa.Integer(), primary_key=True),
           _refers("conversation_id", "conversations.id"), _text("role"), _text("content"), _text("payload_json"),
           _time("created_at"), indexed=("conversation_id",)),
    _table("paper_references", sa.Column("id", sa.Integer(), primary_key=True), _refers("paper_id", "papers.paper_id"),
           _int("position"), _text("title"), _text("title_key", True), _text("authors_json"), _int("year", True),
           _text("doi", True), _text("arxiv_id", True), indexed=("arxiv_id", "doi", "paper_id", "title_key")),
    _table("sentence_vectors", sa.Column("chunk_id", sa.Integer(), sa.ForeignKey("chunks.id"), primary_key=True),
           _text("model"), _text("spans_json"), sa.Column("vectors", sa.LargeBinary(), nullable=False)),
]


def upgrade() -> None:
    connection = op.get_bind()
    existing = set(sa.inspect(connection).get_table_names())
    for table in TABLES:  # in order: a table comes after those it refers to
        if table.name not in existing:
            table.create(connection)
            continue
        present = {column["name"] for column in sa.inspect(connection).get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                op.add_column(table.name, _as_added(table.name, column))
        for index in table.indexes:
            index.create(connection, checkfirst=True)


def _as_added(table: str, column: sa.Column) -> sa.Column:
    """The column as it can be added to a table with rows: nullable, or required with a default for them."""
    if column.nullable:
        return sa.Column(column.name, column.type, nullable=True)
    if (table, column.name) not in ADDED_REQUIRED:
        raise RuntimeError(f"the library's table {table} lacks the required column {column.name} and no version "
                           "of SciSynth ever added it later: this database was not made by SciSynth")
    return sa.Column(column.name, column.type, nullable=False, server_default=ADDED_REQUIRED[table, column.name])


def downgrade() -> None:
    raise NotImplementedError("the first revision is not undone: that would drop the whole library")
