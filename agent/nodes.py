"""The nodes of a research turn, one method each, over the shared AgentState.

Services come in through `AgentServices`; limits through `TurnLimits`. Text found in papers is only ever
data: no node turns passage text into a tool call, a URL to fetch or a change of settings.

Every model step can fail alone: planning, reflecting and drafting hypotheses fall back to the rules,
writing the answer falls back to the extractive composer, and each fallback is recorded in the turn's
`fallbacks` and trace, so the turn always ends with an answer and says how it was made.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from langgraph.graph import END

from agent.answerability import AnswerabilityJudge
from agent.citations import MARKER, CheckedAnswer, CitationChecker, citation_of
from agent.evidence import SentenceScorer
from agent.gaps import FoundGap, OpenQuestionFinder
from agent.keywords import content_words
from agent.llm import Composer
from agent.llm.answer_cache import CachedAnswer
from agent.llm.extractive import NO_EVIDENCE
from agent.llm.structured import ModelStepError, describe
from agent.novelty import NoveltyCheck, NoveltyChecker
from agent.papers import PaperFetcher, arxiv_query
from agent.prose import is_body_prose
from agent.reasoning import HypothesisDraft, Leads, Reasoner, RuleReasoner
from agent.settings import AnswerSettings
from agent.state import AgentState, Citation, Fallback, Hypothesis, OpenQuestion, TraceEvent
from retrieval.citation_graph import CitationGraph
from retrieval.search import HybridSearcher, Passage, SearchFilter
from store.catalog import Catalog
from tools.arxiv_client import ArxivClient, ArxivError
from tools.documents import reading_note, title_key

log = logging.getLogger(__name__)
Value = TypeVar("Value")

EMPTY_LIBRARY = ("Your library is empty, so there is nothing to answer from yet. Add papers: upload a PDF or give "
                 "an arXiv id (web page: Library), or run 'scisynth ingest PATH' (PDF, JATS or TEI XML, JSONL; "
                 "files or folders) or 'scisynth fetch ARXIV_ID'. Then ask again.")
CHIT_CHAT = ("Hello! I answer research questions from your paper library and arXiv, with citations to the page, "
             "and I can propose testable hypotheses. Ask me a question about a topic.")


# Where the answer's tokens go while it is written. A context variable rather than LangGraph's "custom" stream
# mode: that mode runs every node on a worker thread so the caller can read while it runs, which cost a turn
# more CPU in thread hand-offs than the whole retrieval; nodes run on the caller's thread instead.
_emit: ContextVar[Callable[[dict], None]] = ContextVar("scisynth_emit", default=lambda _event: None)


@contextmanager
def emitting(send: Callable[[dict], None]) -> Iterator[None]:
    """Send the events nodes emit while a turn runs ("token", "revised") to `send`."""
    token = _emit.set(send)
    try:
        yield
    finally:
        _emit.reset(token)


@dataclass(frozen=True)
class TurnLimits:
    """A turn's budgets (what decides what it quotes is in AgentServices.quality)."""

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
    scorer: SentenceScorer
    composer: Composer
    fallback: Composer
    checker: CitationChecker
    reasoner: Reasoner
    rules: RuleReasoner
    novelty: NoveltyChecker
    open_questions: OpenQuestionFinder
    answerability: AnswerabilityJudge
    arxiv: ArxivClient | None
    fetcher: PaperFetcher | None
    citation_graph: CitationGraph
    quality: AnswerSettings
    limits: TurnLimits

    @property
    def model_backed(self) -> bool:
        return self.reasoner is not self.rules


def trace_event(state: AgentState, node: str, detail: str, started: float, error: str = "") -> list[TraceEvent]:
    event = TraceEvent(node=node, detail=detail, seconds=round(time.perf_counter() - started, 3))
    if error:
        event["error"] = error
    return [*state.get("trace", []), event]


def with_fallback(state: AgentState, step: str, reason: str) -> list[Fallback]:
    return [*state.get("fallbacks", []), Fallback(step=step, reason=reason)]


def stopped(state: AgentState, reason: str) -> dict:
    """The state update recording that a step was cut short by a budget (the first reason is kept)."""
    return {"stopped_early": state.get("stopped_early") or reason} if reason else {}


def budget_left(state: AgentState, limits: TurnLimits) -> str:
    """Empty while the turn is inside its budgets; else which budget ran out."""
    if time.monotonic() - state.get("started_at", time.monotonic()) > limits.max_seconds:
        return f"the turn's time budget ({limits.max_seconds:.0f} s) ran out"
    if state.get("llm_calls", 0) >= limits.max_llm_calls:
        return f"the turn's budget of {limits.max_llm_calls} model calls ran out"
    return ""


class TurnNodes:
    def __init__(self, services: AgentServices) -> None:
        self.s = services

    def _step(self, state: AgentState, step: str, by_model: Callable[[Reasoner], Value],
              by_rules: Callable[[RuleReasoner], Value]) -> tuple[Value, dict]:
        """Run a reasoning step with the model when there is one and the budget allows, else (or when the
        model fails) with the rules. Returns the value and the state fields to update."""
        if not self.s.model_backed:
            return by_rules(self.s.rules), {}
        if budget := budget_left(state, self.s.limits):
            return by_rules(self.s.rules), {"fallbacks": with_fallback(state, step, budget),
                                            **stopped(state, budget)}
        calls = {"llm_calls": state.get("llm_calls", 0) + 1}
        try:
            return by_model(self.s.reasoner), calls
        except ModelStepError as error:
            late = stopped(state, budget_left({**state, **calls}, self.s.limits))
            return by_rules(self.s.rules), {**calls, **late, "fallbacks": with_fallback(state, step, str(error))}

    def understand(self, state: AgentState) -> dict:
        """The turn's first step: its clock starts, its intent and search queries are planned."""
        started, turn_started = time.perf_counter(), time.monotonic()
        state = {**state, "started_at": turn_started}
        question, history = state["question"], state.get("history", [])
        plan, updates = self._step(state, "plan", lambda r: r.plan(question, history),
                                   lambda r: r.plan(question, history))
        intent = "hypothesize" if state.get("mode") == "hypothesize" else plan.intent
        shown = [*plan.queries, *(f"{q} (bm25)" for q in plan.lexical_queries)]
        detail = f"intent {intent}; queries: {' | '.join(shown)}"
        return {"started_at": turn_started, "intent": intent, "resolved_question": plan.resolved_question,
                "queries": plan.queries, "lexical_queries": plan.lexical_queries,
                "library_empty": not self.s.catalog.has_chunks(), **updates,
                "trace": trace_event(state, "understand", detail, started, _fallback_note(updates))}

    def search(self, state: AgentState) -> dict:
        """Library first; arXiv when the library looks thin or new papers were asked for."""
        started = time.perf_counter()
        question = state["resolved_question"]
        found = self.library_passages(state["queries"], state.get("lexical_queries", []))
        cited, focal = self.cited_passages(question, found)
        found = _merge(found, cited)
        strong = [p for p, score in self.s.scorer.rank_passages(question, found)
                  if score >= self.s.quality.relevance_cutoff + self.s.quality.strong_evidence_margin]
        wants_arxiv = state.get("intent") == "find_papers" or len(strong) < self.s.quality.min_evidence
        base = {"passages": found, "library_searched": True, "acquired": 0, "arxiv_ids": []}
        library = f"library: {len(found)} passages" + (
            f" ({len(cited)} from papers in the library that {focal} cites)" if cited else "")
        if not (wants_arxiv and self.s.limits.use_arxiv and self.s.arxiv):
            return {**base, "trace": trace_event(state, "search", library, started)}
        try:
            papers = self.s.arxiv.search(arxiv_query(question), max_results=self.s.limits.arxiv_results)
        except ArxivError as error:
            log.warning("arXiv search failed: %s", error)
            return {**base, "trace": trace_event(state, "search", f"{library}; arXiv unavailable, continuing with "
                                                 "the library", started, str(error))}
        new = [p.arxiv_id for p in papers if self.s.catalog.find_paper(p.base_id) is None]
        detail = f"{library}; arXiv: {len(papers)} results, {len(new)} new"
        return {**base, "arxiv_ids": new, "trace": trace_event(state, "search", detail, started)}

    def acquire(self, state: AgentState) -> dict:
        started = time.perf_counter()
        room = self.s.limits.papers_per_turn - state.get("papers_fetched", 0)
        wanted = state.get("arxiv_ids", [])[:max(0, room)]
        if wanted and (budget := budget_left(state, self.s.limits)):
            return {**stopped(state, budget), "trace": trace_event(state, "acquire", "no time left to fetch", started)}
        if not wanted or self.s.fetcher is None:
            return {"trace": trace_event(state, "acquire", "nothing to fetch", started)}
        try:
            results = self.s.fetcher.fetch(wanted)
        except ArxivError as error:
            return {"trace": trace_event(state, "acquire", "fetch failed", started, str(error))}
        added = [r for r in results if r.status == "added"]
        detail = ", ".join(f"{r.paper_id}" + (" (abstract only)" if r.error else "") + (
            f" ({reading_note(r.reader, r.reader_note)})" if r.reader == "layout model" and r.reader_note else ""
        ) for r in added
                           ) or "none added"
        return {"papers_fetched": state.get("papers_fetched", 0) + len(added), "acquired": len(added),
                "trace": trace_event(state, "acquire", f"added {detail}", started)}

    def cited_passages(self, question: str, found: list[Passage], most: int = 3) -> tuple[list[Passage], str]:
        """When the search says the question is about one paper (it holds two of the three best passages): the
        passage closest to the question of each library paper it cites (at most `most`), and the paper's id.
        What a paper builds on is evidence for a question about it."""
        papers = [p.paper_id for p in found[:3]]
        focal = max(set(papers), key=papers.count, default="")
        if papers.count(focal) < 2:
            return [], ""
        cited = list(dict.fromkeys(r["in_library"] for r in self.s.citation_graph.references(focal)
                                   if r["in_library"]))
        if not cited:
            return [], focal
        best: dict[str, Passage] = {}
        for passage in self.s.searcher.search(question, k=3 * len(cited), where=SearchFilter(paper_ids=cited)):
            best.setdefault(passage.paper_id, passage)
        return list(best.values())[:most], focal

    def library_passages(self, queries: list[str], lexical: list[str] | None = None) -> list[Passage]:
        """Every query's passages (hybrid search; `lexical` ones BM25 alone), each chunk once (its best score),
        best first."""
        best: dict[int, Passage] = {}
        searches = [(q, "hybrid") for q in queries] + [(q, "bm25") for q in lexical or []]
        for query, retriever in searches:
            for passage in self.s.searcher.search(query, k=self.s.quality.retrieved_per_query, retriever=retriever):
                if passage.chunk_id not in best or passage.score > best[passage.chunk_id].score:
                    best[passage.chunk_id] = passage
        return sorted(best.values(), key=lambda p: -p.score)

    def retrieve(self, state: AgentState) -> dict:
        """The passages found so far, plus a library search for the turn's queries unless the search step
        already ran one and no paper was added since (the tool loop's searches are the model's own: the
        pipeline's retrieval is added to them, so a model that searched badly or not at all loses nothing)."""
        started = time.perf_counter()
        passages = state.get("passages", [])
        if state.get("acquired") or not state.get("library_searched"):
            passages = _merge(passages, self.library_passages(state["queries"], state.get("lexical_queries", [])))
        detail = f"{len(passages)} passages from {len({p.paper_id for p in passages})} papers"
        return {"passages": passages, "trace": trace_event(state, "retrieve", detail, started)}

    def gather(self, state: AgentState) -> dict:
        started = time.perf_counter()
        question = state["resolved_question"]
        scored = self.s.scorer.gather_scored(question, state.get("passages", []), self.s.quality.evidence_k,
                                             self.s.quality.relevance_cutoff)
        evidence = [passage for passage, _ in scored]
        judged = self.s.answerability.judge(question, evidence, scored[0][1] if scored else None)
        detail = (f"{len(evidence)} passages pass the relevance cutoff; answerability {judged.probability:.2f} "
                  f"({'answers' if judged.answers else 'does not answer'})")
        return {"evidence": evidence, "answerability": judged.public(), "rounds": state.get("rounds", 0) + 1,
                "trace": trace_event(state, "gather", detail, started)}

    def after_gather(self, state: AgentState) -> str:
        answers = (state.get("answerability") or {}).get("answers", False)
        thin = len(state.get("evidence", [])) < self.s.quality.min_evidence or not answers
        if thin and state.get("rounds", 0) < self.s.limits.max_rounds and not state.get("library_empty"):
            return "answer" if budget_left(state, self.s.limits) else "reflect"
        return "answer"

    def reflect(self, state: AgentState) -> dict:
        started = time.perf_counter()
        question, passages, tried = state["resolved_question"], state.get("passages", []), state["queries"]
        queries, updates = self._step(state, "reflect", lambda r: r.more_queries(question, passages, tried),
                                      lambda r: r.more_queries(question, passages, tried))
        if not queries:
            return {**updates, "trace": trace_event(state, "reflect", "no new queries", started)}
        return {"queries": queries, **updates, "trace": trace_event(
            state, "reflect", f"evidence thin; new queries: {' | '.join(queries)}", started, _fallback_note(updates))}

    def answer(self, state: AgentState) -> dict:
        """The composer's answer, streamed to the client as it is written; the extractive one when the model
        fails or the budget is spent (verify catches what the model gets wrong)."""
        started = time.perf_counter()
        write = _emit.get()
        fixed = self._fixed_answer(state)
        if fixed is not None:
            text, provider, note = fixed
            write({"event": "token", "data": {"text": text}})
            return {"answer": text, "streamed": text, "provider": provider,
                    "trace": trace_event(state, "answer", note, started)}
        question, evidence = state["resolved_question"], state["evidence"]
        composer, updates = self.s.composer, {}
        if composer is not self.s.fallback and (budget := budget_left(state, self.s.limits)):
            composer, updates = self.s.fallback, {"fallbacks": with_fallback(state, "answer", budget),
                                                  **stopped(state, budget)}
        elif composer is not self.s.fallback:
            updates = {"llm_calls": state.get("llm_calls", 0) + 1}
        streamed, text, from_cache = "", "", False
        try:
            for piece in composer.stream(question, evidence, state.get("instructions", "")):
                streamed += piece
                from_cache = isinstance(piece, CachedAnswer)
                write({"event": "token", "data": {"text": piece}})
            if not streamed.strip():
                raise ModelStepError("the model returned an empty answer")
            text = streamed
        except Exception as failure:  # a model that crashes, times out, is unreachable or says nothing
            reason = str(failure) if isinstance(failure, ModelStepError) else describe(failure)
            log.warning("%s failed to answer: %s (%s)", composer.name, reason, failure)
            updates["fallbacks"] = with_fallback(state, "answer", f"{composer.name} failed: {reason}")
            updates.update(stopped(state, budget_left(state, self.s.limits)))
            composer, text = self.s.fallback, self.s.fallback.compose(question, evidence)
        fell_back = _fallback_note(updates)
        if from_cache:  # the model was not called
            updates.pop("llm_calls", None)
        note = (f"{self.s.composer.name} not used; extractive answer instead" if fell_back else
                f"{composer.name}, from the answer cache (its answer to the same question on the same evidence)"
                if from_cache else composer.name)
        return {"answer": text, "streamed": streamed, "provider": composer.name, **updates,
                "trace": trace_event(state, "answer", note, started, fell_back)}

    def _fixed_answer(self, state: AgentState) -> tuple[str, str, str] | None:
        """(text, provider, trace note) when the turn needs no composer: chit-chat, an empty library, no
        evidence, or evidence that does not answer the question."""
        if state.get("intent") == "chit_chat":
            return CHIT_CHAT, "rules", "chit-chat"
        if state.get("library_empty") and not state.get("papers_fetched"):
            return EMPTY_LIBRARY, "rules", "library is empty"
        if not state.get("evidence"):
            return NO_EVIDENCE, "rules", "no relevant evidence"
        if not (state.get("answerability") or {}).get("answers", True):
            return (not_answered(state["resolved_question"], state["evidence"], self.s.limits.use_arxiv), "rules",
                    "the evidence does not answer the question")
        return None

    def verify(self, state: AgentState) -> dict:
        """Check every citation once. A model answer that cites nothing it can back up while evidence
        exists is replaced by the extractive answer: a weak model never leaves the researcher without one.
        A model that says the evidence does not answer is believed (its one line kept, markers and all
        else dropped). A client that was streamed the answer is sent the checked text when it differs."""
        started = time.perf_counter()
        evidence, provider, updates, note = state.get("evidence", []), state.get("provider"), {}, ""
        model_wrote = provider not in (self.s.fallback.name, "rules")
        if model_wrote and _abstains(state["answer"]):
            line = " ".join(MARKER.sub("", state["answer"].strip().splitlines()[0]).split())
            checked, note = CheckedAnswer(line, [], 0), "the model says the evidence does not answer; "
        else:
            checked = self.s.checker.check(state["answer"], evidence)
        if evidence and model_wrote and not checked.citations and not note:
            reason = f"{provider} gave no supported citation"
            self.s.composer.forget(state["resolved_question"], evidence, state.get("instructions", ""))
            fallback_text = self.s.fallback.compose(state["resolved_question"], evidence)
            checked, provider = self.s.checker.check(fallback_text, evidence), self.s.fallback.name
            note = f"{reason}; extractive answer instead; "
            updates["fallbacks"] = with_fallback(state, "answer", reason)
        answer = checked.text
        if checked.unsupported_removed:
            answer += (f"\n\n({checked.unsupported_removed} statement(s) removed: their citations did not "
                       "support them.)")
        if stopped := state.get("stopped_early"):
            answer += f"\n\n(Stopped early: {stopped}; this is the best answer so far.)"
        if answer != state.get("streamed"):
            _emit.get()({"event": "revised", "data": {"answer": answer}})
        detail = f"{note}{len(checked.citations)} citations, {checked.unsupported_removed} unsupported claims removed"
        answered = bool(checked.citations)
        related = [] if answered else related_passages(evidence or state.get("passages", []))
        return {"answer": answer, "citations": checked.citations, "unsupported_removed": checked.unsupported_removed,
                "answered": answered, "related": related, "provider": provider, **updates,
                "trace": trace_event(state, "verify", detail, started)}

    def after_verify(self, state: AgentState) -> str:
        wants = state.get("intent") == "hypothesize" or state.get("mode") == "hypothesize"
        return "hypothesize" if wants and state.get("evidence") else END

    def hypothesize(self, state: AgentState) -> dict:
        """The open questions the papers state, then hypotheses built on them and on the findings (by the model,
        or by templates pairing two papers), each checked for novelty in the library and on arXiv."""
        started = time.perf_counter()
        evidence, topic, wanted = state["evidence"], state["resolved_question"], state.get("hypotheses_wanted", 3)
        citations = list(state.get("citations", []))
        sources, open_questions = self._open_questions(topic, evidence + self._other_papers(topic, evidence),
                                                       citations)
        leads = Leads(self.s.rules.findings(topic, sources), [(q["n"], q["kind"], q["text"]) for q in open_questions]
                      ) if self.s.model_backed else Leads()
        drafts, updates = self._step(state, "hypothesize", lambda r: r.hypotheses(topic, sources, wanted, leads),
                                     lambda r: r.hypotheses(topic, sources, wanted, leads))
        hypotheses, arxiv_errors = [], set()
        for draft in drafts:
            if by_model := "fallbacks" not in updates and self.s.model_backed:
                draft = self._checked_rationale(draft, sources, citations)
            for n in draft.evidence:
                self._cite(citations, n, sources[n - 1], draft.statement, draft.premises)
            # A template restates its premises' papers by construction: prior work is a third paper, or arXiv.
            cited = frozenset(sources[n - 1].paper_id for n in draft.evidence) if not by_model else frozenset()
            check = self.s.novelty.check(draft.statement, self.s.limits.use_arxiv, frozenset(draft.premises), cited)
            if check.error:
                arxiv_errors.add(check.error)
            hypotheses.append(_hypothesis(draft, check, by_model))
        detail = (f"{len(open_questions)} open questions stated by the papers; {len(hypotheses)} hypotheses; "
                  "novelty " + ", ".join(f"{h['novelty']:.2f}" for h in hypotheses))
        errors = "; ".join(sorted(arxiv_errors | ({_fallback_note(updates)} - {""})))
        return {"hypotheses": hypotheses, "open_questions": open_questions, "hypotheses_note": _no_hypotheses(
                    hypotheses, sources),
                "citations": sorted(citations, key=lambda c: c["n"]), **updates,
                "trace": trace_event(state, "hypothesize", detail, started, errors)}

    def _other_papers(self, topic: str, evidence: list[Passage], most: int = 3) -> list[Passage]:
        """The best passage of up to `most` relevant papers the evidence does not include: a hypothesis pairs two
        papers, and one paper's many passages can fill the evidence alone."""
        seen = {p.paper_id for p in evidence}
        best: dict[str, Passage] = {}
        for passage in self.s.searcher.search(topic, k=self.s.searcher.candidates):
            if passage.paper_id not in seen:
                best.setdefault(passage.paper_id, passage)
        return self.s.scorer.gather(topic, list(best.values()), most, self.s.quality.relevance_cutoff)

    def _open_questions(self, topic: str, evidence: list[Passage], citations: list[Citation]
                        ) -> tuple[list[Passage], list[OpenQuestion]]:
        """The open questions stated in the evidence's papers, each cited: its passage gets the evidence number
        it has, or the next number after the evidence (returned: the evidence plus those passages)."""
        sources = list(evidence)
        numbers = {p.chunk_id: n for n, p in enumerate(sources, start=1)}
        found: list[OpenQuestion] = []
        for gap in self.s.open_questions.find(topic, evidence):
            if gap.passage.chunk_id not in numbers:
                sources.append(gap.passage)
                numbers[gap.passage.chunk_id] = len(sources)
            n = numbers[gap.passage.chunk_id]
            found.append(_open_question(n, gap))
            if not any(c["n"] == n for c in citations):
                citations.append(citation_of(n, gap.passage, gap.sentence.text, found[-1]["page"]))
        return sources, found

    def _checked_rationale(self, draft: HypothesisDraft, evidence: list[Passage], citations: list[Citation]
                           ) -> HypothesisDraft:
        """A model's rationale keeps only the sentences its markers support, as an answer does."""
        if not MARKER.search(draft.rationale):
            return draft
        checked = self.s.checker.check(draft.rationale, evidence)
        known = {c["n"] for c in citations}
        citations.extend(c for c in checked.citations if c["n"] not in known)
        rationale = checked.text + (f" ({checked.unsupported_removed} unsupported statement(s) removed.)"
                                    if checked.unsupported_removed else "")
        return draft.model_copy(update={"rationale": rationale or "(no supported rationale)"})

    def _cite(self, citations: list[Citation], n: int, passage: Passage, statement: str,
              premises: list[str] | None = None) -> None:
        """Make sure evidence passage `n` is cited, quoting the premise it holds, else its sentence closest to
        the statement."""
        if any(c["n"] == n for c in citations):
            return
        held = next((p for p in premises or [] if p in passage.text), None)
        best = self.s.scorer.best(statement, passage, keep=is_body_prose) or self.s.scorer.best(statement, passage)
        start, end = ((passage.text.index(held), passage.text.index(held) + len(held)) if held else
                      (best.start, best.end) if best is not None else (0, len(passage.text)))
        citations.append(citation_of(n, passage, passage.text[start:end], passage.page_of(start)))

_ABSTAINS = re.compile(r"^\W*(not answered\b|the (provided )?(evidence|passages) (do|does) not answer)", re.IGNORECASE)


def _abstains(answer: str) -> bool:
    """A model's own "the evidence does not answer" (the answer prompt asks it to start with NOT ANSWERED:)."""
    return bool(_ABSTAINS.match(answer))


def related_passages(passages: list[Passage], most: int = 3) -> list[dict]:
    """Where the library comes closest, one passage per paper: shown as related, never cited."""
    seen: dict[str, dict] = {}
    for p in passages:
        seen.setdefault(p.paper_id, {"paper_id": p.paper_id, "title": p.title, "section": p.section, "page": p.page,
                                     "url": p.url})
    return list(seen.values())[:most]


def not_answered(question: str, evidence: list[Passage], arxiv_on: bool) -> str:
    """The answer when the library holds related passages but none answers the question."""
    keywords = " ".join(content_words(question)[:6])
    closest = "; ".join(f"{r['title']} ({r['section']}" + (f", p. {r['page']})" if r["page"] else ")")
                        for r in related_passages(evidence))
    where = "arXiv and your library" if arxiv_on else "your library"
    return (f"The library does not answer this question: searching {where} found related passages, but none "
            f"addresses it closely. Related, not answering: {closest}. To look further, search arXiv "
            f"(scisynth arxiv \"{keywords}\") and add what you find (scisynth fetch ARXIV_ID), or add papers "
            "on the topic (scisynth ingest PATH), then ask again.")


def _merge(first: list[Passage], second: list[Passage]) -> list[Passage]:
    """Both lists, each chunk once, in first-seen order."""
    seen: dict[int, Passage] = {}
    for passage in [*first, *second]:
        seen.setdefault(passage.chunk_id, passage)
    return list(seen.values())


def _fallback_note(updates: dict) -> str:
    fallbacks = updates.get("fallbacks") or []
    return f"fell back: {fallbacks[-1]['reason']}" if fallbacks else ""


NOVELTY_METHOD = ("1 - (s - 0.4) / 0.5, clipped to 0..1, where s is the cosine similarity of the closest sentence "
                  "in the library or on arXiv (MiniLM); 1 when nothing close exists, 0 when prior work says the same")


def _no_hypotheses(hypotheses: list[Hypothesis], sources: list[Passage]) -> str:
    """Why there is no hypothesis, in words a researcher can act on ("" when there are some)."""
    if hypotheses:
        return ""
    papers = {title_key(p.title) for p in sources}
    if len(papers) < 2:
        return ("No hypothesis: the relevant evidence comes from one paper, and a hypothesis without a model pairs "
                "findings of two different papers. Add related papers, or configure a model (scisynth models pull).")
    return ("No hypothesis: no finding of one relevant paper shares terms with the setting of another, so no pairing "
            "would mean something. The open questions above are what the papers leave open.")


def _open_question(n: int, gap: FoundGap) -> OpenQuestion:
    passage = gap.passage
    return OpenQuestion(n=n, kind=gap.kind, text=gap.sentence.text, paper_id=passage.paper_id, title=passage.title,
                        section=passage.section, page=passage.page_of(gap.sentence.start), url=passage.url,
                        relevance=round(gap.sentence.score, 3), group=gap.group)


def _hypothesis(draft: HypothesisDraft, novelty: NoveltyCheck, by_model: bool) -> Hypothesis:
    """A draft's markers already are evidence numbers, which are the turn's citation numbers. Scores say how
    they were made: novelty is measured; feasibility and testability are the model's own estimate, or absent
    for a template (no invented numbers)."""
    estimate = "the language model's own estimate (not measured)" if by_model else (
        "not scored: a template hypothesis, and no measurement exists for it")
    return Hypothesis(statement=draft.statement, rationale=draft.rationale, evidence=sorted(set(draft.evidence)),
                      prediction=draft.prediction, experiment=draft.experiment, novelty=novelty.score,
                      feasibility=draft.feasibility if by_model else None,
                      testability=draft.testability if by_model else None,
                      kind="model" if by_model else "template",
                      scored_by={"novelty": NOVELTY_METHOD, "feasibility": estimate, "testability": estimate},
                      prior_work=novelty.closest, novelty_queries=novelty.queries,
                      novelty_searched=novelty.searched, premises=draft.premises)
