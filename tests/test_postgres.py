"""The library on PostgreSQL (SCISYNTH_DATABASE_URL=postgresql+psycopg://...): catalog, chunks, conversations,
messages, keys and jobs in Postgres tables, chunk vectors in pgvector, against a real PostgreSQL 18 server with
pgvector 0.8. A conversation's history is its messages: a follow-up after a restart reads them from Postgres."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from agent.runtime import Runtime
from api.app import create_app
from retrieval.embeddings import Embedder
from retrieval.pgvector_store import PgVectorStore
from retrieval.search import HybridSearcher, SearchFilter
from retrieval.vector_store import IndexMismatchError
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
    built.close()


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
    assert counts["papers"] == 3 and counts["chunks"] > 100 and counts["messages"] == 4 and counts["jobs"] == 1
    runtime.engine.dispose()
    reopened = make_runtime(tmp_path / "home", embedder, database_url=runtime.settings.storage.database_url,
                            api_keys="lab-key:admin")
    with TestClient(create_app(runtime=reopened), headers={"Authorization": "Bearer lab-key"}) as client:
        stored = client.get(f"/v1/conversations/{conversation['id']}").json()  # after a restart, from Postgres
        follow_up = client.post(f"/v1/conversations/{conversation['id']}/messages",
                                json={"content": "and how large is it?"}).json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    understand = follow_up["trace"][0]["detail"]  # resolved against the stored questions
    assert "intent follow_up" in understand and "S2ORC" in understand
    reopened.close()


def test_two_replicas_share_the_library_and_the_conversations(postgres: object, tmp_path: Path,
                                                             embedder: Embedder) -> None:
    """Two replicas, each with its own (throwaway) home folder, one database: what one ingests the other finds
    at once (vectors in pgvector, BM25 rebuilt from the catalog's fingerprint), a conversation started on one
    continues on the other, and an index made with another model is refused."""
    url = new_database(postgres)
    one = make_runtime(tmp_path / "one", embedder, database_url=url)
    two = make_runtime(tmp_path / "two", embedder, database_url=url)
    assert one.store.index_type == two.store.index_type == "pgvector-hnsw"
    assert two.searcher.search("citation-informed transformers", k=3) == []  # empty library: BM25 built empty
    [added] = one.ingestor.ingest_paths([PAPERS / "acl_2020.acl-main.207.pdf"])
    assert two.store.count == one.catalog.chunk_count() == added.chunks
    time.sleep(HybridSearcher.FRESHNESS_SECONDS)
    for retriever in ("dense", "bm25", "hybrid"):
        hits = two.searcher.search("citation-informed transformers", k=3, retriever=retriever)
        assert hits and hits[0].paper_id == added.paper_id, retriever
    only = two.searcher.search("document embeddings", k=2, where=SearchFilter(paper_ids=[added.paper_id]))
    assert len(only) == 2 and {hit.paper_id for hit in only} == {added.paper_id}
    with TestClient(create_app(runtime=one)) as first, TestClient(create_app(runtime=two)) as second:
        conversation = first.post("/v1/conversations", json={"title": "hop"}).json()
        asked = first.post(f"/v1/conversations/{conversation['id']}/messages",
                           json={"content": "How does SPECTER use citations?"})
        assert asked.status_code == 200
        # (a follow-up the paper answers plainly: SCIDOCS; "Which model does it start from?" is answered by no
        # quote naming SciBERT, and since each query retrieves 32 passages the assistant says so)
        followed = second.post(f"/v1/conversations/{conversation['id']}/messages",
                               json={"content": "Which benchmark is it evaluated on?"})
        assert followed.status_code == 200 and followed.json()["citations"]
        history = second.get(f"/v1/conversations/{conversation['id']}").json()["messages"]
        assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    chunk_ids = [chunk_id for chunk_id, *_ in one.catalog.all_chunks()]
    interrupted = PgVectorStore(one.engine, "another-model", 8, reset=True)  # a rebuild that never commits
    interrupted.add(chunk_ids, np.ones((len(chunk_ids), 8)) / np.sqrt(8))
    interrupted._rebuild.close()  # the process died before save()
    assert two.store.count == len(chunk_ids)  # the old vectors are all there, searchable
    assert two.searcher.search("citation-informed transformers", k=1, retriever="dense")[0].paper_id == added.paper_id
    switched = PgVectorStore(one.engine, "another-model", 8, reset=True)  # another model, another dimension
    switched.add(chunk_ids, np.ones((len(chunk_ids), 8)) / np.sqrt(8))
    switched.save()
    assert PgVectorStore(one.engine, "another-model", 8).count == len(chunk_ids)
    with pytest.raises(IndexMismatchError, match="run 'scisynth reindex'"):
        PgVectorStore(one.engine, one.embedder.name, embedder.dimension)
    assert one.ingestor.delete(added.paper_id) and switched.count == 0  # the vectors went with the chunks
    for runtime in (one, two):
        runtime.close()


@pytest.mark.parametrize("attempt", range(3))
def test_replicas_start_together_on_a_new_database(postgres: object, attempt: int) -> None:
    """Four replica processes start at once on a new database (three times: a race shows itself now and then):
    the migrations run once, under an advisory lock, and every replica then makes or finds the vector table; the
    schema matches the models."""
    from store.engine import make_engine
    from store.schema import current_revision, head_revision
    from tests.test_schema import schema_differences, start_together

    url = new_database(postgres)
    started = start_together(url, 4, vectors=True)
    assert [code for code, _, _ in started] == [0, 0, 0, 0], (attempt, [err for _, _, err in started])
    assert sorted(applied for _, applied, _ in started)[:3] == ["0", "0", "0"]  # one of them migrated
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine) == []  # PostgreSQL's types and indexes too
    engine.dispose()


def test_a_postgres_library_from_before_migrations_is_adopted(postgres: object) -> None:
    """Libraries on PostgreSQL predate migrations too: their tables were made by create_all from the models, and
    an older one lacks later columns and indexes. Opening it adds them and keeps its rows."""
    from sqlmodel import SQLModel

    from store.catalog import Catalog
    from store.engine import make_engine
    from store.schema import current_revision, head_revision, model_metadata
    from tests.test_schema import schema_differences

    engine = make_engine(new_database(postgres))
    SQLModel.metadata.create_all(engine, tables=list(model_metadata().tables.values()))
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_papers_added_by"))
        connection.execute(text("ALTER TABLE papers DROP COLUMN added_by, DROP COLUMN file_bytes"))
        connection.execute(text("DROP INDEX ix_digests_owner"))  # revision 0002's
        connection.execute(text("ALTER TABLE digests DROP COLUMN owner"))
        connection.execute(text("DROP INDEX ix_jobs_subject"))  # revision 0003's
        connection.execute(text("ALTER TABLE jobs DROP COLUMN subject"))
        connection.execute(text("ALTER TABLE papers DROP COLUMN venue, DROP COLUMN reader, DROP COLUMN reader_note"))
        connection.execute(text("INSERT INTO papers (paper_id, title, authors_json, source, added_at) VALUES "
                                "('pg-1', 'Holin timing', '[]', 'pdf', now())"))
        connection.execute(text("INSERT INTO chunks (paper_id, ordinal, section, text, page_spans_json) VALUES "
                                "('pg-1', 0, 'Results', 'Lysis time rose.', '[[0, 1]]')"))
    catalog = Catalog(engine)
    paper = catalog.find_paper("pg-1")
    assert paper is not None and paper.title == "Holin timing" and paper.added_by is None
    assert catalog.chunk_count() == 1
    assert current_revision(engine) == head_revision() and schema_differences(engine) == []
    engine.dispose()


def test_eval_libraries_never_use_the_service_database(tmp_path: Path) -> None:
    from agent.settings import Settings
    from evals.datasets import library_settings

    service = Settings(home=tmp_path, database_url="postgresql+psycopg://lab@db.example/scisynth")
    local = library_settings(service, tmp_path / "evals" / "scifact")
    storage = local.storage
    assert storage.resolved_database_url.startswith("sqlite:///") and storage.resolved_vector_store == "faiss"
