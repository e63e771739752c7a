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

    def _candidates(self, statement: str, use_arxiv: bool) -> tuple[list[tuple[str, str, str | None, str]], str]:
        """(paper_id, title, url, text) of the closest library passages and arXiv abstracts; an arXiv error."""
        found = [(p.paper_id, p.title, p.url, p.text) for p in self.searcher.search(statement, k=5)]
        error = ""
        if use_arxiv and self.arxiv is not None:
            try:
                query = build_query(" ".join(content_words(statement)[:8]))
                found += [(p.base_id, p.title, p.abs_url, p.abstract) for p in self.arxiv.search(query, max_results=5)]
            except ArxivError as failure:
                error = str(failure)
        return found, error

    def check(self, statement: str, use_arxiv: bool = True, builds_on: frozenset[str] = frozenset()
              ) -> tuple[float, list[PriorWork], str]:
        """(novelty 0..1, up to 3 closest works, arXiv error or ""). Sentences in `builds_on` (the evidence
        the hypothesis cites as its premise) are not counted as prior work stating the hypothesis."""
        bare = " ".join(MARKER.sub("", statement).split())
        candidates, error = self._candidates(bare, use_arxiv)
        best: dict[str, PriorWork] = {}
        for paper_id, title, url, text in candidates:
            pieces = [s for s in sentences(text) or [text] if s not in builds_on]
            if not pieces:
                continue
            similarity = self.scorer.similarities(bare, pieces)
            index = int(similarity.argmax())
            work = PriorWork(paper_id=paper_id, title=title, similarity=round(float(similarity[index]), 3),
                             quote=pieces[index], url=url)
            if paper_id not in best or work["similarity"] > best[paper_id]["similarity"]:
                best[paper_id] = work
        closest = sorted(best.values(), key=lambda w: -w["similarity"])[:3]
        return novelty_score(closest[0]["similarity"] if closest else 0.0), closest, error
