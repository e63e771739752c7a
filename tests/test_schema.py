"""The schema is kept by Alembic: a new database is made by the migrations and matches the models; a library
from before migrations keeps every row; a database a newer SciSynth migrated is refused; `scisynth db` shows
and applies migrations. PostgreSQL's side (the same comparison, replicas starting together) is in
test_postgres.py."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, inspect, text
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from agent.conversations import ConversationStore
from agent.runtime import make_engine
from api.cli import main
from retrieval import schema
from retrieval.catalog import Catalog

ROOT = Path(__file__).resolve().parents[1]

# The first tables SciSynth made (before titles were keyed, papers owned, jobs leased or conversations owned),
# with rows: what a library made by an early version holds.
EARLY_LIBRARY = [
    "CREATE TABLE papers (paper_id VARCHAR NOT NULL PRIMARY KEY, title VARCHAR NOT NULL, authors_json VARCHAR NOT "
    "NULL, year INTEGER, source VARCHAR NOT NULL, sha256 VARCHAR, arxiv_id VARCHAR, doi VARCHAR, path VARCHAR, "
    "page_count INTEGER, license VARCHAR, added_at DATETIME NOT NULL)",
    "CREATE TABLE chunks (id INTEGER NOT NULL PRIMARY KEY, paper_id VARCHAR NOT NULL REFERENCES papers (paper_id), "
    "ordinal INTEGER NOT NULL, section VARCHAR NOT NULL, text VARCHAR NOT NULL, page_spans_json VARCHAR NOT NULL)",
    "CREATE INDEX ix_chunks_paper_id ON chunks (paper_id)",
    "CREATE TABLE conversations (id VARCHAR NOT NULL PRIMARY KEY, title VARCHAR NOT NULL, created_at DATETIME NOT "
    "NULL)",
    "CREATE TABLE messages (id INTEGER NOT NULL PRIMARY KEY, conversation_id VARCHAR NOT NULL REFERENCES "
    "conversations (id), role VARCHAR NOT NULL, content VARCHAR NOT NULL, payload_json VARCHAR NOT NULL, "
    "created_at DATETIME NOT NULL)",
    "INSERT INTO papers VALUES ('early-1', 'Holin alleles set lysis time', '[\"R. Young\"]', 2012, 'pdf', NULL, "
    "NULL, '10.1/holin', NULL, 9, NULL, '2025-03-01 10:00:00.000000')",
    "INSERT INTO chunks VALUES (1, 'early-1', 0, 'Results', 'Lysis time rose with holin expression.', "
    "'[[0, 4]]')",
    "INSERT INTO conversations VALUES ('lab-1', 'Lysis timing', '2025-03-02 09:00:00.000000')",
    "INSERT INTO messages VALUES (1, 'lab-1', 'user', 'What sets lysis time?', '{}', '2025-03-02 09:00:00.000000')",
]


def schema_differences(engine: Engine) -> list:
    """What the database lacks or has beyond the models' tables (Alembic's autogenerate comparison)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_name": lambda name, kind, _: kind != "table" or name in tables})
        tables = schema.model_metadata().tables
        return compare_metadata(context, schema.model_metadata())


@pytest.fixture
def scisynth(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run the command line in this process (as test_cli.py does in a new one) on a home folder: exit code,
    standard output, standard error."""
    def run(home: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("SCISYNTH_HOME", str(home))
        monkeypatch.setenv("SCISYNTH_USE_ARXIV", "false")
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def test_a_new_database_is_made_by_the_migrations_and_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert schema.current_revision(engine) is None
    pending = schema.pending_revisions(engine)
    assert schema.upgrade(engine) == pending and pending
    assert schema.current_revision(engine) == schema.head_revision()
    assert schema_differences(engine) == []
    assert schema.upgrade(engine) == []  # at the newest revision: nothing to do


def test_every_module_defining_a_table_is_migrated() -> None:
    """A table model in a module schema.TABLE_MODULES does not name would be missed by the migrations' models
    (and so by the comparison above): import every module, then compare with what model_metadata() alone sees."""
    for package in ("agent", "api", "retrieval", "tools", "evals"):
        for module in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            importlib.import_module(module.name)
    alone = subprocess.run([sys.executable, "-c", "from retrieval.schema import model_metadata; "
                            "print(' '.join(sorted(model_metadata().tables)))"], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout.split()
    assert sorted(SQLModel.metadata.tables) == alone


def test_a_library_from_before_migrations_keeps_every_row(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'early.db'}")
    with engine.begin() as connection:
        for statement in EARLY_LIBRARY:
            connection.execute(text(statement))
    catalog = Catalog(engine)  # opening the library migrates it
    paper = catalog.find_paper("early-1")
    assert paper is not None and (paper.title, paper.doi, paper.page_count) == ("Holin alleles set lysis time",
                                                                                "10.1/holin", 9)
    assert paper.added_by is None and paper.file_bytes is None  # the columns added later, empty
    assert [text for _, _, text, _ in catalog.all_chunks()] == ["Lysis time rose with holin expression."]
    conversations = ConversationStore(engine)
    assert [m.content for m in conversations.messages("lab-1")] == ["What sets lysis time?"]
    assert schema.current_revision(engine) == schema.head_revision()
    assert schema_differences(engine) == []  # the missing tables, columns and indexes are there
    assert "ix_papers_title_key" in {index["name"] for index in inspect(engine).get_indexes("papers")}


def test_a_database_a_newer_scisynth_migrated_is_refused(tmp_path: Path, scisynth) -> None:
    home = tmp_path / "home"
    assert scisynth(home, "db", "upgrade")[0] == 0
    engine = make_engine(f"sqlite:///{home / 'scisynth.db'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(schema.SchemaTooNewError, match="Upgrade SciSynth"):
        Catalog(engine)
    for command in (["library"], ["db", "upgrade"]):
        code, _, err = scisynth(home, *command)
        assert code == 2 and err.startswith("scisynth: the database is at schema revision '9999_from_the_future'")
        assert "Upgrade SciSynth" in err


def test_db_status_and_upgrade_show_and_apply_the_migrations(tmp_path: Path, scisynth) -> None:
    home = tmp_path / "home"
    home.mkdir()
    engine = make_engine(f"sqlite:///{home / 'scisynth.db'}")
    with engine.begin() as connection:
        for statement in EARLY_LIBRARY:
            connection.execute(text(statement))
    before = json.loads(scisynth(home, "db", "status", "--json")[1])
    assert before["revision"] is None and before["pending"][0].startswith(f"{schema.head_revision()}: ")
    code, out, _ = scisynth(home, "db", "upgrade")
    assert code == 0 and out.startswith("applied ")
    after = json.loads(scisynth(home, "db", "status", "--json")[1])
    assert after["revision"] == after["head"] and after["pending"] == []
    listed = json.loads(scisynth(home, "library", "--json")[1])
    assert [p["paper_id"] for p in listed["papers"]] == ["early-1"]


def test_a_changed_model_gets_its_revision_written(tmp_path: Path) -> None:
    """The developer's path: a model gains a column; `python -m retrieval.schema revision` writes the next
    revision adding it (here from a copy of the models' tables, into a scratch folder)."""
    changed = MetaData()
    for table in schema.model_metadata().tables.values():
        table.to_metadata(changed)
    changed.tables["papers"].append_column(Column("venue", AutoString(), nullable=True))
    changed.tables["papers"].append_column(Column("reviewed_at", UTCDateTime(), nullable=True))
    path = schema.new_revision("papers get a venue", changed, tmp_path)
    written = path.read_text()
    assert path.parent == tmp_path and f"down_revision: str | None = '{schema.head_revision()}'" in written
    assert "add_column(sa.Column('venue', sa.String(), nullable=True))" in written  # SQLAlchemy's types only
    assert "add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))" in written
    assert "drop_column('venue')" in written and "sqlmodel" not in written
