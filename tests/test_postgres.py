"""The library on PostgreSQL (SCISYNTH_DATABASE_URL=postgresql+psycopg://...): catalog, chunks, conversations,
messages, keys and jobs in Postgres tables, LangGraph checkpoints in Postgres through
langgraph-checkpoint-postgres, against a real PostgreSQL 18 server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from agent.runtime import Runtime
from api.app import create_app
from retrieval.embeddings import Embedder
from tests.conftest import PAPERS, finished_job, make_runtime
from tests.postgres_server import new_database, running_postgres


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with running_postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def runtime(postgres: object, tmp_path: Path, embedder: Embedder) -> Iterator[Runtime]:
    built = make_runtime(tmp_path / "home", embedder, database_url=new_database(postgres), api_keys="lab-key:admin")
    yield built
    built.engine.dispose()


def test_a_library_and_its_conversations_live_in_postgres(runtime: Runtime, embedder: Embedder,
                                                          tmp_path: Path) -> None:
    assert runtime.engine.dialect.name == "postgresql"
    results = runtime.ingestor.ingest_paths(sorted(PAPERS.glob("*.pdf")))
    assert [r.status for r in results] == ["added"] * 3
    with TestClient(create_app(runtime=runtime), headers={"Authorization": "Bearer lab-key"}) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        hits = client.get("/v1/search", params={"q": "citation-informed transformers", "k": 3})
        assert hits.status_code == 200 and "SPECTER" in hits.json()["results"][0]["title"]
        conversation = client.post("/v1/conversations", json={"title": "SPECTER"}).json()
        first = client.post(f"/v1/conversations/{conversation['id']}/messages",
                            json={"content": "How does SPECTER use citations?"})
        assert first.status_code == 200 and first.json()["citations"]
        second = client.post(f"/v1/conversations/{conversation['id']}/messages",
                             json={"content": "What corpus does S2ORC provide?"})
        assert second.status_code == 200
        job = client.post("/v1/papers", files={
            "file": ("n18.pdf", (PAPERS / "acl_N18-3011.pdf").read_bytes(), "application/pdf")}).json()
        assert finished_job(client, job)["results"][0]["status"] == "unchanged"
    with runtime.engine.connect() as connection:
        counts = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                  for table in ("papers", "chunks", "messages", "jobs")}
        checkpoints = connection.execute(text("SELECT count(DISTINCT thread_id) FROM checkpoints")).scalar_one()
    assert counts["papers"] == 3 and counts["chunks"] > 100 and counts["messages"] == 4 and counts["jobs"] == 1
    assert checkpoints >= 1  # the graph's state, in Postgres
    runtime.engine.dispose()
    reopened = make_runtime(tmp_path / "home", embedder, database_url=runtime.settings.database_url,
                            api_keys="lab-key:admin")
    with TestClient(create_app(runtime=reopened), headers={"Authorization": "Bearer lab-key"}) as client:
        stored = client.get(f"/v1/conversations/{conversation['id']}").json()  # after a restart, from Postgres
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    reopened.engine.dispose()
