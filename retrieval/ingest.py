"""Ingest: parse, chunk, embed, then write catalog rows and vectors together, a batch of papers at a time.

A batch is all-or-nothing: its rows are committed only after its vectors are saved, and its vectors
are taken out again if the commit fails, so a failure never leaves half a paper behind. Records that
cannot be parsed are reported and skipped before the batch is written. Batching keeps memory bounded
and saves the index once per batch rather than once per paper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from retrieval.chunking import chunk_document, sentence_spans
from retrieval.embeddings import Embedder
from retrieval.search import HybridSearcher
from retrieval.vector_store import VectorIndex
from store.catalog import MIN_TITLE_KEY, REFERENCE_SOURCE, Catalog, Chunk, PageSpans, PaperRow, index_text
from store.sentence_vectors import SentenceVectorRow, Spans, encode_row
from tools.documents import Document, DocumentError, title_key, without_control_characters
from tools.isolation import IsolationError, ParseLimits, run_isolated
from tools.parsers import iter_documents, read_documents
from tools.pdf_confidence import settled
from tools.references import normalise_doi

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    path: str
    status: str  # "added", "unchanged" or "failed"
    paper_id: str | None = None
    title: str | None = None
    chunks: int = 0
    error: str | None = None
    reader: str | None = None  # which PDF reader read it, when it was a PDF
    reader_note: str | None = None  # why the slower reader ran

    def public(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def chunk_budget(embedder: Embedder, chunk_tokens: int, title: str) -> int:
    """Tokens a chunk's text may have so that title + newline + text fits the encoder's window (with its
    two special tokens and a small margin for how joined sentences tokenize)."""
    room = embedder.max_tokens - 2 - 4 - embedder.count_tokens(f"{title}\n")
    return max(32, min(chunk_tokens, room))


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def parse_file(path: Path, limits: ParseLimits | None = None) -> Iterator[tuple[str, Document] | IngestResult]:
    """The papers in one file, each with the file it came from, and a "failed" result for each file or record that
    cannot be read. With `limits` (an untrusted upload) the file is read in a child process under them."""
    try:
        items = iter_documents(path) if limits is None else run_isolated(read_documents, limits, path.name, path)
    except IsolationError as error:
        log.warning("cannot ingest %s: %s", path, error)
        yield IngestResult(str(path), "failed", error=str(error))
        return
    for item in items:
        if isinstance(item, DocumentError):
            log.info("cannot ingest %s", item)
            yield IngestResult(item.path, "failed", error=item.reason)
        else:
            yield str(path), settled(item)


@dataclass
class EncodedPaper:
    """A new paper cut into the chunks an index holds, with their vectors: ready to write."""

    origin: str
    document: Document
    chunks: list[Chunk]
    vectors: np.ndarray  # one row per chunk
    sentences: list[tuple[Spans, np.ndarray]]  # per chunk: its sentences' spans and vectors


class PaperEncoder:
    """Cuts papers into chunks and encodes them: the part of an ingest that needs the model and none of the
    library, so a Ray worker can run it (retrieval/ray_ingest.py) and the library's writer stays one process."""

    def __init__(self, embedder: Embedder, chunk_tokens: int = 256, sentence_vectors: bool = True) -> None:
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.sentence_vectors = sentence_vectors

    def encode_papers(self, fresh: list[tuple[str, Document]]) -> tuple[list[EncodedPaper], list[IngestResult]]:
        """The papers encoded in one batch of encodings, and a "failed" result for each paper with no text."""
        chunked, failed = [], []
        for origin, document in fresh:
            chunks = chunk_document(document, self.embedder.count_tokens,
                                    chunk_budget(self.embedder, self.chunk_tokens, document.title))
            if chunks:
                chunked.append((origin, document, chunks))
            else:
                failed.append(IngestResult(origin, "failed", document.paper_id, error="no text to index"))
        vectors, sentences = self.encode_passages(
            [(d.title, c.text, c.page_spans) for _, d, chunks in chunked for c in chunks])
        papers, offset = [], 0
        for origin, document, chunks in chunked:
            end = offset + len(chunks)
            papers.append(EncodedPaper(origin, document, chunks, vectors[offset:end], sentences[offset:end]))
            offset = end
        return papers, failed

    def encode_passages(self, items: list[tuple[str, str, PageSpans]]
                        ) -> tuple[np.ndarray, list[tuple[Spans, np.ndarray]]]:
        """The vector of each chunk (title + text) and of each of its sentences, in one batch of encodings."""
        spans = [sentence_spans(text, pages) if self.sentence_vectors else [] for _, text, pages in items]
        texts = [index_text(title, text) for title, text, _ in items]
        sentences = [text[a:b] for (_, text, _), chunk_spans in zip(items, spans, strict=True) for a, b in chunk_spans]
        vectors = self.embedder.embed(texts + sentences)
        per_chunk, offset = [], len(texts)
        for chunk_spans in spans:
            per_chunk.append((chunk_spans, vectors[offset:offset + len(chunk_spans)]))
            offset += len(chunk_spans)
        return vectors[:len(texts)], per_chunk


def share_an_author(ours: list[str], theirs: list[str]) -> bool:
    """Whether two author lists share a surname (true when either is empty: nothing to tell them apart)."""
    mine = {a.split()[-1].lower() for a in ours if a.split()}
    other = {a.split()[-1].lower() for a in theirs if a.split()}
    return not mine or not other or bool(mine & other)


class SeenPapers:
    """The papers an ingest run has accepted but perhaps not written yet, matched by the rules `Ingestor.known_paper`
    applies to the library (the same id, file, DOI, or title with a shared author): a paper that comes twice in one
    run (two files, or an arXiv record and its PDF) is added once."""

    def __init__(self) -> None:
        self._by_key: dict[str, Document] = {}

    @staticmethod
    def _keys(document: Document) -> list[str]:
        keys = [f"id:{document.paper_id}"]
        if document.sha256:
            keys.append(f"sha256:{document.sha256}")
        if doi := normalise_doi(document.doi):
            keys.append(f"doi:{doi}")
        return keys

    def match(self, document: Document) -> str | None:
        """The id of the run's paper this document is, if any."""
        for key in self._keys(document):
            if key in self._by_key:
                return self._by_key[key].paper_id
        title = title_key(document.title)
        same = self._by_key.get(f"title:{title}") if len(title) >= MIN_TITLE_KEY else None
        return same.paper_id if same and share_an_author(document.authors, same.authors) else None

    def add(self, document: Document) -> None:
        for key in [*self._keys(document), f"title:{title_key(document.title)}"]:
            self._by_key.setdefault(key, document)

    def forget(self, paper_id: str) -> None:
        """Drop a paper that was not added after all (no text to index): a later copy of it may be."""
        self._by_key = {key: document for key, document in self._by_key.items() if document.paper_id != paper_id}


class Ingestor:
    def __init__(self, catalog: Catalog, store: VectorIndex, embedder: Embedder, searcher: HybridSearcher,
                 chunk_tokens: int = 256, batch_papers: int = 64, sentence_vectors: bool = True) -> None:
        """`sentence_vectors` False skips each sentence's vector (most of an ingest's encoding): for libraries
        that are only ranked, never quoted (retrieval tuning); answers then encode the sentences they read."""
        self.catalog = catalog
        self.store = store
        self.embedder = embedder
        self.searcher = searcher
        self.batch_papers = batch_papers
        self.encoder = PaperEncoder(embedder, chunk_tokens, sentence_vectors)

    def known_paper(self, document: Document) -> PaperRow | None:
        """The library's paper for this document, if it has one: the same id, the same file, the same DOI, or the
        same title with a shared author (a PDF and its GROBID parse, an arXiv abstract and its full text)."""
        known = self.catalog.find_paper(document.paper_id) or (
            self.catalog.find_by_sha256(document.sha256) if document.sha256 else None) or (
            self.catalog.find_by_doi(document.doi))
        if known is None and (same_title := self.catalog.find_by_title(document.title)) is not None:
            known = same_title if share_an_author(document.authors, same_title.authors) else None
        return known

    def known(self, document: Document, added_by: str | None = None) -> IngestResult | None:
        """An "unchanged" result when the library has the paper (see `known_paper`). A full text never gives way
        to a reference (a metadata-only paper from an import): the adder's own reference is replaced by it, and
        one another key imported stays beside it (no key's import can keep another's upload out, and none loses
        its paper to another's)."""
        if (known := self.known_paper(document)) is None:
            return None
        if known.source == REFERENCE_SOURCE and document.source != REFERENCE_SOURCE:
            return None  # added; `write` then retires the adder's own reference
        note = None if known.paper_id == document.paper_id else f"the library has it as {known.paper_id}"
        return IngestResult(document.path or "", "unchanged", known.paper_id, known.title, error=note)

    def triage(self, documents: list[tuple[str, Document]], seen: SeenPapers | None = None,
               added_by: str | None = None) -> tuple[list[IngestResult], list[tuple[str, Document]]]:
        """(results: "unchanged" for papers the library or this run already has, "failed" for papers with no text;
        the new papers), recording the new ones in `seen`."""
        seen = seen if seen is not None else SeenPapers()
        results: list[IngestResult] = []
        fresh: list[tuple[str, Document]] = []
        for origin, raw in documents:
            document = without_control_characters(raw)
            if not any(block.text.strip() for section in document.sections for block in section.blocks):
                # failed before it is seen: a later copy of the paper (a PDF after an empty record) may have text
                results.append(IngestResult(origin, "failed", document.paper_id, error="no text to index"))
                continue
            known = self.known(document, added_by)
            same = seen.match(document)
            if known or same:
                results.append(known or IngestResult(origin, "unchanged", same, document.title,
                                                     error=None if same == document.paper_id else
                                                     f"the library has it as {same}"))
            else:
                seen.add(document)
                fresh.append((origin, document))
        return results, fresh

    def ingest_batch(self, documents: list[tuple[str, Document]], added_by: str | None = None) -> list[IngestResult]:
        """Add new papers of the batch in one transaction and one index save; known ones are unchanged."""
        results, fresh = self.triage(documents, added_by=added_by)
        papers, failed = self.encoder.encode_papers(fresh)
        return [*results, *failed, *self.write(papers, added_by)]

    def write(self, papers: list[EncodedPaper], added_by: str | None = None,
              retry_on_conflict: bool = True) -> list[IngestResult]:
        """Write encoded papers in one transaction and one index save. When another writer adds one of the same
        papers first (the commit hits a unique key), the batch is rolled back and sorted again once, so that paper
        comes back "unchanged" instead of an error (nothing is encoded twice)."""
        if not papers:
            return []
        ids: list[int] = []
        try:
            with self.catalog.transaction() as session:
                for paper in papers:
                    ids.extend(self.catalog.insert_paper(session, paper.document, paper.chunks, added_by))
                sentences = [pair for paper in papers for pair in paper.sentences]
                session.add_all(encode_row(i, self.embedder.name, spans, rows)
                                for i, (spans, rows) in zip(ids, sentences, strict=True) if spans)
                vectors = np.concatenate([paper.vectors for paper in papers])
                self.store.add(ids, vectors, session)  # pgvector: in this transaction; FAISS: in memory
                self.store.save()
        except BaseException as error:
            if ids:
                self.store.remove(ids)
                self.store.save()
            if isinstance(error, IntegrityError) and retry_on_conflict:
                log.info("another writer added one of these papers first; reading the batch again")
                unchanged, fresh = self.triage([(paper.origin, paper.document) for paper in papers],
                                               added_by=added_by)
                still_new = {document.paper_id for _, document in fresh}
                return [*unchanged, *self.write([p for p in papers if p.document.paper_id in still_new], added_by,
                                                False)]
            raise
        finally:
            self.searcher.corpus_changed()
        for paper in papers:
            self._retire_own_reference(paper.document, added_by)
        return [IngestResult(p.origin, "added", p.document.paper_id, p.document.title, len(p.chunks),
                             reader=p.document.reader, reader_note=p.document.reader_note) for p in papers]

    def _retire_own_reference(self, document: Document, added_by: str | None) -> None:
        """Once a full text is stored, the reference its adder had imported for the same paper goes (another
        key's reference stays: see `known`)."""
        if document.source == REFERENCE_SOURCE:
            return
        for reference in self.catalog.references_of(added_by, document.doi, document.title):
            if reference.doi or share_an_author(document.authors, reference.authors):
                log.info("the full text of %s replaces its reference %s", document.paper_id, reference.paper_id)
                self.delete(reference.paper_id)

    def reindex(self, on_batch: Callable[[int], None] | None = None, batch_size: int = 256) -> int:
        """Embed every catalog chunk, and each of its sentences, into the (empty) vector store and the sentence
        table: the way back from an index built with another model, or lost, and how a library ingested before
        sentence vectors existed gets them. Cached embeddings make unchanged text free. Returns the count."""
        chunks = self.catalog.all_chunks()
        for start in range(0, len(chunks), batch_size):
            batch = chunks[start:start + batch_size]
            vectors, sentences = self.encoder.encode_passages([(title, text, pages) for _, title, text, pages in batch])
            ids = [chunk_id for chunk_id, *_ in batch]
            with self.catalog.transaction() as session:
                session.exec(delete(SentenceVectorRow).where(SentenceVectorRow.chunk_id.in_(ids)))
                session.add_all(encode_row(i, self.embedder.name, spans, rows)
                                for i, (spans, rows) in zip(ids, sentences, strict=True))
            self.store.add(ids, vectors)
            if on_batch:
                on_batch(len(batch))
        self.store.save()
        self.searcher.corpus_changed()
        return len(chunks)

    def delete(self, paper_id: str) -> bool:
        """Remove a paper, its chunks and its vectors. False when there was no such paper."""
        if self.catalog.find_paper(paper_id) is None:
            return False
        ids = self.catalog.delete_paper(paper_id)
        self.store.remove(ids)
        self.store.save()
        self.searcher.corpus_changed()
        return True

    def ingest_document(self, document: Document, origin: str = "", added_by: str | None = None) -> IngestResult:
        return self.ingest_batch([(origin, document)], added_by)[0]

    def ingest_paths(self, paths: list[Path], on_paper: Callable[[IngestResult], None] | None = None,
                     added_by: str | None = None, limits: ParseLimits | None = None) -> list[IngestResult]:
        """Ingest every paper in the files; unreadable files and records become "failed" results. `limits`: read
        each file in a child process under them (files from an upload, not the operator's own)."""
        results: list[IngestResult] = []
        parsed = (item for path in paths for item in parse_file(Path(path), limits))
        for batch in _batches(parsed, self.batch_papers):
            done = [item for item in batch if isinstance(item, IngestResult)]
            done += self.ingest_batch([item for item in batch if not isinstance(item, IngestResult)], added_by)
            for result in done:
                if on_paper:
                    on_paper(result)
            results.extend(done)
        self.catalog.record_run(paths, [r.status for r in results])
        return results
