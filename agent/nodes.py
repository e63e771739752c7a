"""The nodes of a research turn, one method each, over the shared AgentState.

Services come in through `AgentServices`; limits through `TurnLimits`. Text found in papers is only ever
data: no node turns passage text into a tool call, a URL to fetch or a change of settings.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from agent.citations import CitationChecker
from agent.evidence import gather_evidence, score_passages
from agent.keywords import content_words
from agent.llm import Composer
from agent.llm.extractive import NO_EVIDENCE
from agent.novelty import NoveltyChecker
from agent.papers import PaperFetcher
from agent.reasoning import HypothesisDraft, Reasoner
from agent.state import AgentState, Citation, Hypothesis, TraceEvent
from retrieval.catalog import Catalog
from retrieval.embeddings import Embedder
from retrieval.search import HybridSearcher, Passage
from tools.arxiv_client import ArxivClient, ArxivError, build_query

log = logging.getLogger(__name__)

EMPTY_LIBRARY = ("Your library is empty, so there is nothing to answer from yet. Add papers with "
                 "'scisynth ingest PATH' (PDF files or folders) or 'scisynth fetch ARXIV_ID', then ask again.")
CHIT_CHAT = ("Hello! I answer research questions from your paper library and arXiv, with citations to the page, "
             "and I can propose testable hypotheses. Ask me a question about a topic.")
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class TurnLimits:
    evidence_k: int = 8
    relevance_cutoff: float = 0.25
    min_evidence: int = 2
    max_rounds: int = 2
    papers_per_turn: int = 2
    max_seconds: float = 120.0
    max_llm_calls: int = 12
    use_arxiv: bool = True
    arxiv_results: int = 5


@dataclass
class AgentServices:
    catalog: Catalog
    searcher: HybridSearcher
    embedder: Embedder
    composer: Composer
    fallback: Composer
    checker: CitationChecker
    reasoner: Reasoner
    novelty: NoveltyChecker
    arxiv: ArxivClient | None
    fetcher: PaperFetcher | None
    limits: TurnLimits

    @property
    def model_backed(self) -> bool:
        return self.reasoner.name.startswith("llm:")


def _event(state: AgentState, node: str, detail: str, started: float, error: str = "") -> list[TraceEvent]:
    event = TraceEvent(node=node, detail=detail, seconds=round(time.perf_counter() - started, 3))
    if error:
        event["error"] = error
    return [*state.get("trace", []), event]


class TurnNodes:
    def __init__(self, services: AgentServices) -> None:
        self.s = services

    def _budget_left(self, state: AgentState) -> str:
        """Empty while the turn is inside its budgets; else which budget ran out."""
        if time.monotonic() - state.get("started_at", time.monotonic()) > self.s.limits.max_seconds:
            return f"the turn's time budget ({self.s.limits.max_seconds:.0f} s) ran out"
        if state.get("llm_calls", 0) >= self.s.limits.max_llm_calls:
            return f"the turn's budget of {self.s.limits.max_llm_calls} model calls ran out"
        return ""

    def understand(self, state: AgentState) -> dict:
        started = time.perf_counter()
        plan = self.s.reasoner.plan(state["question"], state.get("history", []))
        intent = "hypothesize" if state.get("mode") == "hypothesize" else plan.intent
        calls = state.get("llm_calls", 0) + int(self.s.model_backed)
        detail = f"intent {intent}; queries: {' | '.join(plan.queries)}"
        return {"intent": intent, "resolved_question": plan.resolved_question, "queries": plan.queries,
                "llm_calls": calls, "library_empty": self.s.catalog.chunk_count() == 0,
                "trace": _event(state, "understand", detail, started)}

    def search(self, state: AgentState) -> dict:
        """Library first; arXiv when the library looks thin or new papers were asked for."""
        started = time.perf_counter()
        question = state["resolved_question"]
        found = self._library_passages(state["queries"])
        strong = [p for p, score in score_passages(question, found, self.s.embedder)
                  if score >= self.s.limits.relevance_cutoff + 0.15]
        wants_arxiv = state.get("intent") == "find_papers" or len(strong) < self.s.limits.min_evidence
        if not (wants_arxiv and self.s.limits.use_arxiv and self.s.arxiv):
            return {"arxiv_ids": [], "passages": found, "acquired": 0,
                    "trace": _event(state, "search", f"library: {len(found)} passages", started)}
        try:
            query = build_query(" ".join(content_words(question)[:8]))
            papers = self.s.arxiv.search(query, max_results=self.s.limits.arxiv_results)
        except ArxivError as error:
            log.warning("arXiv search failed: %s", error)
            return {"arxiv_ids": [], "passages": found, "acquired": 0,
                    "trace": _event(state, "search", f"library: {len(found)} passages; arXiv unavailable, "
                                    "continuing with the library", started, str(error))}
        new = [p.arxiv_id for p in papers if self.s.catalog.find_paper(p.base_id) is None]
        detail = f"library: {len(found)} passages; arXiv: {len(papers)} results, {len(new)} new"
        return {"arxiv_ids": new, "passages": found, "acquired": 0, "trace": _event(state, "search", detail, started)}

    def acquire(self, state: AgentState) -> dict:
        started = time.perf_counter()
        wanted = state.get("arxiv_ids", [])[:self.s.limits.papers_per_turn]
        if not wanted or self.s.fetcher is None or self._budget_left(state):
            return {"trace": _event(state, "acquire", "nothing to fetch", started)}
        try:
            results = self.s.fetcher.fetch(wanted)
        except ArxivError as error:
            return {"trace": _event(state, "acquire", "fetch failed", started, str(error))}
        added = [r for r in results if r.status == "added"]
        detail = ", ".join(f"{r.paper_id}" + (" (abstract only)" if r.error else "") for r in added) or "none added"
        return {"papers_fetched": state.get("papers_fetched", 0) + len(added), "acquired": len(added),
                "trace": _event(state, "acquire", f"added {detail}", started)}

    def _library_passages(self, queries: list[str]) -> list[Passage]:
        """Every query's passages, each chunk once (its best score), best first."""
        best: dict[int, Passage] = {}
        for query in queries:
            for passage in self.s.searcher.search(query, k=2 * self.s.limits.evidence_k):
                if passage.chunk_id not in best or passage.score > best[passage.chunk_id].score:
                    best[passage.chunk_id] = passage
        return sorted(best.values(), key=lambda p: -p.score)

    def retrieve(self, state: AgentState) -> dict:
        """The search step's passages, searched again only when this round added papers."""
        started = time.perf_counter()
        passages = self._library_passages(state["queries"]) if state.get("acquired") else state.get("passages", [])
        detail = f"{len(passages)} passages from {len({p.paper_id for p in passages})} papers"
        return {"passages": passages, "trace": _event(state, "retrieve", detail, started)}

    def gather(self, state: AgentState) -> dict:
        started = time.perf_counter()
        evidence = gather_evidence(state["resolved_question"], state.get("passages", []), self.s.embedder,
                                   self.s.limits.evidence_k, self.s.limits.relevance_cutoff)
        return {"evidence": evidence, "rounds": state.get("rounds", 0) + 1,
                "trace": _event(state, "gather", f"{len(evidence)} passages pass the relevance cutoff", started)}

    def after_gather(self, state: AgentState) -> str:
        thin = len(state.get("evidence", [])) < self.s.limits.min_evidence
        if thin and state.get("rounds", 0) < self.s.limits.max_rounds and not state.get("library_empty"):
            return "answer" if self._budget_left(state) else "reflect"
        return "answer"

    def reflect(self, state: AgentState) -> dict:
        started = time.perf_counter()
        queries = self.s.reasoner.more_queries(state["resolved_question"], state.get("passages", []),
                                               state["queries"])
        calls = state.get("llm_calls", 0) + int(self.s.model_backed)
        if not queries:
            return {"llm_calls": calls, "trace": _event(state, "reflect", "no new queries", started)}
        return {"queries": queries, "llm_calls": calls,
                "trace": _event(state, "reflect", f"evidence thin; new queries: {' | '.join(queries)}", started)}

    def answer(self, state: AgentState) -> dict:
        """The composer's answer; the extractive one when the model fails (verify catches the rest)."""
        started = time.perf_counter()
        if state.get("intent") == "chit_chat":
            return {"answer": CHIT_CHAT, "provider": "rules", "trace": _event(state, "answer", "chit-chat", started)}
        if state.get("library_empty") and not state.get("papers_fetched"):
            return {"answer": EMPTY_LIBRARY, "provider": self.s.composer.name,
                    "trace": _event(state, "answer", "library is empty", started)}
        question, evidence = state["resolved_question"], state.get("evidence", [])
        if not evidence:
            return {"answer": NO_EVIDENCE, "provider": self.s.composer.name,
                    "trace": _event(state, "answer", "no relevant evidence", started)}
        used, note, error = self.s.composer, self.s.composer.name, ""
        try:
            text = used.compose(question, evidence)
        except Exception as failure:  # a model that crashes, times out or is unreachable
            text, used, error = self.s.fallback.compose(question, evidence), self.s.fallback, str(failure)
            note = f"{self.s.composer.name} failed; extractive answer instead"
        calls = state.get("llm_calls", 0) + int(self.s.composer is not self.s.fallback)
        return {"answer": text, "provider": used.name, "llm_calls": calls,
                "trace": _event(state, "answer", note, started, error)}

    def verify(self, state: AgentState) -> dict:
        """Check every citation once. A model answer (pipeline or tool loop) that cites nothing it can back
        up while evidence exists is replaced by the extractive answer: a weak model never leaves the
        researcher without one."""
        started = time.perf_counter()
        evidence, provider, note = state.get("evidence", []), state.get("provider"), ""
        checked = self.s.checker.check(state["answer"], evidence)
        if evidence and not checked.citations and provider != self.s.fallback.name:
            fallback_text = self.s.fallback.compose(state["resolved_question"], evidence)
            checked, provider = self.s.checker.check(fallback_text, evidence), self.s.fallback.name
            note = f"{state.get('provider')} gave no supported citation; extractive answer instead; "
        answer = checked.text
        if checked.unsupported_removed:
            answer += (f"\n\n({checked.unsupported_removed} statement(s) removed: their citations did not "
                       "support them.)")
        if budget := self._budget_left(state):
            answer += f"\n\n(Stopped early: {budget}; this is the best answer so far.)"
        detail = f"{note}{len(checked.citations)} citations, {checked.unsupported_removed} unsupported claims removed"
        return {"answer": answer, "citations": checked.citations, "unsupported_removed": checked.unsupported_removed,
                "provider": provider, "trace": _event(state, "verify", detail, started)}

    def after_verify(self, state: AgentState) -> str:
        wants = state.get("intent") == "hypothesize" or state.get("mode") == "hypothesize"
        return "hypothesize" if wants and state.get("evidence") else "finish"

    def hypothesize(self, state: AgentState) -> dict:
        started = time.perf_counter()
        evidence = state["evidence"]
        drafts = self.s.reasoner.hypotheses(state["resolved_question"], evidence, state.get("hypotheses_wanted", 3))
        citations = list(state.get("citations", []))
        hypotheses, arxiv_errors = [], set()
        for draft in drafts:
            numbers = {i: self._cite(citations, evidence[i - 1], draft.statement) for i in draft.evidence}
            premises = frozenset(draft.premises)
            novelty, prior, error = self.s.novelty.check(draft.statement, self.s.limits.use_arxiv, premises)
            if error:
                arxiv_errors.add(error)
            hypotheses.append(_renumbered(draft, numbers, novelty, prior))
        calls = state.get("llm_calls", 0) + int(self.s.model_backed)
        detail = f"{len(hypotheses)} hypotheses; novelty " + ", ".join(f"{h['novelty']:.2f}" for h in hypotheses)
        return {"hypotheses": hypotheses, "citations": citations, "llm_calls": calls,
                "trace": _event(state, "hypothesize", detail, started, "; ".join(sorted(arxiv_errors)))}

    def _cite(self, citations: list[Citation], passage: Passage, statement: str) -> int:
        """The citation number for a passage, adding one (quoting its sentence closest to the statement)."""
        for citation in citations:
            if citation["paper_id"] == passage.paper_id and citation["quote"] in passage.text:
                return citation["n"]
        spans = passage.sentence_spans() or [(0, len(passage.text))]
        vectors = self.s.embedder.embed([statement, *(passage.text[a:b] for a, b in spans)])
        start, end = spans[int((vectors[1:] @ vectors[0]).argmax())]
        citations.append(Citation(n=len(citations) + 1, paper_id=passage.paper_id, title=passage.title,
                                  section=passage.section, page=passage.page_of(start),
                                  quote=passage.text[start:end], url=passage.url))
        return len(citations)

    def finish(self, state: AgentState) -> dict:
        return {"history": [{"question": state["question"], "answer": state.get("answer", "")}]}


def _renumbered(draft: HypothesisDraft, numbers: dict[int, int], novelty: float, prior: list) -> Hypothesis:
    """Evidence markers re-pointed from evidence positions to the turn's citation numbers."""
    def fix(text: str) -> str:
        return _MARKER.sub(lambda m: f"[{numbers.get(int(m.group(1)), m.group(1))}]", text)

    return Hypothesis(statement=fix(draft.statement), rationale=fix(draft.rationale),
                      evidence=sorted(set(numbers.values())), prediction=fix(draft.prediction),
                      experiment=fix(draft.experiment), novelty=novelty, feasibility=draft.feasibility,
                      testability=draft.testability, prior_work=prior)
