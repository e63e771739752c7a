"""The database engine: SQLite (WAL, foreign keys) for a laptop, PostgreSQL for a lab's replicas."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import create_engine
from tenacity import retry, retry_if_exception_message, stop_after_delay, wait_fixed


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:
        # WAL lets the service read while an ingest writes; foreign keys keep chunks tied to papers.
        cursor = connection.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


@retry(retry=retry_if_exception_message(match="database is locked"), stop=stop_after_delay(30),
       wait=wait_fixed(0.1), reraise=True)
def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch a database to WAL (it stays so): once, by its first connection. Switching waits for no busy
    handler, so a process opening a new library while another migrates it tries again."""
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
