"""Chunk vectors in PostgreSQL with pgvector (SCISYNTH_VECTOR_STORE=pgvector, the default with a PostgreSQL
database): every API replica searches the same index, and an ingest writes its vectors in the transaction that
writes its chunks, so a crash leaves nothing half-indexed and every replica sees the papers at once.

An HNSW index over cosine distance (vectors are normalised, so the score is the cosine similarity FAISS gives).
A filtered search (some papers, some years) uses pgvector 0.8's iterative scan, so a selective filter still
returns k results. The model that made the vectors is recorded beside them: another model is refused, as the
FAISS index refuses it.
"""

from __future__ import annotations

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, Column, Connection, Engine, MetaData, Table, bindparam, text
from sqlmodel import Session

from retrieval.vector_store import IndexMismatchError
from store.schema import SCHEMA_LOCK

EF_SEARCH = 128  # candidates HNSW visits per query: recall near exact at library sizes, still fast
SEARCH_ALL = ("SELECT chunk_id, 1 - (embedding <=> :query) AS score FROM chunk_vectors "
              "ORDER BY embedding <=> :query LIMIT :k")
SEARCH_AMONG = ("SELECT chunk_id, 1 - (embedding <=> :query) AS score FROM chunk_vectors "
                "WHERE chunk_id = ANY(:allowed) ORDER BY embedding <=> :query LIMIT :k")


class PgVectorStore:
    index_type = "pgvector-hnsw"

    def __init__(self, engine: Engine, model_name: str, dimension: int, reset: bool = False) -> None:
        """`reset` starts a rebuild from the catalog (`scisynth reindex`): the table is emptied, and re-made for
        the model's dimension, in a transaction that stays open until `save`, so a rebuild is all or nothing
        (a crash leaves the old vectors) while other replicas' searches wait for it."""
        self.engine = engine
        self.model_name = model_name
        self.dimension = dimension
        self.table = Table("chunk_vectors", MetaData(), Column("chunk_id", BigInteger, primary_key=True),
                           Column("embedding", Vector(dimension)))
        self._rebuild: Connection | None = None
        connection = engine.connect()
        try:
            connection.begin()
            # Replicas starting together on a new database would race to create the same objects.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            if reset:
                connection.execute(text("DROP TABLE IF EXISTS chunk_vectors"))
                connection.execute(text("DROP TABLE IF EXISTS chunk_vectors_model"))
            self._create(connection)
            if reset:
                self._rebuild = connection
                return
            connection.commit()
        finally:
            if self._rebuild is None:
                connection.close()

    def _create(self, connection: Connection) -> None:
        """The table, its HNSW index and the model row, unless they exist; refuse vectors of another model."""
        connection.execute(text(
            f"CREATE TABLE IF NOT EXISTS chunk_vectors (chunk_id bigint PRIMARY KEY REFERENCES chunks(id) "
            f"ON DELETE CASCADE, embedding vector({int(self.dimension)}) NOT NULL)"))
        connection.execute(text("CREATE INDEX IF NOT EXISTS chunk_vectors_hnsw ON chunk_vectors "
                                "USING hnsw (embedding vector_cosine_ops)"))
        connection.execute(text("CREATE TABLE IF NOT EXISTS chunk_vectors_model (one int PRIMARY KEY "
                                "CHECK (one = 1), model text NOT NULL, dimension int NOT NULL)"))
        connection.execute(text("INSERT INTO chunk_vectors_model VALUES (1, :model, :dimension) ON CONFLICT (one) "
                                "DO NOTHING"), {"model": self.model_name, "dimension": self.dimension})
        recorded = connection.execute(text("SELECT model, dimension FROM chunk_vectors_model")).one()
        if tuple(recorded) != (self.model_name, self.dimension):
            raise IndexMismatchError(
                f"the vectors in the database were made with {recorded[0]!r} (dimension {recorded[1]}), not "
                f"{self.model_name!r} ({self.dimension}); run 'scisynth reindex' to rebuild them from the catalog")

    @property
    def count(self) -> int:
        if self._rebuild is not None:  # the rebuild's own view, before it commits
            return int(self._rebuild.execute(text("SELECT count(*) FROM chunk_vectors")).scalar_one())
        with self.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM chunk_vectors")).scalar_one())

    def add(self, ids: list[int], vectors: np.ndarray, session: Session | None = None) -> None:
        """Write the vectors, in `session`'s transaction when given (an ingest's), else in one of their own."""
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if not ids:
            return
        rows = [{"chunk_id": int(i), "embedding": np.asarray(v, dtype=np.float32)} for i, v in zip(ids, vectors,
                                                                                                    strict=True)]
        if session is not None:
            session.connection().execute(self.table.insert(), rows)
        elif self._rebuild is not None:
            self._rebuild.execute(self.table.insert(), rows)
        else:
            with self.engine.begin() as connection:
                connection.execute(self.table.insert(), rows)

    def remove(self, ids: list[int]) -> None:
        """Drop these vectors (deleting a chunk row drops its vector too)."""
        with self.engine.begin() as connection:
            connection.execute(self.table.delete().where(self.table.c.chunk_id.in_(ids)))

    def vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        with self.engine.connect() as connection:
            rows = connection.execute(self.table.select().where(self.table.c.chunk_id.in_(ids)))
            return {int(chunk_id): np.asarray(vector, dtype=np.float32) for chunk_id, vector in rows}

    def search(self, query: np.ndarray, k: int, allowed_ids: list[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) pairs, best first; only among `allowed_ids` when given."""
        if allowed_ids is not None and not allowed_ids:
            return []
        statement = text(SEARCH_ALL if allowed_ids is None else SEARCH_AMONG).bindparams(
            bindparam("query", type_=Vector(self.dimension)))
        parameters = {"query": np.asarray(query, dtype=np.float32), "k": k}
        if allowed_ids is not None:
            parameters["allowed"] = list(allowed_ids)
        with self.engine.begin() as connection:
            _search_settings(connection)
            rows = connection.execute(statement, parameters).all()
        return sorted(((int(i), float(s)) for i, s in rows), key=lambda pair: -pair[1])

    def save(self) -> None:
        """Commit a rebuild; otherwise nothing to do (vectors are in the database once their transaction commits)."""
        if self._rebuild is not None:
            self._rebuild.commit()
            self._rebuild.close()
            self._rebuild = None


def _search_settings(connection: Connection) -> None:
    # relaxed_order: a filtered HNSW scan goes on until it has k rows (results re-sorted above).
    connection.execute(text(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}"))
    connection.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
