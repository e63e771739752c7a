"""Novelty of a hypothesis, checked against the literature: the closest existing work in the library and
on arXiv, shown with its similarity and the sentence that comes closest, and a score that drops when prior
work already says the same thing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.citations import MARKER
from agent.evidence import SentenceScorer
from agent.keywords import content_words
from agent.settings import AnswerSettings
from agent.state import PriorWork
from retrieval.search import HybridSearcher
from retrieval.sentences import sentences
from tools.arxiv_client import ArxivClient, ArxivError, build_query


def novelty_score(similarity: float) -> float:
    """1.0 when nothing close exists (similarity <= 0.4), 0 when prior work says the same (>= 0.9)."""
    return round(float(np.clip((0.9 - similarity) / 0.5, 0.0, 1.0)), 2)


@dataclass(frozen=True)
class NoveltyCheck:
    score: float  # 0..1, novelty_score of the closest work
    closest: list[PriorWork]  # up to 3, closest first
    queries: list[str]  # the searches run, in order
    error: str = ""  # why arXiv could not be searched, or ""
    arxiv_searched: bool = True  # False when arXiv was off or not configured: only the library was searched

    @property
    def searched(self) -> str:
        """Where the closest work was looked for, as a reader needs it beside the score: a novelty of 1.0 over a
        library of eight papers is not one over arXiv."""
        if not self.arxiv_searched:
            return "your library only (arXiv was not searched)"
        return "your library only (arXiv could not be searched)" if self.error else "your library and arXiv"


_TEMPLATE_WORDS = {"finding", "hold", "setting"}  # a template's own framing, not what it is about


def follow_up_query(statement: str, closest: list[PriorWork], tried: list[str]) -> str | None:
    """The next search, made from the draft as AI-Scientist does: the statement's content words that the closest
    work found so far does not contain, so the next round looks where the last one did not."""
    covered = {w.lower() for w in content_words(closest[0]["quote"])} if closest else set()
    covered |= _TEMPLATE_WORDS
    query = " ".join([w for w in content_words(statement) if w.lower() not in covered][:8])
    return query if query and query not in tried else None


class NoveltyChecker:
    def __init__(self, searcher: HybridSearcher, scorer: SentenceScorer, arxiv: ArxivClient | None,
                 rounds: int = 2, quality: AnswerSettings | None = None) -> None:
        self.searcher = searcher
        self.scorer = scorer
        self.arxiv = arxiv
        self.rounds = rounds
        # a work this similar says the same thing: no need to search further
        self.decided_at = (quality or AnswerSettings()).novelty_decided_at

    def _arxiv(self, query: str, use_arxiv: bool) -> tuple[list, str]:
        """The arXiv records a search on the query's content words finds, and an arXiv error."""
        if not use_arxiv or self.arxiv is None:
            return [], ""
        try:
            return self.arxiv.search(build_query(" ".join(content_words(query)[:8])), max_results=5), ""
        except ArxivError as failure:
            return [], str(failure)

    def _library(self, query: str, bare: str, builds_on: frozenset[str]) -> list[PriorWork]:
        passages = self.searcher.search(query, k=5)
        works = []
        for found in self.scorer.sentences(bare, passages, keep=lambda _passage, text: text not in builds_on):
            if top := max(found, key=lambda sentence: sentence.score, default=None):
                works.append(PriorWork(paper_id=top.passage.paper_id, title=top.passage.title, url=top.passage.url,
                                       similarity=round(top.score, 3), quote=top.text))
        return works

    def _on_arxiv(self, records: list, bare: str, builds_on: frozenset[str]) -> list[PriorWork]:
        works = []
        for record in records:
            pieces = [s for s in sentences(record.abstract) or [record.abstract] if s not in builds_on]
            if pieces:
                similarity = self.scorer.similarities(bare, pieces)
                index = int(similarity.argmax())
                works.append(PriorWork(paper_id=record.base_id, title=record.title, url=record.abs_url,
                                       similarity=round(float(similarity[index]), 3), quote=pieces[index]))
        return works

    def check(self, statement: str, use_arxiv: bool = True, builds_on: frozenset[str] = frozenset(),
              ignore_papers: frozenset[str] = frozenset()) -> NoveltyCheck:
        """Search the library and arXiv in up to `rounds` rounds (the statement, then queries made from what the
        closest work does not cover) and score novelty by the closest sentence found. Sentences in `builds_on`
        (the evidence the hypothesis quotes as its premise) are not prior work stating the hypothesis. Library
        passages are compared through their stored sentence vectors; arXiv abstracts are encoded here. Papers in
        `ignore_papers` (those a template quotes) are not prior work for it."""
        bare = " ".join(MARKER.sub("", statement).split())
        best: dict[str, PriorWork] = {}
        queries, errors = [bare], []
        while True:
            records, error = self._arxiv(queries[-1], use_arxiv)
            errors += [error] if error else []
            for work in self._library(queries[-1], bare, builds_on) + self._on_arxiv(records, bare, builds_on):
                if work["paper_id"] in ignore_papers:
                    continue
                if work["paper_id"] not in best or work["similarity"] > best[work["paper_id"]]["similarity"]:
                    best[work["paper_id"]] = work
            closest = sorted(best.values(), key=lambda w: -w["similarity"])[:3]
            decided = bool(closest) and closest[0]["similarity"] >= self.decided_at
            if decided or len(queries) == self.rounds or not (query := follow_up_query(bare, closest, queries)):
                break
            queries.append(query)
        score = novelty_score(closest[0]["similarity"] if closest else 0.0)
        return NoveltyCheck(score, closest, queries, "; ".join(dict.fromkeys(errors)),
                            arxiv_searched=use_arxiv and self.arxiv is not None)
