"""The LangGraph state machine of one research turn: retrieve -> answer -> verify citations.

Nodes are small functions over AgentState; the edges are declared in `build_graph`, in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.citations import CitationChecker
from agent.llm import Composer
from agent.state import AgentState, TraceEvent
from retrieval.catalog import Catalog
from retrieval.search import HybridSearcher

EMPTY_LIBRARY = ("Your library is empty, so there is nothing to answer from yet. Add papers with "
                 "'scisynth ingest PATH' (PDF files or folders) or 'scisynth fetch ARXIV_ID', then ask again.")

Node = Callable[[AgentState], dict]


def _event(node: str, detail: str, started: float) -> list[TraceEvent]:
    return [TraceEvent(node=node, detail=detail, seconds=round(time.perf_counter() - started, 3))]


def retrieve_node(catalog: Catalog, searcher: HybridSearcher, evidence_k: int) -> Node:
    def retrieve(state: AgentState) -> dict:
        started = time.perf_counter()
        if catalog.chunk_count() == 0:
            return {"library_empty": True, "passages": [], "trace": _event("retrieve", "library is empty", started)}
        passages = searcher.search(state["question"], k=evidence_k)
        detail = f"{len(passages)} passages from {len({p.paper_id for p in passages})} papers"
        return {"library_empty": False, "passages": passages, "trace": _event("retrieve", detail, started)}

    return retrieve


def answer_node(composer: Composer, fallback: Composer, checker: CitationChecker) -> Node:
    """The composer's answer; the extractive one when a model fails or cites nothing it can back up
    (a weak model must not leave the researcher without an answer)."""

    def answer(state: AgentState) -> dict:
        started = time.perf_counter()
        if state.get("library_empty"):
            return {"answer": EMPTY_LIBRARY, "provider": composer.name, "trace": _event("answer", "empty", started)}
        question, passages = state["question"], state["passages"]
        try:
            text, used, note = composer.compose(question, passages), composer, composer.name
        except Exception as error:  # a model that crashes, times out or is unreachable
            text, used, note = fallback.compose(question, passages), fallback, f"{composer.name} failed: {error}"
        if used is not fallback and passages and not checker.check(text, passages).citations:
            text, used, note = fallback.compose(question, passages), fallback, (
                f"{composer.name} gave no supported citation; extractive answer instead")
        return {"answer": text, "provider": used.name, "trace": _event("answer", note, started)}

    return answer


def verify_node(checker: CitationChecker) -> Node:
    def verify(state: AgentState) -> dict:
        started = time.perf_counter()
        checked = checker.check(state["answer"], state.get("passages", []))
        detail = f"{len(checked.citations)} citations, {checked.unsupported_removed} unsupported claims removed"
        return {"answer": checked.text, "citations": checked.citations,
                "unsupported_removed": checked.unsupported_removed, "trace": _event("verify", detail, started)}

    return verify


def build_graph(catalog: Catalog, searcher: HybridSearcher, composer: Composer, fallback: Composer,
                checker: CitationChecker, evidence_k: int = 8) -> CompiledStateGraph:
    graph = StateGraph(AgentState)
    graph.add_node("retrieve", retrieve_node(catalog, searcher, evidence_k))
    graph.add_node("answer", answer_node(composer, fallback, checker))
    graph.add_node("verify", verify_node(checker))
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "answer")
    graph.add_edge("answer", "verify")
    graph.add_edge("verify", END)
    return graph.compile()
