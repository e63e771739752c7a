"""The composition root: reads Settings once and wires store, retriever, LLM and graph.

The CLI, the HTTP API (and later the Slack bot and eval runner) all start here, so they run the same agent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy import Engine, event, make_url
from sqlmodel import create_engine
from tenacity import retry, retry_if_exception_message, stop_after_delay, wait_fixed

from agent.answerability import AnswerabilityJudge
from agent.citations import CitationChecker
from agent.conversations import ConversationRow, ConversationStore, UnknownConversationError
from agent.evidence import SentenceScorer
from agent.gaps import OpenQuestionFinder
from agent.graph import build_graph
from agent.llm import Composer, load_chat_model
from agent.llm.answer_cache import AnswerCache
from agent.llm.chat_composer import ChatComposer
from agent.llm.extractive import ExtractiveComposer
from agent.llm.structured import model_deadline
from agent.nodes import AgentServices, TurnLimits, emitting
from agent.novelty import NoveltyChecker
from agent.papers import PaperFetcher
from agent.reasoning import ChatReasoner, RuleReasoner
from agent.settings import Settings
from agent.state import Turn
from agent.tool_loop import ToolLoop
from retrieval.catalog import Catalog, PaperRow
from retrieval.citation_graph import CitationGraph
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder, trained_chunk_tokens
from retrieval.ingest import Ingestor
from retrieval.search import HybridSearcher
from retrieval.sentence_vectors import SentenceVectorStore
from retrieval.vector_store import VectorIndex, VectorStore
from tools.acquire import FetchPolicy
from tools.arxiv_cache import SqlArxivCache
from tools.arxiv_client import ArxivClient
from tools.citation_export import export

log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:
        # WAL lets the service read while an ingest writes; foreign keys keep chunks tied to papers.
        cursor = connection.cursor()
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


@retry(retry=retry_if_exception_message(match="database is locked"), stop=stop_after_delay(30),
       wait=wait_fixed(0.1), reraise=True)
def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch a database to WAL (it stays so): once, by its first connection. Switching waits for no busy
    handler, so a process opening a new library while another migrates it tries again."""
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")


def make_checkpointer(settings: Settings) -> BaseCheckpointSaver:
    """Per-conversation graph checkpoints: SQLite in the home folder, PostgreSQL with a postgres URL."""
    url = settings.resolved_database_url
    serde = JsonPlusSerializer(allowed_msgpack_modules=[("retrieval.search", "Passage")])
    if settings.uses_postgres:
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as error:
            raise ValueError("a PostgreSQL database needs the 'postgres' extra: pip install -e '.[postgres]'"
                             ) from error
        # The pool's settings are those PostgresSaver expects (autocommit, dict rows, no prepared statements).
        # Connections are checked before use, so a database restart costs no turn (as pool_pre_ping does for
        # SQLAlchemy); few are kept idle, so many replicas fit within the server's max_connections.
        pool = ConnectionPool(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                              min_size=1, max_size=5, check=ConnectionPool.check_connection, open=True,
                              kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
        saver = PostgresSaver(pool, serde=serde)  # type: ignore[arg-type]
        saver.setup()
        return saver
    connection = sqlite3.connect(settings.home_dir / "checkpoints.sqlite", check_same_thread=False)
    return SqliteSaver(connection, serde=serde)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    catalog: Catalog
    embedder: Embedder
    store: VectorIndex
    searcher: HybridSearcher
    ingestor: Ingestor
    composer: Composer
    conversations: ConversationStore
    graph: CompiledStateGraph
    oneshot_graph: CompiledStateGraph
    arxiv: ArxivClient
    fetcher: PaperFetcher
    scorer: SentenceScorer
    citation_graph: CitationGraph
    model: BaseChatModel | None = None

    def close(self) -> None:
        """Give back the database connections (the engine's and, on PostgreSQL, the checkpointer's pool)."""
        pool = getattr(self.graph.checkpointer, "conn", None)
        if hasattr(pool, "close") and not isinstance(pool, sqlite3.Connection):
            pool.close()
        self.engine.dispose()

    def turn_input(self, question: str, mode: str = "ask", n: int = 3, instructions: str = "",
                   history: list[Turn] | None = None) -> dict:
        """A fresh turn: the question, and every per-turn field reset. The conversation's history carries
        over from its checkpoint; `history` adds earlier turns a client sent along (OpenAI-style)."""
        turn = {"question": question, "mode": mode, "hypotheses_wanted": n, "instructions": instructions,
                "trace": [], "fallbacks": [], "rounds": 0, "llm_calls": 0, "papers_fetched": 0,
                "started_at": time.monotonic(), "hypotheses": [], "open_questions": [], "hypotheses_note": "",
                "citations": [], "evidence": [], "passages": [], "arxiv_ids": [], "acquired": 0,
                "library_searched": False, "streamed": "", "answered": False, "related": [], "answerability": None,
                "stopped_early": ""}
        return {**turn, "history": history} if history else turn


    def ask(self, question: str, conversation_id: str | None = None, mode: str = "ask", n: int = 3,
            emit: Callable[[dict], None] | None = None, instructions: str = "",
            history: list[Turn] | None = None) -> dict:
        """One research turn in the `ask --json` shape; stored in the conversation when one is given.
        `emit` receives events while the turn runs: "status"/"tool"/"paper" as nodes finish, "token" as the
        answer is written, "revised" when the checked answer differs from what was streamed.
        The user message is stored before the agent runs and an error message if it fails: nothing is lost."""
        if conversation_id is not None:
            self.conversations.add_message(conversation_id, "user", question)  # UnknownConversationError if none
        # A conversation's turn runs on its checkpointed thread (written once, when the turn ends); a one-shot
        # turn (no conversation) on a graph without a checkpointer, so it leaves nothing behind.
        graph, options = (self.graph, {"config": {"configurable": {"thread_id": conversation_id}},
                                       "durability": "exit"}) if conversation_id else (self.oneshot_graph, {})
        send, state = emit or (lambda _event: None), {}
        try:
            with get_usage_metadata_callback() as usage, model_deadline(self.settings.turn_seconds), emitting(send):
                for mode_name, chunk in graph.stream(self.turn_input(question, mode, n, instructions, history),
                                                     stream_mode=["updates", "values"], **options):
                    if mode_name == "values":
                        state = chunk
                        continue
                    for node, delta in chunk.items():
                        for event in progress_events(node, delta or {}):
                            send(event)
        except Exception as error:
            log.exception("turn failed")
            if conversation_id is not None:
                with contextlib.suppress(UnknownConversationError):
                    self.conversations.add_message(conversation_id, "error", "The agent failed (" +
                                                   f"{error.__class__.__name__}); the details are in the server log.")
            raise
        result = turn_result(state, conversation_id, total_usage(usage.usage_metadata))
        if conversation_id is not None:
            payload = {k: result[k] for k in ("citations", "hypotheses", "open_questions", "hypotheses_note",
                                              "provider", "answered", "related", "fallbacks", "trace")}
            try:
                result["message_id"] = self.conversations.add_message(
                    conversation_id, "assistant", result["answer"], payload).id
            except UnknownConversationError:
                log.info("conversation %s was deleted while its turn ran; the answer is not stored", conversation_id)
        return result

    def cited_papers(self, conversation_key: str) -> list[PaperRow]:
        """The library papers the conversation's answers cite, in the order they were first cited (papers
        deleted since are left out)."""
        ids = [citation["paper_id"] for message in self.conversations.messages(conversation_key)
               for citation in json.loads(message.payload_json).get("citations", [])]
        return [paper for paper_id in dict.fromkeys(ids) if (paper := self.catalog.find_paper(paper_id)) is not None]

    def export_references(self, papers: list[PaperRow], fmt: str) -> str:
        """The papers as BibTeX, RIS or CSL-JSON. Keys are fixed against every library paper that could share
        one (a key holds the year: the papers of the same years), so a paper keeps its key in any export."""
        neighbours = self.catalog.papers_of_years({paper.year for paper in papers})
        return export([p.as_reference() for p in papers], fmt, [p.as_reference() for p in neighbours])

    def open_conversation(self, conversation_id: str, title: str = "", owner: str | None = None) -> ConversationRow:
        """The owner's conversation `conversation_id`, started with a clean agent state if it does not exist."""
        row = self.conversations.owned(conversation_id, owner)
        if row is None:
            row = self.conversations.ensure(conversation_id, title, owner)
            self.graph.checkpointer.delete_thread(row.id)
        return row

    def delete_conversation(self, key: str) -> None:
        """Remove a conversation, its messages and its agent state (the checkpointed thread), so a later
        conversation with the same id starts afresh."""
        self.conversations.delete(key)
        self.graph.checkpointer.delete_thread(key)


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


def total_usage(per_model: dict[str, dict]) -> dict | None:
    """Tokens of every model call in the turn, as the providers reported them; None when no model ran."""
    if not per_model:
        return None
    return {kind: sum(int(u.get(kind, 0)) for u in per_model.values())
            for kind in ("input_tokens", "output_tokens", "total_tokens")}


def turn_result(state: dict, conversation_id: str | None, usage: dict | None = None) -> dict:
    return {
        "answer": state.get("answer", ""),
        "citations": state.get("citations", []),
        "hypotheses": state.get("hypotheses", []),
        "open_questions": state.get("open_questions", []),
        "hypotheses_note": state.get("hypotheses_note", ""),
        "provider": state.get("provider"),
        "unsupported_removed": state.get("unsupported_removed", 0),
        "answered": state.get("answered", False),
        "related": state.get("related", []),
        "answerability": state.get("answerability"),
        "fallbacks": state.get("fallbacks", []),
        "usage": usage,
        "conversation_id": conversation_id,
        "trace": state.get("trace", []),
    }


def answer_cache(settings: Settings) -> AnswerCache | None:
    """The answer cache shared through Redis, when Redis is configured and the cache is not turned off."""
    if not settings.redis_url or settings.answer_cache_hours <= 0:
        return None
    return AnswerCache(settings.redis_url, round(settings.answer_cache_hours * 3600))


def build_runtime(settings: Settings, composer: Composer | None = None, embedder: Embedder | None = None,
                  reset_index: bool = False, model: BaseChatModel | None = None) -> Runtime:
    """Wire everything from settings. `composer`/`model` override the configured LLM (tests, evals);
    `reset_index` starts with an empty vector index (for reindex)."""
    engine = make_engine(settings.resolved_database_url)
    catalog = Catalog(engine)
    # Every embedding goes through the cache: re-indexing unchanged text costs nothing, and the same
    # passages scored again in later turns (evidence, citations) cost a lookup.
    embedder = CachedEmbedder(embedder or load_embedder(settings.embeddings, settings.home_dir / "cache"),
                              settings.home_dir / "cache" / "embeddings.sqlite")
    store: VectorIndex
    if settings.resolved_vector_store == "pgvector":
        from retrieval.pgvector_store import PgVectorStore

        store = PgVectorStore(engine, embedder.name, embedder.dimension, reset=reset_index)
    else:
        store = VectorStore(settings.index_dir, embedder.name, embedder.dimension, settings.exact_search_max,
                            reset=reset_index)
    if not reset_index and store.count != catalog.chunk_count():
        log.warning("the vector index holds %d chunks but the catalog %d: run 'scisynth reindex'",
                    store.count, catalog.chunk_count())
    trained_at = trained_chunk_tokens(settings.embeddings)
    if trained_at and trained_at != settings.chunk_tokens:
        log.warning("%s learned on %d-token passages but this library is chunked at %d: set "
                    "SCISYNTH_CHUNK_TOKENS=%d and run 'scisynth reindex' to search as it was measured",
                    embedder.name, trained_at, settings.chunk_tokens, trained_at)
    searcher = HybridSearcher(catalog, store, embedder, fusion=settings.fusion, alpha=settings.fusion_alpha,
                              mmr_balance=settings.mmr_balance, lexical_dir=settings.index_dir / "bm25",
                              shared_catalog=settings.uses_postgres)
    ingestor = Ingestor(catalog, store, embedder, searcher, settings.chunk_tokens)
    arxiv = ArxivClient(settings.arxiv_api_url, settings.arxiv_pdf_url, settings.arxiv_delay_seconds,
                        cache=SqlArxivCache(engine), cache_ttl_seconds=settings.arxiv_cache_hours * 3600)
    fetcher = PaperFetcher(arxiv, ingestor, settings.papers_dir, FetchPolicy.from_hosts(settings.fetch_hosts),
                           settings.max_download_mb * 1024 * 1024)
    scorer = SentenceScorer(embedder, SentenceVectorStore(engine, embedder.name, embedder.dimension))
    extractive = ExtractiveComposer(scorer)
    if model is None and composer is None:
        model = load_chat_model(settings.llm, settings.model_options)
    composer = composer or (ChatComposer(model, answer_cache(settings)) if model is not None else extractive)
    rules = RuleReasoner(scorer, catalog.paper_text)
    citation_graph = CitationGraph(engine)
    services = AgentServices(
        catalog=catalog, searcher=searcher, scorer=scorer, composer=composer, fallback=extractive,
        checker=CitationChecker(scorer), reasoner=ChatReasoner(model) if model is not None else rules, rules=rules,
        novelty=NoveltyChecker(searcher, scorer, arxiv if settings.use_arxiv else None),
        open_questions=OpenQuestionFinder(searcher, scorer),
        answerability=AnswerabilityJudge(scorer, searcher.lexical_index, settings.answer_threshold),
        arxiv=arxiv if settings.use_arxiv else None, fetcher=fetcher if settings.use_arxiv else None,
        citation_graph=citation_graph,
        limits=TurnLimits(evidence_k=settings.evidence_k, max_rounds=settings.max_rounds,
                          papers_per_turn=settings.papers_per_turn, max_seconds=settings.turn_seconds,
                          max_llm_calls=settings.max_llm_calls, use_arxiv=settings.use_arxiv))
    tool_loop = ToolLoop(model, services) if model is not None and uses_tools(model, settings) else None
    return Runtime(
        settings=settings, engine=engine, catalog=catalog, embedder=embedder, store=store, searcher=searcher,
        ingestor=ingestor, composer=composer, conversations=ConversationStore(engine), arxiv=arxiv,
        graph=build_graph(services, make_checkpointer(settings), tool_loop),
        oneshot_graph=build_graph(services, None, tool_loop),
        fetcher=fetcher, scorer=scorer, citation_graph=citation_graph, model=model,
    )


def uses_tools(model: BaseChatModel, settings: Settings) -> bool:
    """The tool loop for a model that can call tools (and, in `auto`, has the context for it); never for one
    that cannot, whatever the setting says."""
    capabilities = getattr(model, "capabilities", None)
    if settings.agent_mode == "pipeline" or capabilities is None:
        return False
    if settings.agent_mode == "tools" and not capabilities.tool_calling:
        log.warning("SCISYNTH_AGENT_MODE=tools, but %s cannot call tools: using the fixed pipeline",
                    model._llm_type)
        return False
    return capabilities.tool_calling if settings.agent_mode == "tools" else capabilities.drives_tools
