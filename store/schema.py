"""The database schema, kept by Alembic (store/migrations/): every process brings the database to the
newest revision it knows before using it, one process at a time, and refuses a database a newer SciSynth has
migrated. `scisynth db status` and `scisynth db upgrade` do the same by hand.

After changing a table model, `python -m store.schema revision "what changed"` writes the next revision from
the difference (review it: renames and data moves need a hand); tests/test_schema.py fails until it exists."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import tempfile
import threading
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

log = logging.getLogger(__name__)

SCHEMA_LOCK = 0x5C15_7E00  # PostgreSQL advisory lock held while a process creates or changes tables
# Every module that defines a table (SQLModel, table=True); tests/test_schema.py checks nothing is missing.
TABLE_MODULES = ("store.catalog", "store.sentence_vectors", "store.conversations", "store.watches",
                 "store.zotero", "store.keys", "store.jobs", "store.slack", "store.arxiv_cache")

VERSIONS = Path(__file__).parent / "migrations" / "versions"
# Not Alembic's default name: another tool's migrations (MLflow's, say) may share the database.
VERSION_TABLE = "scisynth_schema_version"
_migrated: weakref.WeakSet[Engine] = weakref.WeakSet()
_migrating = threading.Lock()


class UnusableDatabaseError(RuntimeError):
    """The database cannot be opened, or is not one this SciSynth can use."""


class SchemaTooNewError(UnusableDatabaseError):
    """The database was migrated by a newer SciSynth: this one would misread it."""


class MigrationFailedError(UnusableDatabaseError):
    """A revision failed; its transaction was rolled back, so the database is as it was."""


def model_metadata() -> MetaData:
    """The tables SciSynth's models define (imports every module that defines one)."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return SQLModel.metadata


def alembic_config(connection: Connection | None = None, metadata: MetaData | None = None,
                   more_versions: Path | None = None) -> Config:
    """Alembic's configuration, without an alembic.ini; `more_versions`: a folder of revisions beside ours."""
    config = Config()
    config.set_main_option("script_location", "store:migrations")
    if more_versions is not None:
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join([str(VERSIONS), str(more_versions)]))
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = metadata
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "store/migrations/versions has no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a new database or one made before migrations existed."""
    with _connect(engine) as connection:
        return _revision(connection)


def pending_revisions(engine: Engine) -> list[str]:
    """The revisions an upgrade would apply, oldest first ("id: message")."""
    with _connect(engine) as connection:
        return _pending(connection)


def _connect(engine: Engine) -> Connection:
    """The first connection a process makes: a wrong URL, an unreachable server or a file that is not a database
    is said in one line."""
    try:
        return engine.connect()
    except DBAPIError as error:
        raise UnusableDatabaseError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
            f"{str(error.orig).strip()}. Check SCISYNTH_DATABASE_URL (default: scisynth.db in SCISYNTH_HOME)"
        ) from error


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _pending(connection: Connection) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    current = _revision(connection)
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError as error:
            raise SchemaTooNewError(
                f"the database is at schema revision {current!r}, which this SciSynth does not know (it knows up "
                f"to {script.get_current_head()!r}): a newer SciSynth migrated it. Upgrade SciSynth before using "
                "this database") from error
    steps = script.iterate_revisions(script.get_current_head(), current)
    return [f"{step.revision}: {step.doc}" for step in reversed(list(steps))]


def upgrade(engine: Engine) -> list[str]:
    """Bring the database to the newest revision, all or nothing, one process at a time; the revisions applied,
    oldest first. Nothing is locked when there is nothing to do (a `scisynth reindex` on PostgreSQL holds the
    schema lock for its whole rebuild)."""
    if not pending_revisions(engine):
        return []
    with engine.connect() as connection:
        try:
            _lock_for_migrating(connection)
            pending = _pending(connection)  # again, under the lock: another process may have migrated meanwhile
            if pending:
                database = engine.url.render_as_string(hide_password=True)
                log.info("migrating the database %s: %s", database, "; ".join(pending))
                try:
                    command.upgrade(alembic_config(connection), "head")
                except DBAPIError as error:
                    raise MigrationFailedError(f"migrating the database {database} failed ({'; '.join(pending)}): "
                                               f"{str(error.orig).strip()}; nothing was changed") from error
                _check_references(connection)
            connection.commit()
        finally:
            if engine.dialect.name == "sqlite":
                connection.rollback()  # nothing is left open by now; PRAGMA foreign_keys is refused inside one
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    return pending


def _lock_for_migrating(connection: Connection) -> None:
    """Begin the migration's transaction holding the lock that makes other processes wait for it."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        return
    # SQLite: Alembic copies a table to change it and drops the old one, which foreign keys would refuse (they are
    # checked at the end instead). The driver would commit each CREATE and ALTER on its own: one transaction under
    # the write lock leaves nothing behind when a revision fails, and processes starting together migrate in turn.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _check_references(connection: Connection) -> None:
    if connection.dialect.name == "sqlite" and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
        raise MigrationFailedError("the migration left rows referring to rows that are gone; nothing was changed")


def ensure_schema(engine: Engine) -> None:
    """Upgrade once per engine and process (each store calls this; the first one does the work). A process keeps
    running on the schema it found: revisions must leave the previous release working (README, "The schema")."""
    with _migrating:
        if engine not in _migrated:
            upgrade(engine)
            _migrated.add(engine)


def new_revision(message: str, metadata: MetaData | None = None, directory: Path | None = None) -> Path:
    """Write the next revision (numbered after the newest) from what `metadata` (default: the models) adds to
    the newest revision's schema, compared on a scratch SQLite database; into `directory` (default: versions/).
    That comparison does not see what SQLite does not store: a string's length, a timestamp's time zone."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/head.db")
        upgrade(engine)
        with engine.begin() as connection:
            config = alembic_config(connection, metadata or model_metadata(), directory)
            script = command.revision(config, message,
                                      autogenerate=True, rev_id=f"{int(head_revision()) + 1:04d}",
                                      version_path=str(directory) if directory else None)
        engine.dispose()
    if not script:  # check_revision in env.py dropped an empty one
        raise ValueError("the models match the newest revision: there is nothing to migrate")
    assert not isinstance(script, list)
    return Path(script.path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m store.schema", description="write a migration after "
                                     "changing a table model")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("revision", help="the next revision, from the models' difference").add_argument(
        "message", help="what changed, e.g. 'papers get a venue'")
    try:
        new_revision(parser.parse_args().message)  # Alembic names the file it writes
    except ValueError as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
