"""The composition root: reads Settings once and wires store, retriever, LLM and graph.

The CLI, the HTTP API (and later the Slack bot and eval runner) all start here, so they run the same agent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from sqlalchemy import Engine, event
from sqlmodel import create_engine

from agent.citations import CitationChecker
from agent.conversations import ConversationStore
from agent.graph import build_graph
from agent.llm import Composer, load_chat_model
from agent.llm.chat_composer import ChatComposer
from agent.llm.extractive import ExtractiveComposer
from agent.papers import PaperFetcher
from agent.settings import Settings
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

    def ask(self, question: str, conversation_id: str | None = None) -> dict:
        """One research turn in the `ask --json` shape; stored in the conversation when one is given."""
        if conversation_id is not None:
            if self.conversations.get(conversation_id) is None:
                raise UnknownConversationError(conversation_id)
            self.conversations.add_message(conversation_id, "user", question)
        try:
            state = self.graph.invoke({"question": question, "trace": []})
        except Exception as error:
            if conversation_id is not None:
                self.conversations.add_message(conversation_id, "error", f"The agent failed: {error}")
            raise
        result = {
            "answer": state["answer"],
            "citations": state.get("citations", []),
            "hypotheses": [],
            "provider": state.get("provider"),
            "unsupported_removed": state.get("unsupported_removed", 0),
            "conversation_id": conversation_id,
            "trace": state.get("trace", []),
        }
        if conversation_id is not None:
            payload = {k: result[k] for k in ("citations", "hypotheses", "provider", "trace")}
            self.conversations.add_message(conversation_id, "assistant", result["answer"], payload)
        return result


def build_runtime(settings: Settings, composer: Composer | None = None, embedder: Embedder | None = None,
                  reset_index: bool = False) -> Runtime:
    """Wire everything from settings. `reset_index` starts with an empty vector index (for reindex)."""
    engine = make_engine(settings.resolved_database_url)
    catalog = Catalog(engine)
    embedder = embedder or load_embedder(settings.embeddings)
    store = VectorStore(settings.index_dir, embedder.name, embedder.dimension, settings.exact_search_max,
                        reset=reset_index)
    if not reset_index and store.count != catalog.chunk_count():
        log.warning("the vector index holds %d chunks but the catalog %d: run 'scisynth reindex'",
                    store.count, catalog.chunk_count())
    searcher = HybridSearcher(catalog, store, embedder, fusion=settings.fusion, alpha=settings.fusion_alpha,
                              mmr_balance=settings.mmr_balance, lexical_dir=settings.index_dir / "bm25")
    extractive = ExtractiveComposer(embedder)
    if composer is None:
        model = load_chat_model(settings.llm, settings.model_options)
        composer = ChatComposer(model) if model is not None else extractive
    graph = build_graph(catalog, searcher, composer, extractive, CitationChecker(embedder), settings.evidence_k)
    # Ingest goes through the on-disk embedding cache: re-indexing unchanged text costs nothing.
    cached = CachedEmbedder(embedder, settings.home_dir / "cache" / "embeddings.sqlite")
    ingestor = Ingestor(catalog, store, cached, searcher, settings.chunk_tokens)
    arxiv = ArxivClient(settings.arxiv_api_url, settings.arxiv_pdf_url, settings.arxiv_delay_seconds,
                        cache=SqlArxivCache(engine), cache_ttl_seconds=settings.arxiv_cache_hours * 3600)
    fetcher = PaperFetcher(arxiv, ingestor, settings.papers_dir, FetchPolicy.from_hosts(settings.fetch_hosts),
                           settings.max_download_mb * 1024 * 1024)
    return Runtime(
        settings=settings, engine=engine, catalog=catalog, embedder=embedder, store=store, searcher=searcher,
        ingestor=ingestor, composer=composer, conversations=ConversationStore(engine), graph=graph, arxiv=arxiv,
        fetcher=fetcher,
    )
