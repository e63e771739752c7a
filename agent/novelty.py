"""Novelty of a hypothesis, checked against the literature: the closest existing work in the library and
on arXiv, shown with its similarity and the sentence that comes closest, and a score that drops when prior
work already says the same thing."""

from __future__ import annotations

import numpy as np

from agent.citations import MARKER
from agent.evidence import SentenceScorer
from agent.keywords import content_words
from agent.state import PriorWork
from retrieval.search import HybridSearcher
from retrieval.sentences import sentences
from tools.arxiv_client import ArxivClient, ArxivError, build_query


def novelty_score(similarity: float) -> float:
    """1.0 when nothing close exists (similarity <= 0.4), 0 when prior work says the same (>= 0.9)."""
    return round(float(np.clip((0.9 - similarity) / 0.5, 0.0, 1.0)), 2)


class NoveltyChecker:
    def __init__(self, searcher: HybridSearcher, scorer: SentenceScorer, arxiv: ArxivClient | None) -> None:
        self.searcher = searcher
        self.scorer = scorer
        self.arxiv = arxiv

    def _arxiv(self, statement: str, use_arxiv: bool) -> tuple[list, str]:
        """The arXiv records closest to the statement (a search on its content words), and an arXiv error."""
        if not use_arxiv or self.arxiv is None:
            return [], ""
        try:
            return self.arxiv.search(build_query(" ".join(content_words(statement)[:8])), max_results=5), ""
        except ArxivError as failure:
            return [], str(failure)

    def check(self, statement: str, use_arxiv: bool = True, builds_on: frozenset[str] = frozenset()
              ) -> tuple[float, list[PriorWork], str]:
        """(novelty 0..1, up to 3 closest works, arXiv error or ""). Sentences in `builds_on` (the evidence
        the hypothesis cites as its premise) are not counted as prior work stating the hypothesis. Library
        passages are compared through their stored sentence vectors; arXiv abstracts are encoded here."""
        bare = " ".join(MARKER.sub("", statement).split())
        best: dict[str, PriorWork] = {}

        def consider(work: PriorWork) -> None:
            if work["paper_id"] not in best or work["similarity"] > best[work["paper_id"]]["similarity"]:
                best[work["paper_id"]] = work

        passages = self.searcher.search(bare, k=5)
        for found in self.scorer.sentences(bare, passages, keep=lambda text: text not in builds_on):
            if top := max(found, key=lambda sentence: sentence.score, default=None):
                consider(PriorWork(paper_id=top.passage.paper_id, title=top.passage.title, url=top.passage.url,
                                   similarity=round(top.score, 3), quote=top.text))
        records, error = self._arxiv(bare, use_arxiv)
        for record in records:
            pieces = [s for s in sentences(record.abstract) or [record.abstract] if s not in builds_on]
            if pieces:
                similarity = self.scorer.similarities(bare, pieces)
                index = int(similarity.argmax())
                consider(PriorWork(paper_id=record.base_id, title=record.title, url=record.abs_url,
                                   similarity=round(float(similarity[index]), 3), quote=pieces[index]))
        closest = sorted(best.values(), key=lambda w: -w["similarity"])[:3]
        return novelty_score(closest[0]["similarity"] if closest else 0.0), closest, error
