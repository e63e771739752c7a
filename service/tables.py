"""Evidence tables as a use case: which papers are the rows (ids given, a search's best papers, a conversation's
cited papers, or a watch's new papers), then the table itself (agent/evidence_tables.py). The CLI builds a table
in-process; the HTTP API runs it as a job, each row recorded as it is done."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.evidence_tables import MAX_ROWS, EvidenceTable, Row, TableBuilder, columns_for
from agent.papers import ARXIV_OFF, NewPaperReader
from service.turns import TurnService
from service.watches import WatchService

log = logging.getLogger(__name__)


@dataclass
class RowResult:
    """One finished row of a table job, as the job's results list it (status "row": not an ingest)."""

    row: Row
    status: str = "row"
    error: str | None = field(default=None)

    def public(self) -> dict[str, object]:
        return {"status": self.status, **self.row.model_dump(mode="json")}


@dataclass
class LeftOut:
    """A paper a table job could not make a row of (deleted since the job was queued)."""

    paper_id: str
    error: str | None
    status: str = "skipped"

    def public(self) -> dict[str, object]:
        return {"status": self.status, "paper_id": self.paper_id, "error": self.error}


@dataclass
class TableService:
    """`new_papers`: what reads arXiv's papers on a query into the library before its rows are chosen (None: arXiv
    is turned off)."""

    builder: TableBuilder
    turns: TurnService
    watches: WatchService
    new_papers: NewPaperReader | None = None

    def read_arxiv(self, query: str | None, added_by: str | None = None) -> str:
        """Reads arXiv's papers on the query that the library lacks into it (for `added_by`), so a query's rows are
        not only the papers already added; what was read, as a line to show. ValueError without a query or with
        arXiv off."""
        if query is None:
            raise ValueError("reading arXiv's papers needs a query: give one")
        if self.new_papers is None:
            raise ValueError(ARXIV_OFF)
        return self.new_papers.read_new(query, added_by)

    def papers(self, papers: list[str] | None = None, query: str | None = None, n: int = 10,
               conversation: str | None = None, watch: str | None = None, owner: str | None = None) -> list[str]:
        """The rows' paper ids, from whichever sources are given, in that order; ValueError when none is, or a
        conversation or watch is unknown (`owner`: the key asking; None, the operator, may read any watch)."""
        chosen = list(papers or [])
        if query is not None:
            found = self.builder.papers_for(query, n)
            if len(found) < n:
                log.warning("the query found %d of the %d papers asked for: the library holds no more", len(found), n)
            chosen += found
        if conversation is not None:
            if self.turns.runtime.conversations.get(conversation) is None:
                raise ValueError(f"no conversation {conversation!r}: 'scisynth ask --conversation ID' starts one")
            chosen += [paper.paper_id for paper in self.turns.cited_papers(conversation)]
        if watch is not None:  # its newest papers still in the library, as many as a table holds
            chosen += self.watches.added_papers(watch, owner, self.turns.runtime.catalog)[:MAX_ROWS]
        if not chosen:
            raise ValueError("no papers for the rows: give paper ids, a query, a conversation that cites papers, or "
                             "a watch that has added some")
        return list(dict.fromkeys(chosen))

    def build(self, paper_ids: list[str], columns: list[str] | None = None, preset: str | None = None,
              on_row: Callable[[Row], None] | None = None) -> EvidenceTable:
        return self.builder.build(paper_ids, columns_for(columns, preset), on_row)
