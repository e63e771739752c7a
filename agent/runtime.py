"""The composition root: reads Settings once and wires store, retriever, LLM and graph.

The CLI, the HTTP API (and later the Slack bot and eval runner) all start here, so they run the same agent.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy import Engine, event
from sqlmodel import create_engine

from agent.citations import CitationChecker
from agent.conversations import ConversationStore
from agent.graph import build_graph
from agent.llm import Composer, load_chat_model
from agent.llm.chat_composer import ChatComposer
from agent.llm.extractive import ExtractiveComposer
from agent.nodes import AgentServices, TurnLimits
from agent.novelty import NoveltyChecker
from agent.papers import PaperFetcher
from agent.reasoning import ChatReasoner, RuleReasoner
from agent.settings import Settings
from agent.tool_loop import ToolLoop
from retrieval.catalog import Catalog
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder
from retrieval.ingest import Ingestor
from retrieval.search import HybridSearcher
from retrieval.vector_store import VectorStore
from tools.acquire import FetchPolicy
from tools.arxiv_cache import SqlArxivCache
from tools.arxiv_client import ArxivClient

log = logging.getLogger(__name__)


class UnknownConversationError(KeyError):
    pass


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:
        # WAL lets the service read while an ingest writes; foreign keys keep chunks tied to papers.
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def make_checkpointer(settings: Settings) -> BaseCheckpointSaver:
    """Per-conversation graph checkpoints: SQLite in the home folder, PostgreSQL with a postgres URL."""
    url = settings.resolved_database_url
    if url.startswith("postgresql"):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
        except ImportError as error:
            raise ValueError("a PostgreSQL database needs 'pip install langgraph-checkpoint-postgres'") from error
        saver = PostgresSaver.from_conn_string(url.replace("postgresql+psycopg", "postgresql"))
        saver.setup()
        return saver
    connection = sqlite3.connect(settings.home_dir / "checkpoints.sqlite", check_same_thread=False)
    serde = JsonPlusSerializer(allowed_msgpack_modules=[("retrieval.search", "Passage")])
    return SqliteSaver(connection, serde=serde)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    catalog: Catalog
    embedder: Embedder
    store: VectorStore
    searcher: HybridSearcher
    ingestor: Ingestor
    composer: Composer
    conversations: ConversationStore
    graph: CompiledStateGraph
    arxiv: ArxivClient
    fetcher: PaperFetcher

    def turn_input(self, question: str, mode: str = "ask", n: int = 3) -> dict:
        """A fresh turn: the question, and every per-turn field reset (the history carries over)."""
        return {"question": question, "mode": mode, "hypotheses_wanted": n, "trace": [], "rounds": 0,
                "llm_calls": 0, "papers_fetched": 0, "started_at": time.monotonic(), "hypotheses": [],
                "citations": [], "evidence": [], "passages": [], "arxiv_ids": []}

    def _config(self, conversation_id: str | None) -> dict:
        return {"configurable": {"thread_id": conversation_id or f"oneshot-{uuid.uuid4().hex}"}}

    def ask(self, question: str, conversation_id: str | None = None, mode: str = "ask", n: int = 3,
            emit: Callable[[dict], None] | None = None) -> dict:
        """One research turn in the `ask --json` shape; stored in the conversation when one is given.
        `emit` receives progress events as nodes finish: {"event": "status"|"tool"|"paper", "data": {...}}.
        The user message is stored before the agent runs and an error message if it fails: nothing is lost."""
        if conversation_id is not None:
            if self.conversations.get(conversation_id) is None:
                raise UnknownConversationError(conversation_id)
            self.conversations.add_message(conversation_id, "user", question)
        config = self._config(conversation_id)
        try:
            for update in self.graph.stream(self.turn_input(question, mode, n), config, stream_mode="updates"):
                for node, delta in update.items():
                    for event in progress_events(node, delta or {}):
                        if emit:
                            emit(event)
            state = self.graph.get_state(config).values
        except Exception as error:
            if conversation_id is not None:
                self.conversations.add_message(conversation_id, "error", f"The agent failed: {error}")
            raise
        result = turn_result(state, conversation_id)
        if conversation_id is not None:
            payload = {k: result[k] for k in ("citations", "hypotheses", "provider", "trace")}
            result["message_id"] = self.conversations.add_message(
                conversation_id, "assistant", result["answer"], payload).id
        return result


def progress_events(node: str, delta: dict) -> list[dict]:
    """What a client shows while a turn runs: each finished node, tools used, papers added."""
    trace = delta.get("trace") or []
    detail = trace[-1] if trace else {"node": node, "detail": ""}
    events = [{"event": "status", "data": {"node": node, "detail": detail.get("detail", ""),
                                           "error": detail.get("error", "")}}]
    if node == "search" and delta.get("arxiv_ids") is not None:
        events.append({"event": "tool", "data": {"tool": "search_arxiv", "new_papers": delta["arxiv_ids"]}})
    if node == "acquire" and delta.get("papers_fetched"):
        events.append({"event": "paper", "data": {"detail": detail.get("detail", "")}})
    return events


def turn_result(state: dict, conversation_id: str | None) -> dict:
    return {
        "answer": state.get("answer", ""),
        "citations": state.get("citations", []),
        "hypotheses": state.get("hypotheses", []),
        "provider": state.get("provider"),
        "unsupported_removed": state.get("unsupported_removed", 0),
        "conversation_id": conversation_id,
        "trace": state.get("trace", []),
    }


def build_runtime(settings: Settings, composer: Composer | None = None, embedder: Embedder | None = None,
                  reset_index: bool = False, model: BaseChatModel | None = None) -> Runtime:
    """Wire everything from settings. `composer`/`model` override the configured LLM (tests, evals);
    `reset_index` starts with an empty vector index (for reindex)."""
    engine = make_engine(settings.resolved_database_url)
    catalog = Catalog(engine)
    # Every embedding goes through the cache: re-indexing unchanged text costs nothing, and the same
    # passages scored again in later turns (evidence, citations) cost a lookup.
    embedder = CachedEmbedder(embedder or load_embedder(settings.embeddings),
                              settings.home_dir / "cache" / "embeddings.sqlite")
    store = VectorStore(settings.index_dir, embedder.name, embedder.dimension, settings.exact_search_max,
                        reset=reset_index)
    if not reset_index and store.count != catalog.chunk_count():
        log.warning("the vector index holds %d chunks but the catalog %d: run 'scisynth reindex'",
                    store.count, catalog.chunk_count())
    searcher = HybridSearcher(catalog, store, embedder, fusion=settings.fusion, alpha=settings.fusion_alpha,
                              mmr_balance=settings.mmr_balance, lexical_dir=settings.index_dir / "bm25")
    ingestor = Ingestor(catalog, store, embedder, searcher, settings.chunk_tokens)
    arxiv = ArxivClient(settings.arxiv_api_url, settings.arxiv_pdf_url, settings.arxiv_delay_seconds,
                        cache=SqlArxivCache(engine), cache_ttl_seconds=settings.arxiv_cache_hours * 3600)
    fetcher = PaperFetcher(arxiv, ingestor, settings.papers_dir, FetchPolicy.from_hosts(settings.fetch_hosts),
                           settings.max_download_mb * 1024 * 1024)
    extractive = ExtractiveComposer(embedder)
    if model is None and composer is None:
        model = load_chat_model(settings.llm, settings.model_options)
    composer = composer or (ChatComposer(model) if model is not None else extractive)
    rules = RuleReasoner(embedder)
    services = AgentServices(
        catalog=catalog, searcher=searcher, embedder=embedder, composer=composer, fallback=extractive,
        checker=CitationChecker(embedder), reasoner=ChatReasoner(model, rules) if model is not None else rules,
        novelty=NoveltyChecker(searcher, embedder, arxiv if settings.use_arxiv else None),
        arxiv=arxiv if settings.use_arxiv else None, fetcher=fetcher if settings.use_arxiv else None,
        limits=TurnLimits(evidence_k=settings.evidence_k, max_rounds=settings.max_rounds,
                          papers_per_turn=settings.papers_per_turn, max_seconds=settings.turn_seconds,
                          max_llm_calls=settings.max_llm_calls, use_arxiv=settings.use_arxiv))
    capable = model is not None and getattr(model, "capabilities", None) is not None and model.capabilities.drives_tools
    use_tools = model is not None and (settings.agent_mode == "tools" or (settings.agent_mode == "auto" and capable))
    graph = build_graph(services, make_checkpointer(settings), ToolLoop(model, services) if use_tools else None)
    return Runtime(
        settings=settings, engine=engine, catalog=catalog, embedder=embedder, store=store, searcher=searcher,
        ingestor=ingestor, composer=composer, conversations=ConversationStore(engine), graph=graph, arxiv=arxiv,
        fetcher=fetcher,
    )
