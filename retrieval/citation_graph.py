"""The library's own citation network: each paper's parsed reference list is stored at ingest, and a reference
is linked to the library paper it names by DOI, arXiv id, or normalised title (the same title rule as
duplicate detection: at least 20 letters and digits, so "Introduction" names nothing)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, func, or_
from sqlmodel import Session, select

from store.catalog import MIN_TITLE_KEY, PaperRow, ReferenceRow
from tools.arxiv_ids import without_version
from tools.references import normalise_doi


def _names(paper: PaperRow) -> ColumnElement[bool] | None:
    """The condition a reference meets when it names `paper`."""
    conditions = []
    if normalise_doi(paper.doi):
        conditions.append(ReferenceRow.doi == normalise_doi(paper.doi))
    if paper.arxiv_id:  # references keep no version ("1706.03762"); a library paper may ("1706.03762v5")
        conditions.append(ReferenceRow.arxiv_id == without_version(paper.arxiv_id))
    if paper.title_key and len(paper.title_key) >= MIN_TITLE_KEY:
        conditions.append(ReferenceRow.title_key == paper.title_key)
    return or_(*conditions) if conditions else None


class CitationGraph:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def references(self, paper_id: str) -> list[dict]:
        """The paper's reference list, each entry with the id of the library paper it names (or None)."""
        with Session(self.engine) as session:
            rows = list(session.exec(select(ReferenceRow).where(ReferenceRow.paper_id == paper_id)
                                     .order_by(ReferenceRow.position)))
            if not rows:  # most papers of a library of abstracts: no second query on the question's path
                return []
            dois = {r.doi for r in rows if r.doi}
            arxiv_ids = {r.arxiv_id for r in rows if r.arxiv_id}
            keys = {r.title_key for r in rows if r.title_key}
            versioned = [PaperRow.arxiv_id.like(f"{arxiv_id}v%") for arxiv_id in arxiv_ids]
            papers = list(session.exec(select(PaperRow).where(or_(
                func.lower(PaperRow.doi).in_(dois), PaperRow.arxiv_id.in_(arxiv_ids), PaperRow.title_key.in_(keys),
                *versioned))))
        by_doi = {normalise_doi(p.doi): p.paper_id for p in papers if normalise_doi(p.doi)}
        by_arxiv = {without_version(p.arxiv_id): p.paper_id for p in papers if p.arxiv_id}
        by_title = {p.title_key: p.paper_id for p in papers if p.title_key}
        linked = [(r, by_doi.get(r.doi or "") or by_arxiv.get(r.arxiv_id or "") or by_title.get(r.title_key or ""))
                  for r in rows]
        return [r.public(target if target != paper_id else None) for r, target in linked]

    def cited_by(self, paper: PaperRow) -> list[PaperRow]:
        """Library papers whose reference lists name this paper, oldest addition first."""
        condition = _names(paper)
        if condition is None:
            return []
        with Session(self.engine) as session:
            citing = select(ReferenceRow.paper_id).where(condition, ReferenceRow.paper_id != paper.paper_id)
            return list(session.exec(select(PaperRow).where(PaperRow.paper_id.in_(citing))
                                     .order_by(PaperRow.added_at)))

    def links(self) -> list[tuple[str, str]]:
        """Every (citing, cited) pair of library papers, once each: the library's citation network in one read of
        the reference lists. A reference names every library paper it matches by DOI, arXiv id or title, as in
        `cited_by`, so the counts agree."""
        with Session(self.engine) as session:
            papers = session.exec(select(PaperRow.paper_id, PaperRow.doi, PaperRow.arxiv_id, PaperRow.title_key)).all()
            references = session.exec(select(ReferenceRow.paper_id, ReferenceRow.doi, ReferenceRow.arxiv_id,
                                             ReferenceRow.title_key)).all()
        by_doi = {normalise_doi(doi): paper for paper, doi, _, _ in papers if normalise_doi(doi)}
        by_arxiv = {without_version(arxiv_id): paper for paper, _, arxiv_id, _ in papers if arxiv_id}
        by_title = {key: paper for paper, _, _, key in papers if key and len(key) >= MIN_TITLE_KEY}
        found = {(citing, cited) for citing, doi, arxiv_id, key in references
                 for cited in (by_doi.get(doi or ""), by_arxiv.get(arxiv_id or ""), by_title.get(key or ""))}
        return sorted((citing, cited) for citing, cited in found if cited and cited != citing)
