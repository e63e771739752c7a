"""The database schema, kept by Alembic (retrieval/migrations/): every process brings the database to the
newest revision it knows before using it, one process at a time, and refuses a database a newer SciSynth has
migrated. `scisynth db status` and `scisynth db upgrade` do the same by hand.

After changing a table model, `python -m retrieval.schema revision "what changed"` writes the next revision from
the difference (review it: renames and data moves need a hand); tests/test_schema.py fails until it exists."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlmodel import SQLModel

log = logging.getLogger(__name__)

SCHEMA_LOCK = 0x5C15_7E00  # PostgreSQL advisory lock held while a process creates or changes tables
# Every module that defines a table (SQLModel, table=True); tests/test_schema.py checks nothing is missing.
TABLE_MODULES = ("retrieval.catalog", "retrieval.sentence_vectors", "agent.conversations", "agent.watch",
                 "agent.zotero_sync", "api.auth", "api.jobs", "api.slack", "tools.arxiv_cache")

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_migrated: weakref.WeakSet[Engine] = weakref.WeakSet()
_migrating = threading.Lock()


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer SciSynth: this one would misread it."""


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


def model_metadata() -> MetaData:
    """The tables SciSynth's models define (imports every module that defines one)."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return SQLModel.metadata


def alembic_config(connection: Connection | None = None, metadata: MetaData | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "retrieval:migrations")
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = metadata
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "retrieval/migrations/versions has no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a new database or one made before migrations existed."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def pending_revisions(engine: Engine) -> list[str]:
    """The revisions an upgrade would apply, oldest first ("id: message")."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(engine)
    _refuse_unknown(script, current)
    steps = script.iterate_revisions(script.get_current_head(), current)
    return [f"{step.revision}: {step.doc}" for step in reversed(list(steps))]


def _refuse_unknown(script: ScriptDirectory, revision: str | None) -> None:
    if revision is None:
        return
    try:
        script.get_revision(revision)
    except CommandError as error:
        raise SchemaTooNewError(
            f"the database is at schema revision {revision!r}, which this SciSynth does not know (it knows up to "
            f"{script.get_current_head()!r}): a newer SciSynth migrated it. Upgrade SciSynth before using this "
            f"database") from error


def upgrade(engine: Engine) -> list[str]:
    """Bring the database to the newest revision; the revisions applied, oldest first."""
    with schema_lock(engine):
        pending = pending_revisions(engine)
        if pending:
            log.info("migrating the database %s: %s", engine.url.render_as_string(hide_password=True),
                     "; ".join(pending))
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), "head")
    return pending


def ensure_schema(engine: Engine) -> None:
    """Upgrade once per engine and process (each store calls this; the first one does the work)."""
    with _migrating:
        if engine not in _migrated:
            upgrade(engine)
            _migrated.add(engine)


def new_revision(message: str, metadata: MetaData | None = None, directory: Path | None = None) -> Path:
    """Write the next revision (numbered after the newest) from what `metadata` (default: the models) adds to
    the newest revision's schema, compared on a scratch SQLite database; into `directory` (default: versions/)."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/head.db")
        upgrade(engine)
        with engine.begin() as connection:
            config = alembic_config(connection, metadata or model_metadata())
            if directory:  # the new revision's folder, beside the revisions it follows
                config.set_main_option("path_separator", "os")
                config.set_main_option("version_locations", os.pathsep.join([str(VERSIONS), str(directory)]))
            script = command.revision(config, message,
                                      autogenerate=True, rev_id=f"{int(head_revision()) + 1:04d}",
                                      version_path=str(directory) if directory else None)
        engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m retrieval.schema", description="write a migration after "
                                     "changing a table model")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("revision", help="the next revision, from the models' difference").add_argument(
        "message", help="what changed, e.g. 'papers get a venue'")
    print(new_revision(parser.parse_args().message))
