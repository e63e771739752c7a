"""The composition root: reads Settings once and wires store, retriever, LLM and graph.

The CLI, the HTTP API, the Slack bot and the eval runner all start here (through the services of service/), so
they run the same agent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy import Engine

from agent.answerability import AnswerabilityJudge
from agent.citations import CitationChecker
from agent.evidence import SentenceScorer
from agent.evidence_judge import load_judge
from agent.gaps import OpenQuestionFinder
from agent.graph import build_graph
from agent.llm import Composer, load_chat_model
from agent.llm.answer_cache import AnswerCache
from agent.llm.chat_composer import ChatComposer
from agent.llm.extractive import ExtractiveComposer
from agent.nodes import AgentServices, TurnLimits
from agent.novelty import NoveltyChecker
from agent.papers import PaperFetcher
from agent.reasoning import ChatReasoner, RuleReasoner
from agent.settings import Settings
from agent.tool_loop import ToolLoop
from retrieval.citation_graph import CitationGraph
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder, trained_chunk_tokens
from retrieval.ingest import Ingestor
from retrieval.search import HybridSearcher
from retrieval.vector_store import VectorIndex, VectorStore
from store.arxiv_cache import SqlArxivCache
from store.catalog import Catalog
from store.conversations import ConversationStore
from store.engine import make_engine
from store.sentence_vectors import SentenceVectorStore
from tools.acquire import FetchPolicy
from tools.arxiv_client import ArxivClient

log = logging.getLogger(__name__)


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
    arxiv: ArxivClient
    fetcher: PaperFetcher
    scorer: SentenceScorer
    citation_graph: CitationGraph
    model: BaseChatModel | None = None

    def close(self) -> None:
        """Give back the database connections."""
        self.engine.dispose()


def answer_cache(settings: Settings) -> AnswerCache | None:
    """The answer cache shared through Redis, when Redis is configured and the cache is not turned off."""
    if not settings.storage.redis_url or settings.storage.answer_cache_hours <= 0:
        return None
    return AnswerCache(settings.storage.redis_url, round(settings.storage.answer_cache_hours * 3600))


def build_runtime(settings: Settings, composer: Composer | None = None, embedder: Embedder | None = None,
                  reset_index: bool = False, model: BaseChatModel | None = None) -> Runtime:
    """Wire everything from settings. `composer`/`model` override the configured LLM (tests, evals);
    `reset_index` starts with an empty vector index (for reindex)."""
    storage, retrieval, arxiv_settings, quality = settings.storage, settings.retrieval, settings.arxiv, settings.answer
    engine = make_engine(storage.resolved_database_url)
    catalog = Catalog(engine)
    # Every embedding goes through the cache: re-indexing unchanged text costs nothing, and the same
    # passages scored again in later turns (evidence, citations) cost a lookup.
    cache = storage.cache_dir
    embedder = CachedEmbedder(embedder or load_embedder(retrieval.embeddings, cache), cache / "embeddings.sqlite")
    store: VectorIndex
    if storage.resolved_vector_store == "pgvector":
        from retrieval.pgvector_store import PgVectorStore

        store = PgVectorStore(engine, embedder.name, embedder.dimension, reset=reset_index)
    else:
        store = VectorStore(storage.index_dir, embedder.name, embedder.dimension, storage.exact_search_max,
                            reset=reset_index)
    if not reset_index and store.count != catalog.chunk_count():
        log.warning("the vector index holds %d chunks but the catalog %d: run 'scisynth reindex'",
                    store.count, catalog.chunk_count())
    trained_at = trained_chunk_tokens(retrieval.embeddings)
    if trained_at and trained_at != retrieval.chunk_tokens:
        log.warning("%s learned on %d-token passages but this library is chunked at %d: set "
                    "SCISYNTH_CHUNK_TOKENS=%d and run 'scisynth reindex' to search as it was measured",
                    embedder.name, trained_at, retrieval.chunk_tokens, trained_at)
    searcher = HybridSearcher(catalog, store, embedder, fusion=retrieval.fusion, alpha=retrieval.fusion_alpha,
                              mmr_balance=retrieval.mmr_balance, lexical_dir=storage.index_dir / "bm25",
                              shared_catalog=storage.uses_postgres)
    ingestor = Ingestor(catalog, store, embedder, searcher, retrieval.chunk_tokens)
    arxiv = ArxivClient(arxiv_settings.arxiv_api_url, arxiv_settings.arxiv_pdf_url, arxiv_settings.arxiv_delay_seconds,
                        cache=SqlArxivCache(engine), cache_ttl_seconds=arxiv_settings.arxiv_cache_hours * 3600)
    fetcher = PaperFetcher(arxiv, ingestor, storage.papers_dir, FetchPolicy.from_hosts(arxiv_settings.fetch_hosts),
                           arxiv_settings.max_download_mb * 1024 * 1024)
    scorer = SentenceScorer(embedder, SentenceVectorStore(engine, embedder.name, embedder.dimension),
                            load_judge(quality.evidence_judge, embedder.name))
    extractive = ExtractiveComposer(scorer, quality)
    if model is None and composer is None:
        model = load_chat_model(settings.model.llm, settings.model_options)
    composer = composer or (ChatComposer(model, answer_cache(settings)) if model is not None else extractive)
    rules = RuleReasoner(scorer, catalog.paper_text)
    citation_graph = CitationGraph(engine)
    use_arxiv = arxiv_settings.use_arxiv
    services = AgentServices(
        catalog=catalog, searcher=searcher, scorer=scorer, composer=composer, fallback=extractive,
        checker=CitationChecker(scorer, quality), reasoner=ChatReasoner(model) if model is not None else rules,
        rules=rules, novelty=NoveltyChecker(searcher, scorer, arxiv if use_arxiv else None, quality=quality),
        open_questions=OpenQuestionFinder(searcher, scorer, quality=quality),
        answerability=AnswerabilityJudge(scorer, searcher.lexical_index, quality.answer_threshold),
        arxiv=arxiv if use_arxiv else None, fetcher=fetcher if use_arxiv else None, citation_graph=citation_graph,
        quality=quality,
        limits=TurnLimits(max_rounds=settings.turn.max_rounds, papers_per_turn=settings.turn.papers_per_turn,
                          max_seconds=settings.turn.turn_seconds, max_llm_calls=settings.turn.max_llm_calls,
                          use_arxiv=use_arxiv))
    tool_loop = ToolLoop(model, services) if model is not None and uses_tools(model, settings) else None
    return Runtime(
        settings=settings, engine=engine, catalog=catalog, embedder=embedder, store=store, searcher=searcher,
        ingestor=ingestor, composer=composer, conversations=ConversationStore(engine), arxiv=arxiv,
        graph=build_graph(services, tool_loop),
        fetcher=fetcher, scorer=scorer, citation_graph=citation_graph, model=model,
    )


def uses_tools(model: BaseChatModel, settings: Settings) -> bool:
    """The tool loop for a model that can call tools (and, in `auto`, has the context for it); never for one
    that cannot, whatever the setting says."""
    capabilities = getattr(model, "capabilities", None)
    if settings.turn.agent_mode == "pipeline" or capabilities is None:
        return False
    if settings.turn.agent_mode == "tools" and not capabilities.tool_calling:
        log.warning("SCISYNTH_AGENT_MODE=tools, but %s cannot call tools: using the fixed pipeline",
                    model._llm_type)
        return False
    return capabilities.tool_calling if settings.turn.agent_mode == "tools" else capabilities.drives_tools
