"""The paper catalog in SQL (SQLModel): papers and their chunks, the source of truth for every index."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Engine, case, delete, func, or_
from sqlalchemy import select as columns
from sqlmodel import Field, Session, SQLModel, col, select

from store.schema import ensure_schema
from store.sentence_vectors import SentenceVectorRow
from tools.arxiv_ids import abs_url, without_version
from tools.citation_export import ExportPaper
from tools.documents import Document, title_key
from tools.references import normalise_doi

PageSpans = list[tuple[int, int | None]]  # (character offset, page or None) where each page starts


@dataclass
class Chunk:
    paper_id: str
    ordinal: int
    section: str
    text: str
    page_spans: PageSpans = field(default_factory=list)

    @property
    def page_start(self) -> int | None:
        return self.page_spans[0][1]

    @property
    def page_end(self) -> int | None:
        return self.page_spans[-1][1]


def index_text(title: str, text: str) -> str:
    """What gets embedded and BM25-indexed for a chunk: its paper's title, then its text. The title says
    what the paper is about even when a passage does not name it (BEIR indexes title + text likewise)."""
    return f"{title}\n{text}"


def page_at(page_spans: PageSpans, offset: int) -> int | None:
    """The page holding character `offset` of a chunk's text."""
    page = page_spans[0][1]
    for start, span_page in page_spans:
        if start > offset:
            break
        page = span_page
    return page


MAX_REFERENCE_TITLE = 500  # a mis-split reference list can make a "title" of a whole page
MIN_TITLE_KEY = 20  # letters and digits a title needs to identify a paper ("Introduction" names nothing)


_FIGURE_OR_TABLE = re.compile(r"(?i)(fig(ure)?|table|tab)\.?\s*[A-Z]?\d")  # a caption, not a heading
REFERENCE_SOURCE = "bibliography"  # a paper known only from a reference manager's entry (agent/importing.py)
# Hyphens and dashes a title may print where a researcher types "-" (U+2010 to U+2015, U+2212 minus).
_DASH_CHARACTERS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DASHES = re.compile(f"[{_DASH_CHARACTERS}]")


def _as_hyphens(column):
    """The column with every dash read as "-" (nested REPLACE: SQLite has no TRANSLATE)."""
    for dash in _DASH_CHARACTERS:
        column = func.replace(column, dash, "-")
    return column


def _now() -> datetime:
    return datetime.now(UTC)


def _references_last() -> ColumnElement[int]:
    """An ORDER BY that puts full texts before metadata-only references of the same paper."""
    return case((col(PaperRow.source) == REFERENCE_SOURCE, 1), else_=0)


class PaperRow(SQLModel, table=True):
    __tablename__ = "papers"

    paper_id: str = Field(primary_key=True)
    title: str
    authors_json: str = "[]"
    year: int | None = None
    source: str
    sha256: str | None = Field(default=None, index=True)
    arxiv_id: str | None = Field(default=None, index=True)
    doi: str | None = Field(default=None, index=True)  # normalised (tools.references.normalise_doi)
    path: str | None = None
    page_count: int | None = None
    license: str | None = None
    venue: str | None = None  # the journal, proceedings or preprint server
    reader: str | None = None  # which PDF reader read it ("fonts" or "layout model"); None for other sources
    reader_note: str | None = None  # why the layout model read it
    title_key: str | None = Field(default=None, index=True)  # tools.documents.title_key(title)
    added_by: str | None = Field(default=None, index=True)  # the API key owner who added it; None: the operator
    file_bytes: int | None = None  # size of the stored file (counts toward the adder's storage quota)
    added_at: datetime = Field(default_factory=_now)

    @property
    def authors(self) -> list[str]:
        return json.loads(self.authors_json)

    @property
    def url(self) -> str | None:
        return abs_url(self.arxiv_id)

    def as_reference(self) -> ExportPaper:
        """The paper as a reference to export (BibTeX, RIS, CSL-JSON)."""
        return ExportPaper(self.paper_id, self.title, tuple(self.authors), self.year, self.doi,
                           without_version(self.arxiv_id) if self.arxiv_id else None, self.url, self.venue)


@dataclass(frozen=True)
class StoredPassage:
    """A chunk and the fields of its paper a citation needs (no ORM objects: read on every search)."""

    chunk_id: int
    paper_id: str
    title: str
    section: str
    text: str
    page_spans: PageSpans
    url: str | None
    year: int | None
    authors: tuple[str, ...] = ()


def _page_spans(stored: str) -> PageSpans:
    return [(int(offset), page) for offset, page in json.loads(stored)]


class ChunkRow(SQLModel, table=True):
    __tablename__ = "chunks"

    id: int | None = Field(default=None, primary_key=True)
    paper_id: str = Field(foreign_key="papers.paper_id", index=True)
    ordinal: int
    section: str
    text: str
    page_spans_json: str

    @property
    def page_spans(self) -> PageSpans:
        return _page_spans(self.page_spans_json)


class ReferenceRow(SQLModel, table=True):
    """One entry of a paper's reference list."""

    __tablename__ = "paper_references"

    id: int | None = Field(default=None, primary_key=True)
    paper_id: str = Field(foreign_key="papers.paper_id", index=True)
    position: int  # 1-based, in the order of the reference list
    title: str
    title_key: str | None = Field(default=None, index=True)
    authors_json: str = "[]"
    year: int | None = None
    doi: str | None = Field(default=None, index=True)  # lower-case: DOIs compare case-insensitively
    arxiv_id: str | None = Field(default=None, index=True)

    def public(self, in_library: str | None) -> dict:
        return {"position": self.position, "title": self.title, "authors": json.loads(self.authors_json),
                "year": self.year, "doi": self.doi, "arxiv_id": self.arxiv_id, "in_library": in_library}


def reference_rows(document: Document) -> list[ReferenceRow]:
    """The document's reference list as rows; a title too short to identify a paper gets no title key."""
    def key(title: str) -> str | None:
        return title_key(title) if len(title_key(title)) >= MIN_TITLE_KEY else None

    return [ReferenceRow(paper_id=document.paper_id, position=i, title=r.title[:MAX_REFERENCE_TITLE],
                         title_key=key(r.title),
                         authors_json=json.dumps(list(r.authors)), year=r.year,
                         doi=normalise_doi(r.doi), arxiv_id=r.arxiv_id)
            for i, r in enumerate(document.references, start=1)]


class IngestRunRow(SQLModel, table=True):
    """One ingest call: what it was given and what came of it, for the operator's record."""

    __tablename__ = "ingest_runs"

    id: int | None = Field(default=None, primary_key=True)
    finished_at: datetime = Field(default_factory=_now)
    paths_json: str
    added: int
    unchanged: int
    failed: int


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def find_paper(self, paper_id: str) -> PaperRow | None:
        with Session(self.engine) as session:
            return session.get(PaperRow, paper_id)

    def find_by_title(self, title: str) -> PaperRow | None:
        """A paper with the same title (letters and digits compared), if any."""
        key = title_key(title)
        if len(key) < MIN_TITLE_KEY:  # short titles ("Introduction", "Editorial") are not evidence of the same paper
            return None
        with Session(self.engine) as session:
            query = select(PaperRow).where(col(PaperRow.title_key) == key).order_by(_references_last())
            return session.exec(query).first()

    def find_by_doi(self, doi: str | None) -> PaperRow | None:
        """A paper with this DOI (compared normalised: no prefix, lower case), if any."""
        if not (doi := normalise_doi(doi)):
            return None
        with Session(self.engine) as session:
            return session.exec(select(PaperRow).where(col(PaperRow.doi) == doi).order_by(_references_last())).first()

    def references_of(self, owner: str | None, doi: str | None, title: str) -> list[PaperRow]:
        """The metadata-only papers (references from an import) `owner` added with this DOI or title."""
        match = [col(PaperRow.title_key) == title_key(title)] if len(title_key(title)) >= MIN_TITLE_KEY else []
        if doi := normalise_doi(doi):
            match.append(col(PaperRow.doi) == doi)
        if not match:
            return []
        added = col(PaperRow.added_by).is_(None) if owner is None else col(PaperRow.added_by) == owner
        with Session(self.engine) as session:
            query = select(PaperRow).where(col(PaperRow.source) == REFERENCE_SOURCE, added, or_(*match))
            return list(session.exec(query))

    def paper_at(self, path: Path) -> PaperRow | None:
        """The paper whose stored file is `path`, if any."""
        with Session(self.engine) as session:
            return session.exec(select(PaperRow).where(col(PaperRow.path) == str(Path(path).resolve()))).first()

    def find_by_sha256(self, sha256: str) -> PaperRow | None:
        with Session(self.engine) as session:
            return session.exec(select(PaperRow).where(col(PaperRow.sha256) == sha256)).first()

    @staticmethod
    def insert_paper(session: Session, document: Document, chunks: list[Chunk], added_by: str | None = None
                     ) -> list[int]:
        """Stage a paper and its chunks in `session`; returns the new chunk ids (not yet committed)."""
        size = Path(document.path).stat().st_size if document.path and Path(document.path).is_file() else None
        session.add(PaperRow(
            paper_id=document.paper_id,
            title=document.title,
            authors_json=json.dumps(document.authors, ensure_ascii=False),  # searchable as written ("Müller")
            year=document.year,
            source=document.source,
            sha256=document.sha256,
            arxiv_id=document.arxiv_id,
            doi=normalise_doi(document.doi) or document.doi,
            path=document.path,
            page_count=document.page_count,
            license=document.license,
            venue=document.venue,
            reader=document.reader,
            reader_note=document.reader_note,
            added_by=added_by,
            file_bytes=size,
            title_key=title_key(document.title) or None,
        ))
        session.flush()  # the paper row first: chunks reference it
        rows = [
            ChunkRow(paper_id=c.paper_id, ordinal=c.ordinal, section=c.section, text=c.text,
                     page_spans_json=json.dumps(c.page_spans))
            for c in chunks
        ]
        session.add_all(rows)
        session.add_all(reference_rows(document))
        session.flush()
        return [row.id for row in rows if row.id is not None]

    def delete_paper(self, paper_id: str) -> list[int]:
        """Remove a paper and its chunks; returns the removed chunk ids so indexes can drop them."""
        with self.transaction() as session:
            ids = list(session.exec(select(col(ChunkRow.id)).where(col(ChunkRow.paper_id) == paper_id)))
            session.exec(delete(SentenceVectorRow).where(col(SentenceVectorRow.chunk_id).in_(ids)))
            session.exec(delete(ChunkRow).where(col(ChunkRow.paper_id) == paper_id))
            session.exec(delete(ReferenceRow).where(col(ReferenceRow.paper_id) == paper_id))
            session.exec(delete(PaperRow).where(col(PaperRow.paper_id) == paper_id))
        return [i for i in ids if i is not None]

    def record_run(self, paths: list, statuses: list[str]) -> None:
        with self.transaction() as session:
            session.add(IngestRunRow(paths_json=json.dumps([str(p) for p in paths]), added=statuses.count("added"),
                                     unchanged=statuses.count("unchanged"), failed=statuses.count("failed")))

    def papers(self, offset: int = 0, limit: int | None = 100) -> list[PaperRow]:
        with Session(self.engine) as session:
            query = select(PaperRow).order_by(col(PaperRow.added_at)).offset(offset).limit(limit)
            return list(session.exec(query))

    def listing(self, text: str | None = None, sort: str = "added", descending: bool = False, offset: int = 0,
                limit: int | None = 100) -> tuple[list[PaperRow], int]:
        """A page of the papers whose title, authors, venue, DOI or id contain `text` (as typed; ASCII letters in
        any case), sorted by a column of COLUMN_SORTS, papers without a value last; and how many papers match."""
        passages = select(func.count(col(ChunkRow.id))).where(col(ChunkRow.paper_id) == col(PaperRow.paper_id))
        references = select(func.count(col(ReferenceRow.id))).where(
            col(ReferenceRow.paper_id) == col(PaperRow.paper_id))
        keys = {"added": col(PaperRow.added_at), "title": func.lower(col(PaperRow.title)), "year": col(PaperRow.year),
                "venue": func.lower(col(PaperRow.venue)), "source": col(PaperRow.source),
                "passages": passages.scalar_subquery(), "references": references.scalar_subquery()}
        key = keys[sort]
        query = select(PaperRow)
        if text and text.strip():
            literal = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            literal = _DASHES.sub("-", literal)  # a typed "-" finds a title's non-breaking hyphen or en dash too
            query = query.where(or_(*(func.lower(_as_hyphens(field)).like(f"%{literal}%", escape="\\") for field in (
                col(PaperRow.title), col(PaperRow.authors_json), col(PaperRow.venue), col(PaperRow.doi),
                col(PaperRow.paper_id)))))
        with Session(self.engine) as session:
            total = session.exec(select(func.count()).select_from(query.subquery())).one()
            ordered = query.order_by(key.is_(None), key.desc() if descending else key.asc(), col(PaperRow.paper_id))
            return list(session.exec(ordered.offset(offset).limit(limit))), total

    def counts(self, paper_ids: list[str]) -> dict[str, tuple[int, int]]:
        """Paper id -> (passages, reference list entries)."""
        with Session(self.engine) as session:
            passages = dict(session.exec(select(col(ChunkRow.paper_id), func.count()).where(
                col(ChunkRow.paper_id).in_(paper_ids)).group_by(col(ChunkRow.paper_id))).all())
            references = dict(session.exec(select(col(ReferenceRow.paper_id), func.count()).where(
                col(ReferenceRow.paper_id).in_(paper_ids)).group_by(col(ReferenceRow.paper_id))).all())
        return {paper: (passages.get(paper, 0), references.get(paper, 0)) for paper in paper_ids}

    def sections(self, paper_id: str) -> list[tuple[str, int | None]]:
        """The paper's sections in reading order, each once, with the page it starts on: a table of contents."""
        seen: dict[str, int | None] = {}
        for chunk in self.chunks_of(paper_id):
            if chunk.section not in seen and not _FIGURE_OR_TABLE.match(chunk.section.rsplit(" > ", 1)[-1]):
                seen[chunk.section] = chunk.page_spans[0][1] if chunk.page_spans else None
        return list(seen.items())

    def papers_of_years(self, years: set[int | None]) -> list[PaperRow]:
        """Every paper published in one of these years (None: papers without a year)."""
        condition: ColumnElement[bool] = col(PaperRow.year).in_([year for year in years if year is not None])
        if None in years:
            condition = or_(condition, col(PaperRow.year).is_(None))
        with Session(self.engine) as session:
            return list(session.exec(select(PaperRow).where(condition)))

    def bytes_added_by(self, owner: str) -> int:
        """Stored file bytes of the papers this owner added."""
        query = select(func.coalesce(func.sum(col(PaperRow.file_bytes)), 0)).where(col(PaperRow.added_by) == owner)
        with Session(self.engine) as session:
            return int(session.exec(query).one() or 0)

    def paper_count(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(PaperRow)).one())

    def chunk_count(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(ChunkRow)).one())

    def has_chunks(self) -> bool:
        """Whether any passage exists (one row read, not a count: asked on every turn)."""
        with Session(self.engine) as session:
            return session.exec(select(col(ChunkRow.id)).limit(1)).first() is not None

    def stored_passages(self, ids: list[int]) -> dict[int, StoredPassage]:
        """Chunk id -> the chunk with what a citation needs of its paper, read as plain columns."""
        if not ids:
            return {}
        # SQLAlchemy's select: SQLModel's types a select of at most four columns
        query = (columns(col(ChunkRow.id), col(ChunkRow.paper_id), col(PaperRow.title), col(ChunkRow.section),
                         col(ChunkRow.text), col(ChunkRow.page_spans_json), col(PaperRow.arxiv_id), col(PaperRow.year),
                         col(PaperRow.authors_json))
                 .join(PaperRow).where(col(ChunkRow.id).in_(ids)))
        with Session(self.engine) as session:
            rows = list(session.execute(query))
        # decoded once a paper, not once a passage: this is on every search's path
        authors = {row[1]: tuple(json.loads(row[8] or "[]")) for row in {row[1]: row for row in rows}.values()}
        return {row[0]: StoredPassage(row[0], row[1], row[2], row[3], row[4], _page_spans(row[5]), abs_url(row[6]),
                                      row[7], authors[row[1]]) for row in rows}

    def fingerprint(self) -> str:
        """Changes whenever chunks are added or removed: what derived indexes are checked against."""
        with Session(self.engine) as session:
            count, highest, total = session.exec(
                select(func.count(col(ChunkRow.id)), func.max(col(ChunkRow.id)), func.sum(col(ChunkRow.id)))).one()
        return f"{count}:{highest or 0}:{total or 0}"

    def version(self) -> str:
        """Changes whenever papers, passages or reference lists are added or removed: what views of the whole
        library (its map, its citation counts) are kept against."""
        with Session(self.engine) as session:
            papers = session.exec(select(func.count()).select_from(PaperRow)).one()
            references = session.exec(select(func.count(col(ReferenceRow.id)), func.max(col(ReferenceRow.id)))).one()
        return f"{self.fingerprint()}:{papers}:{references[0]}:{references[1] or 0}"

    def chunk_ids_matching(self, paper_ids: list[str] | None = None, year_from: int | None = None,
                           year_to: int | None = None, sources: list[str] | None = None) -> list[int]:
        query = select(col(ChunkRow.id)).join(PaperRow)
        if paper_ids is not None:
            query = query.where(col(PaperRow.paper_id).in_(paper_ids))
        if year_from is not None:
            query = query.where(col(PaperRow.year) >= year_from)
        if year_to is not None:
            query = query.where(col(PaperRow.year) <= year_to)
        if sources is not None:
            query = query.where(col(PaperRow.source).in_(sources))
        with Session(self.engine) as session:
            return [i for i in session.exec(query) if i is not None]

    def paper_text(self, paper_id: str) -> str:
        """All of a paper's chunk texts, in order (what a quote from it must be found in)."""
        query = select(col(ChunkRow.text)).where(col(ChunkRow.paper_id) == paper_id).order_by(col(ChunkRow.ordinal))
        with Session(self.engine) as session:
            return "\n".join(session.exec(query))

    def chunks_of(self, paper_id: str) -> list[ChunkRow]:
        """A paper's chunks in reading order."""
        query = select(ChunkRow).where(col(ChunkRow.paper_id) == paper_id).order_by(col(ChunkRow.ordinal))
        with Session(self.engine) as session:
            return list(session.exec(query))

    def abstracts(self) -> dict[str, str]:
        """Paper id -> what the paper is about in brief: its abstract among its first passages, else its first
        passage (a PDF's first one may be its authors' affiliations)."""
        query = (select(col(ChunkRow.paper_id), col(ChunkRow.section), col(ChunkRow.text))
                 .where(col(ChunkRow.ordinal) < 8).order_by(col(ChunkRow.paper_id), col(ChunkRow.ordinal)))
        first: dict[str, str] = {}
        abstract: dict[str, list[str]] = {}
        with Session(self.engine) as session:
            for paper, section, text in session.exec(query):
                first.setdefault(paper, text)
                if section.lower().startswith("abstract"):  # a structured abstract's parts, in order
                    abstract.setdefault(paper, []).append(text)
        return first | {paper: " ".join(texts) for paper, texts in abstract.items()}

    def chunk_papers(self) -> dict[int, str]:
        """Chunk id -> paper id for the whole library (evals map ranked chunks to documents with it)."""
        with Session(self.engine) as session:
            return {i: p for i, p in session.exec(select(col(ChunkRow.id), col(ChunkRow.paper_id))) if i is not None}

    def all_chunks(self) -> list[tuple[int, str, str, PageSpans]]:
        """Every chunk as (id, paper title, text, page spans), in id order: what a reindex encodes."""
        query = select(col(ChunkRow.id), col(PaperRow.title), col(ChunkRow.text),
                       col(ChunkRow.page_spans_json)).join(PaperRow)
        with Session(self.engine) as session:
            rows = session.exec(query.order_by(col(ChunkRow.id))).all()
        return [(int(row[0] or 0), row[1], row[2], _page_spans(row[3])) for row in rows]

    def all_index_texts(self) -> tuple[list[int], list[str]]:
        """Every chunk id and its index text (title + text), in id order: what indexes are built from."""
        chunks = self.all_chunks()
        return [chunk_id for chunk_id, *_ in chunks], [index_text(title, text) for _, title, text, _ in chunks]
