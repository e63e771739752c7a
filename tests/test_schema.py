"""The schema is kept by Alembic: a new database is made by the migrations and matches the models; a library
from before migrations keeps every row; a database a newer SciSynth migrated is refused; `scisynth db` shows
and applies migrations. PostgreSQL's side (the same comparison, replicas starting together) is in
test_postgres.py."""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, inspect, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from cli.main import main
from store import schema
from store.catalog import Catalog
from store.conversations import ConversationStore
from store.engine import make_engine
from store.zotero import ZoteroItemRow

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
    "CREATE TABLE zotero_items (source VARCHAR NOT NULL, item_key VARCHAR NOT NULL, paper_id VARCHAR NOT NULL, "
    "added BOOLEAN NOT NULL, PRIMARY KEY (source, item_key))",
    "INSERT INTO zotero_items VALUES ('user:1', 'ABCD1234', 'early-1', 1)",
    "INSERT INTO papers VALUES ('early-1', 'Holin alleles set lysis time', '[\"R. Young\"]', 2012, 'pdf', NULL, "
    "NULL, '10.1/holin', NULL, 9, NULL, '2025-03-01 10:00:00.000000')",
    "INSERT INTO chunks VALUES (1, 'early-1', 0, 'Results', 'Lysis time rose with holin expression.', "
    "'[[0, 4]]')",
    "INSERT INTO conversations VALUES ('lab-1', 'Lysis timing', '2025-03-02 09:00:00.000000')",
    "INSERT INTO messages VALUES (1, 'lab-1', 'user', 'What sets lysis time?', '{}', '2025-03-02 09:00:00.000000')",
]


def revision_after_head(upgrade_body: str) -> str:
    """A revision after the newest, for the tests below (in a folder of its own, never in versions/)."""
    return (f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = 'test'\n"
            f"down_revision = {schema.head_revision()!r}\nbranch_labels = depends_on = None\n\n\n"
            f"def upgrade():\n{upgrade_body}")


# It makes a table, then adds a required column the rows there cannot take.
FAILING_HALFWAY = revision_after_head(
    "    op.create_table('paper_notes', sa.Column('id', sa.Integer(), primary_key=True))\n"
    "    op.add_column('papers', sa.Column('reviewed', sa.Boolean(), nullable=False))\n")
# SQLite changes a column by copying the table and dropping the old one, which chunks refer to.
REBUILDING_PAPERS = revision_after_head(
    "    with op.batch_alter_table('papers', recreate='always') as batch:\n"
    "        batch.alter_column('license', existing_type=sa.String(), type_=sa.Text())\n")


def early_library(path: Path) -> Engine:
    """A library as an early version made it, rows and all (EARLY_LIBRARY)."""
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        for statement in EARLY_LIBRARY:
            connection.execute(text(statement))
    return engine


def models_with(table: str, column: Column) -> MetaData:
    """A copy of the models' tables, one of them with a column added or replaced."""
    changed = MetaData()
    for model in schema.model_metadata().tables.values():
        model.to_metadata(changed)
    changed.tables[table].append_column(column, replace_existing=True)
    return changed


def with_revision(monkeypatch: pytest.MonkeyPatch, folder: Path, revision: str) -> None:
    """Make `revision` the newest one this process knows."""
    folder.mkdir()
    (folder / "test_revision.py").write_text(revision)
    monkeypatch.setattr(schema, "alembic_config", functools.partial(schema.alembic_config, more_versions=folder))


def schema_differences(engine: Engine) -> list:
    """What the database lacks or has beyond the models' tables (Alembic's autogenerate comparison)."""
    models = schema.model_metadata()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_name": lambda name, kind, _: kind != "table" or name in models.tables})
        return compare_metadata(context, models)


def start_together(url: str, processes: int, vectors: bool = False) -> list[tuple[int, str, str]]:
    """Processes opening the database at the same moment (each imports first, then waits for the word), as
    replicas starting together do, with the pgvector table when `vectors`: (exit code, how many revisions it
    applied, standard error) for each."""
    code = ("import sys; from store.engine import make_engine; from store.catalog import Catalog; "
            "from store.schema import upgrade; engine = make_engine(sys.argv[1]); "
            "print('ready', flush=True); sys.stdin.readline(); print(len(upgrade(engine))); Catalog(engine)")
    if vectors:
        code += "; from retrieval.pgvector_store import PgVectorStore; PgVectorStore(engine, 'test-model', 8)"
    started = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    for process in started:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    finished = [process.communicate("go\n", timeout=120) for process in started]
    return [(process.returncode, out.strip(), err[-300:]) for process, (out, err) in zip(started, finished,
                                                                                          strict=True)]


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
    for package in ("tools", "store", "retrieval", "agent", "service", "evals", "research", "api", "cli"):
        for module in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if not module.name.endswith(".__main__"):  # a command, not a module: importing it runs it
                importlib.import_module(module.name)
    alone = subprocess.run([sys.executable, "-c", "from store.schema import model_metadata; "
                            "print(' '.join(sorted(model_metadata().tables)))"], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout.split()
    assert sorted(SQLModel.metadata.tables) == alone


def test_a_library_from_before_migrations_keeps_every_row(tmp_path: Path) -> None:
    engine = early_library(tmp_path / "early.db")
    catalog = Catalog(engine)  # opening the library migrates it
    paper = catalog.find_paper("early-1")
    assert paper is not None and (paper.title, paper.doi, paper.page_count) == ("Holin alleles set lysis time",
                                                                                "10.1/holin", 9)
    assert paper.added_by is None and paper.file_bytes is None  # the columns added later, empty
    assert [text for _, _, text, _ in catalog.all_chunks()] == ["Lysis time rose with holin expression."]
    conversations = ConversationStore(engine)
    assert [m.content for m in conversations.messages("lab-1")] == ["What sets lysis time?"]
    with Session(engine) as session:  # required columns added later get the model's default for old rows
        item = session.exec(select(ZoteroItemRow)).one()
    assert (item.item_key, item.incomplete, item.retries, item.attachments_json) == ("ABCD1234", False, 0, "[]")
    assert schema.current_revision(engine) == schema.head_revision()
    assert schema_differences(engine) == []  # the missing tables, columns and indexes are there
    assert "ix_papers_title_key" in {index["name"] for index in inspect(engine).get_indexes("papers")}


def test_a_database_a_newer_scisynth_migrated_is_refused(tmp_path: Path, scisynth,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    assert scisynth(home, "db", "upgrade")[0] == 0
    engine = make_engine(f"sqlite:///{home / 'scisynth.db'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE scisynth_schema_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(schema.SchemaTooNewError, match="Upgrade SciSynth"):
        Catalog(engine)

    def listen(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("serve started on a database it cannot use")

    monkeypatch.setattr("uvicorn.run", listen)
    for command in (["library"], ["db", "upgrade"], ["serve"]):  # serve: before it listens
        code, _, err = scisynth(home, *command)
        assert code == 2 and err.startswith("scisynth: the database is at schema revision '9999_from_the_future'")
        assert "Upgrade SciSynth" in err
    code, out, _ = scisynth(home, "db", "--json", "status")  # the command's --json counts as the action's
    assert code == 2 and json.loads(out)["revision"] == "9999_from_the_future"


def test_db_status_and_upgrade_show_and_apply_the_migrations(tmp_path: Path, scisynth) -> None:
    home = tmp_path / "home"
    home.mkdir()
    early_library(home / "scisynth.db")
    before = json.loads(scisynth(home, "db", "status", "--json")[1])
    assert before["revision"] is None and before["pending"][-1].startswith(f"{schema.head_revision()}: ")
    code, out, _ = scisynth(home, "db", "upgrade")
    assert code == 0 and out.startswith("applied ")
    after = json.loads(scisynth(home, "db", "status", "--json")[1])
    assert after["revision"] == after["head"] and after["pending"] == []
    listed = json.loads(scisynth(home, "library", "--json")[1])
    assert [p["paper_id"] for p in listed["papers"]] == ["early-1"]


def test_a_changed_model_gets_its_revision_written(tmp_path: Path) -> None:
    """The developer's path: a model gains a column; `python -m store.schema revision` writes the next
    revision adding it (here from a copy of the models' tables, into a scratch folder)."""
    changed = models_with("papers", Column("language", AutoString(), nullable=True))
    changed.tables["papers"].append_column(Column("reviewed_at", UTCDateTime(), nullable=True))
    path = schema.new_revision("papers get a language", changed, tmp_path)
    written = path.read_text()
    assert path.parent == tmp_path and f"down_revision: str | None = '{schema.head_revision()}'" in written
    assert "add_column(sa.Column('language', sa.String(), nullable=True))" in written  # SQLAlchemy's types only
    assert "add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))" in written
    assert "drop_column('language')" in written and "sqlmodel" not in written


def test_a_revision_is_written_only_for_a_change_rows_can_take(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nothing to migrate"):
        schema.new_revision("nothing changed", directory=tmp_path)
    with pytest.raises(ValueError, match=r"jobs\.priority is required but has no server_default"):
        schema.new_revision("jobs get a priority", models_with("jobs", Column("priority", Integer(), nullable=False)),
                            tmp_path)
    with pytest.raises(ValueError, match=r"papers\.license becomes required"):
        schema.new_revision("every paper has a license", models_with("papers", Column("license", AutoString(),
                                                                                      nullable=False)), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_migration_that_fails_leaves_the_database_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's driver would commit each CREATE and ALTER on its own; the upgrade runs as one transaction."""
    engine = early_library(tmp_path / "library.db")
    schema.upgrade(engine)
    with_revision(monkeypatch, tmp_path / "versions", FAILING_HALFWAY)
    for _ in range(2):  # the same error again, not "table paper_notes already exists"
        with pytest.raises(schema.MigrationFailedError, match="NOT NULL") as failed:
            schema.upgrade(engine)
        assert isinstance(failed.value.__cause__, OperationalError) and "nothing was changed" in str(failed.value)
        assert "paper_notes" not in inspect(engine).get_table_names()
        assert schema.current_revision(engine) != "test"


def test_a_revision_that_copies_a_referred_table_keeps_rows_and_references(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite changes a column by copying its table and dropping the old one: chunks refer to papers, and the
    foreign keys this library enforces would refuse the drop."""
    engine = early_library(tmp_path / "library.db")
    schema.upgrade(engine)
    with_revision(monkeypatch, tmp_path / "versions", REBUILDING_PAPERS)
    assert schema.upgrade(engine)[-1].startswith("test: ")
    assert Catalog(engine).find_paper("early-1") is not None
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # enforced again afterwards
        assert connection.exec_driver_sql("SELECT count(*) FROM chunks WHERE paper_id = 'early-1'").scalar() == 1


def test_processes_starting_together_on_a_new_library_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'library.db'}"
    started = start_together(url, 3)
    assert [code for code, _, _ in started] == [0, 0, 0], [err for _, _, err in started]
    every_revision = len(schema.pending_revisions(make_engine(f"sqlite:///{tmp_path / 'empty.db'}")))
    assert sorted(applied for _, applied, _ in started) == ["0", "0", str(every_revision)]  # one of them did it
    assert schema.current_revision(make_engine(url)) == schema.head_revision()


def test_a_database_that_cannot_be_opened_is_said_in_one_line(tmp_path: Path, scisynth) -> None:
    home = tmp_path / "home"
    code, out, _ = scisynth(home, "db", "status")
    assert code == 0 and out.startswith(f"no database at {home / 'scisynth.db'} yet")
    assert not (home / "scisynth.db").exists()  # looking made nothing
    elsewhere = tmp_path / "no-such-folder" / "lab.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SCISYNTH_DATABASE_URL", f"sqlite:///{elsewhere}")
        code, out, _ = scisynth(home, "db", "status")
    assert code == 2 and f"no folder {elsewhere.parent} to make it in" in out
    home.mkdir(exist_ok=True)
    (home / "scisynth.db").write_text("these are notes, not a database")
    for command in (["library"], ["db", "upgrade"]):
        code, _, err = scisynth(home, *command)
        assert code == 2 and err.startswith(f"scisynth: cannot open the database sqlite:///{home / 'scisynth.db'}")
        assert "Traceback" not in err and "SCISYNTH_DATABASE_URL" in err


@pytest.mark.parametrize("url", ["garbage", "mysql://lab@db/scisynth", "postgresql://lab@db/scisynth"])
def test_a_database_url_of_another_kind_is_refused_naming_the_setting(url: str, tmp_path: Path, scisynth,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Only SQLite files and PostgreSQL through psycopg 3 (the drivers installed): anything else was a traceback
    from SQLAlchemy's URL parser or a missing driver module."""
    monkeypatch.setenv("SCISYNTH_DATABASE_URL", url)
    code, _, err = scisynth(tmp_path / "home", "db", "status")
    assert code == 2 and err.startswith("scisynth: 1 validation error for Settings\ndatabase_url")
