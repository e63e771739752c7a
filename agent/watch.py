"""Literature watches run: a saved arXiv query plus standing questions (store/watches.py keeps them). A run asks
arXiv for the newest matching papers, ingests those the watch has not seen, and writes a digest: each new paper
with a one-line summary and what it says on each standing question, quoted with its page (extractive: no model is
needed, and every line can be checked against the paper). A run that cannot reach arXiv writes a digest saying so
(only the first of a streak of failures) and is retried within the hour.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.answerability import AnswerabilityJudge
from agent.evidence import SentenceScorer
from agent.papers import PaperFetcher
from agent.prose import is_body_prose
from retrieval.ingest import IngestResult
from retrieval.search import HybridSearcher, SearchFilter
from store.watches import DigestRow, WatchError, WatchRow, WatchStore
from tools.arxiv_client import ArxivClient, ArxivError, ArxivPaper, ArxivQueryError, build_query

if TYPE_CHECKING:
    from agent.runtime import Runtime

CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")  # cs.CL, q-bio.NC, hep-th
CONTRIBUTION_BONUS = 0.1  # added to a contribution sentence's similarity to the title
# A sentence stating what the paper contributes, preferred as its one-line summary over the topic's framing.
_CONTRIBUTION = re.compile(r"\b(we|this (paper|work|study|article)|our|here)\b.{0,80}?\b(show|find|found|demonstrat|"
                           r"propos|present|introduc|achiev|outperform|report|develop|establish)", re.IGNORECASE)


def watch_query(text: str = "", categories: list[str] | None = None, title: str | None = None,
                author: str | None = None) -> str:
    """The arXiv query a watch runs; WatchError when it would match everything or has a malformed category."""
    categories = [c.strip() for c in categories or [] if c.strip()]
    for category in categories:
        if not CATEGORY.match(category):
            raise WatchError(f"{category!r} is not an arXiv category (e.g. cs.CL, q-bio.NC, hep-th)")
    def plain(value: str | None) -> str | None:  # a double quote inside a quoted arXiv term breaks the query
        return " ".join(value.replace('"', " ").split()) or None if value else None

    query = build_query(text, title=plain(title), author=plain(author), category=categories)
    if not query:
        raise WatchError("give search words, a title or author term, or at least one category")
    return query


@dataclass
class DigestWriter:
    """What a new paper is about, and what it says on each standing question, as quotes with their page."""

    searcher: HybridSearcher
    scorer: SentenceScorer
    judge: AnswerabilityJudge

    def _quote(self, query: str, paper_id: str, bonus: Callable[[str], float] = lambda _text: 0.0) -> dict | None:
        passages = self.searcher.search(query, k=4, where=SearchFilter(paper_ids=[paper_id]))
        scored = [s for sentences in self.scorer.sentences(query, passages, keep=is_body_prose) for s in sentences]
        if not scored:
            return None
        best = max(scored, key=lambda s: s.score + bonus(s.text))
        return {"text": best.text, "page": best.passage.page_of(best.start), "section": best.passage.section,
                "score": round(best.score, 3)}

    def summary(self, paper_id: str, title: str) -> dict | None:
        """The sentence closest to the title's meaning, a sentence stating the contribution ("we show...") ahead
        of one that frames the topic."""
        return self._quote(title, paper_id, bonus=lambda text: CONTRIBUTION_BONUS * bool(_CONTRIBUTION.search(text)))

    def bearing(self, paper_id: str, question: str) -> dict:
        """The paper's best sentence on the question when it addresses it (the assistant's answerability rule)."""
        passages = self.searcher.search(question, k=4, where=SearchFilter(paper_ids=[paper_id]))
        verdict = self.judge.judge(question, passages)
        quote = self._quote(question, paper_id) if verdict.answers else None
        return {"question": question, "addresses": quote is not None, "quote": quote,
                "answerability": round(verdict.probability, 3)}

    def entry(self, paper: ArxivPaper, result: IngestResult, questions: list[str]) -> dict:
        entry = {"arxiv_id": paper.base_id, "paper_id": result.paper_id, "title": paper.title,
                 "authors": paper.authors[:6], "url": paper.abs_url,
                 "published": paper.published and paper.published.date().isoformat(), "note": result.error}
        if result.status == "failed" or result.paper_id is None:
            return {**entry, "paper_id": None, "summary": None, "bearings": []}
        return {**entry, "summary": self.summary(result.paper_id, paper.title),
                "bearings": [self.bearing(result.paper_id, q) for q in questions]}


@dataclass
class WatchRun:
    watch_id: str
    status: str  # "new papers", "nothing new", "failed", "no such watch"
    digest: DigestRow | None = None
    results: list[IngestResult] = field(default_factory=list)  # the new papers' ingests


@dataclass
class WatchRunner:
    store: WatchStore
    arxiv: ArxivClient
    fetcher: PaperFetcher
    writer: DigestWriter
    deliver: Callable[[DigestRow], str] | None = None  # posts a digest (Slack); returns what happened

    def run(self, watch_id: str, pdfs_allowed: bool = True) -> WatchRun:
        """Run one watch now (as a job: service/watches.py); its digest when there are new papers or arXiv failed.
        `pdfs_allowed` False (the owner's storage quota is full): the new papers are added from their abstracts."""
        watch = self.store.get(watch_id)
        if watch is None:
            return WatchRun(watch_id, "no such watch")
        try:
            found = self.arxiv.search(watch.query, max_results=watch.max_results, sort_by="submitted", fresh=True)
        except ArxivQueryError as error:
            return self._failed(watch, f"arXiv refused this watch's query ({error}); edit or remove the watch",
                                retry_soon=False)
        except ArxivError as error:
            return self._failed(watch, f"arXiv could not be searched ({error}); the watch tries again within the "
                                       "hour, and no paper is missed", retry_soon=True)
        seen = self.store.seen(watch.id)
        new = list({p.base_id: p for p in found if p.base_id not in seen}.values())
        if not new:
            self.store.finish(watch, "nothing new", None, [])
            return WatchRun(watch.id, "nothing new")
        results = [self.fetcher.ingest(paper, watch.with_pdf and pdfs_allowed, added_by=watch.owner or None)
                   for paper in new]
        if watch.with_pdf and not pdfs_allowed:
            for result in results:
                result.error = result.error or "abstract only: the watch owner's storage quota is full"
        entries = [self.writer.entry(paper, result, watch.questions)
                   for paper, result in zip(new, results, strict=True)]
        reported = [paper.base_id for paper, result in zip(new, results, strict=True)
                    if result.status != "failed"]  # a failed ingest is tried again next run
        digest = DigestRow(watch_id=watch.id, watch_name=watch.name, owner=watch.owner, status="new papers",
                           entries_json=json.dumps(entries))
        if not self.store.finish(watch, "new papers", digest, reported):
            return WatchRun(watch.id, "no such watch", None, results)  # removed while it ran: nothing to post
        return WatchRun(watch.id, "new papers", self._delivered(digest), results)

    def _failed(self, watch: WatchRow, reason: str, retry_soon: bool) -> WatchRun:
        """Say so once per streak of failures."""
        first = watch.last_status != "failed"
        digest = DigestRow(watch_id=watch.id, watch_name=watch.name, owner=watch.owner, status="failed",
                           error=reason) if first else None
        stored = self.store.finish(watch, "failed", digest, [], retry_soon=retry_soon)
        return WatchRun(watch.id, "failed", self._delivered(digest) if digest and stored else None)

    def _delivered(self, digest: DigestRow) -> DigestRow:
        digest.delivery = self.deliver(digest) if self.deliver is not None else (
            "not configured (set SLACK_BOT_TOKEN and SLACK_WATCH_CHANNEL)")
        self.store.set_delivery(digest.id, digest.delivery)
        return digest


def watch_runner(runtime: Runtime, deliver: Callable[[DigestRow], str] | None = None) -> WatchRunner:
    """The runner over a runtime's library, arXiv client and scorer."""
    judge = AnswerabilityJudge(runtime.scorer, runtime.searcher.lexical_index, runtime.settings.answer.answer_threshold)
    return WatchRunner(WatchStore(runtime.engine), runtime.arxiv, runtime.fetcher,
                       DigestWriter(runtime.searcher, runtime.scorer, judge), deliver)


