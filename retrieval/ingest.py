"""Ingest: parse, chunk, embed, then write catalog rows and vectors together, one paper at a time.

A paper is all-or-nothing: its rows are committed only after its vectors are saved, and its vectors
are taken out again if the commit fails, so a failure leaves neither half behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retrieval.catalog import Catalog
from retrieval.chunking import chunk_document
from retrieval.embeddings import Embedder
from retrieval.search import HybridSearcher
from retrieval.vector_store import VectorStore
from tools.documents import Document, DocumentError
from tools.parsers import parse_file

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    path: str
    status: str  # "added", "unchanged" or "failed"
    paper_id: str | None = None
    title: str | None = None
    chunks: int = 0
    error: str | None = None

    def public(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Ingestor:
    def __init__(self, catalog: Catalog, store: VectorStore, embedder: Embedder, searcher: HybridSearcher,
                 chunk_tokens: int = 256) -> None:
        self.catalog = catalog
        self.store = store
        self.embedder = embedder
        self.searcher = searcher
        self.chunk_tokens = chunk_tokens

    def ingest_document(self, document: Document, path: str = "") -> IngestResult:
        known = self.catalog.find_paper(document.paper_id) or (
            document.sha256 and self.catalog.find_by_sha256(document.sha256))
        if known:
            return IngestResult(path, "unchanged", known.paper_id, known.title)
        chunks = chunk_document(document, self.embedder.count_tokens, self.chunk_tokens)
        if not chunks:
            raise DocumentError(path or document.paper_id, "no text to index")
        vectors = self.embedder.embed([c.text for c in chunks])
        ids: list[int] = []
        try:
            with self.catalog.transaction() as session:
                ids = self.catalog.insert_paper(session, document, chunks)
                self.store.add(ids, vectors)
                self.store.save()
        except BaseException:
            if ids:
                self.store.remove(ids)
                self.store.save()
            raise
        self.searcher.corpus_changed()
        return IngestResult(path, "added", document.paper_id, document.title, len(chunks))

    def ingest_file(self, path: Path) -> list[IngestResult]:
        """Results for every paper in the file; a bad file gives one "failed" result, never an exception."""
        try:
            return [self.ingest_document(document, str(path)) for document in parse_file(path)]
        except DocumentError as error:
            log.info("ingest failed: %s", error)
            return [IngestResult(str(path), "failed", error=error.reason)]

    def ingest_paths(self, paths: list[Path], on_file: Callable[[Path], None] | None = None) -> list[IngestResult]:
        results: list[IngestResult] = []
        for path in paths:
            results.extend(self.ingest_file(path))
            if on_file:
                on_file(path)
        return results
