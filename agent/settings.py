"""All configuration in one object, read from `SCISYNTH_*` environment variables (or a .env file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.llm import ModelOptions
from tools.isolation import ParseLimits


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCISYNTH_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("~/.scisynth"), description="where the database, index and papers live")
    database_url: str | None = Field(default=None, pattern=r"^$|^(sqlite:///|postgresql\+psycopg://)",
                                     description="SQLAlchemy URL, sqlite:///PATH or postgresql+psycopg://...; "
                                     "default SQLite in home")
    llm: str = Field(default="auto", description="LLM spec: auto, extractive, llamacpp:PATH, openai:MODEL")
    embeddings: str = Field(default="minilm", description="embedding model spec")
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_pdf_url: str = "https://arxiv.org/pdf/"
    arxiv_delay_seconds: float = Field(default=3.0, ge=0, description="pause between arXiv requests")
    arxiv_cache_hours: float = Field(default=24.0, ge=0, description="how long arXiv answers are reused")
    max_download_mb: int = Field(default=50, ge=1, description="largest PDF download accepted")
    allowed_fetch_hosts: str = Field(default="arxiv.org,export.arxiv.org", description="comma-separated")
    api_keys: str = Field(default="", description="comma-separated bearer keys, each `key` or `key:role` (role "
                          "reader, member or admin; default member); empty and no stored keys: open API")
    rate_limit_per_minute: int = Field(default=120, ge=1, description="requests per minute per API key")
    auth_failures_per_minute: int = Field(default=20, ge=1, description="failed authentications allowed per "
                                          "client address per minute before 429")
    upload_quota_mb: int = Field(default=2048, ge=1, description="stored upload megabytes allowed per API key")
    papers: str = Field(default="", description="folder for downloaded PDFs and uploads (empty: HOME/papers); "
                        "replicas that share one run each other's upload jobs")
    job_lease_seconds: float = Field(default=60.0, ge=1, description="a running job not heard from for this long "
                                     "is taken over by another replica (its own died)")
    max_pending_jobs: int = Field(default=5, ge=1, description="jobs (uploads, fetches, imports, syncs, watch runs) "
                                  "one API key may have waiting")
    max_queued_jobs: int = Field(default=500, ge=1, description="jobs all keys together may have waiting; more get "
                                 "503")
    trusted_proxies: str = Field(default="", description="comma-separated proxy addresses whose X-Forwarded-For "
                                 "is believed (empty: none; client addresses are the sockets')")
    redis_url: str = Field(default="", pattern=r"^$|^(redis|rediss|unix)://",
                           description="Redis shared by API replicas (redis://host:6379/0): rate limits and the "
                           "answer cache; empty: each process keeps its own limits, no answer cache")
    answer_cache_hours: float = Field(default=24.0, ge=0, description="with SCISYNTH_REDIS_URL, how long a model's "
                                      "answer to the same question on the same evidence is reused (0: never)")
    max_connections: int = Field(default=1000, ge=10, description="open connections served at once; more get 503")
    max_connections_per_client: int = Field(default=100, ge=1, description="open connections one client address "
                                            "may hold (trusted proxies are not limited); more are closed at once")
    header_timeout_seconds: float = Field(default=10.0, gt=0, description="a connection that has not sent a "
                                          "request's whole header within this is closed (slow clients)")
    body_timeout_seconds: float = Field(default=30.0, gt=0, description="a request whose body stops arriving for "
                                        "this long is answered 408")
    max_streaming_turns: int = Field(default=64, ge=1, description="turns running at once in this process (each "
                                     "holds a thread); more get 503")
    parse_seconds: float = Field(default=120.0, gt=0, description="how long one uploaded or imported file may take "
                                 "to read (a child process; stopped after this)")
    parse_memory_mb: int = Field(default=2048, ge=256, description="memory one uploaded or imported file's reader "
                                 "may use")
    public_metrics: bool = Field(default=False, description="serve /metrics without an API key")
    api_docs: bool = Field(default=False, description="serve the interactive API docs at /docs (public)")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="largest JSON request body")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, description="largest PDF upload")
    cors_origins: str = Field(default="", description="comma-separated origins allowed by CORS; empty: off")
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, description="wait for running turns at shutdown")
    slack_signing_secret: str = Field(default="", validation_alias="SLACK_SIGNING_SECRET")
    slack_bot_token: str = Field(default="", validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: str = Field(default="", validation_alias="SLACK_APP_TOKEN", description="Socket Mode only")
    slack_api_url: str | None = Field(default=None, validation_alias="SLACK_API_URL")
    slack_watch_channel: str = Field(default="", validation_alias="SLACK_WATCH_CHANNEL",
                                     description="Slack channel id that literature-watch digests are posted to")
    zotero_api_key: str = Field(default="", validation_alias="ZOTERO_API_KEY",
                                description="a Zotero key that can read the libraries you sync")
    zotero_api_url: str = Field(default="https://api.zotero.org", validation_alias="ZOTERO_API_URL")
    zotero_libraries: str = Field(default="", validation_alias="ZOTERO_LIBRARIES",
                                  description="comma-separated libraries (user:ID, group:ID) members may sync; "
                                  "admins may sync any the key reads")
    mlflow_tracking_uri: str = Field(default="", description="MLflow tracking URI for eval runs (training runs "
                                     "are tracked whenever MLflow is installed; default store: SQLite in home)")
    watch_check_seconds: float = Field(default=60.0, ge=0, description="how often the service looks for due "
                                       "literature watches (0: never; 'scisynth watch run' still runs them)")
    chunk_tokens: int = Field(default=256, ge=32, le=512)
    evidence_k: int = Field(default=8, ge=1, le=50)
    answer_threshold: float = Field(default=0.44, ge=0, le=1, description="answerability (0..1) below which the "
                                    "assistant says the library does not answer; chosen on PubMedQA's dev split")
    agent_mode: Literal["auto", "pipeline", "tools"] = Field(
        default="auto", description="auto: tool-calling loop when the model can, else the fixed pipeline")
    use_arxiv: bool = Field(default=True, description="search and fetch from arXiv during a turn")
    papers_per_turn: int = Field(default=2, ge=0, le=10, description="papers fetched from arXiv per turn")
    max_rounds: int = Field(default=2, ge=1, le=5, description="search rounds per turn (reflect adds one)")
    turn_seconds: float = Field(default=180.0, gt=0, description="wall-clock budget of one turn")
    max_llm_calls: int = Field(default=12, ge=1, description="model calls allowed in one turn")
    fusion: Literal["convex", "rrf"] = Field(default="convex", description="how BM25 and dense rankings combine")
    fusion_alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="BM25 weight in convex fusion")
    mmr_balance: float | None = Field(default=None, ge=0.0, le=1.0, description="MMR relevance weight; None = off")
    vector_store: Literal["faiss", "pgvector"] | None = Field(
        default=None, description="where chunk vectors live: faiss (files in the home folder) or pgvector (the "
        "PostgreSQL database, shared by replicas); default: pgvector with a PostgreSQL database, else faiss")
    exact_search_max: int = Field(default=200_000, ge=1, description="vectors searched exactly; HNSW beyond")

    llm_context_tokens: int = Field(default=4096, ge=512, description="llama.cpp context size")
    llm_threads: int | None = Field(default=None, ge=1, description="llama.cpp threads (default: all cores)")
    llm_gpu_layers: int = Field(default=0, ge=-1, description="layers offloaded to a GPU (-1: all)")
    llm_chat_format: str = Field(default="gemma", description="chat format when the GGUF has no template")
    llm_max_tokens: int = Field(default=512, ge=16)
    llm_timeout_seconds: float = Field(default=120.0, gt=0, description="one model call's time limit")
    llm_retries: int = Field(default=2, ge=0, le=10, description="retries of a hosted model call (429, 5xx, "
                             "timeouts), by the openai SDK")

    @property
    def model_options(self) -> ModelOptions:
        return ModelOptions(self.home_dir / "models", self.llm_context_tokens, self.llm_threads, self.llm_gpu_layers,
                            self.llm_chat_format, self.llm_max_tokens, self.llm_timeout_seconds, self.llm_retries)

    @property
    def parse_limits(self) -> ParseLimits:
        return ParseLimits(self.parse_seconds, self.parse_memory_mb)

    @property
    def home_dir(self) -> Path:
        """The home folder, created on first use."""
        path = self.home.expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def index_dir(self) -> Path:
        return self.home_dir / "index"

    @property
    def papers_dir(self) -> Path:
        return Path(self.papers).expanduser() if self.papers.strip() else self.home_dir / "papers"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'scisynth.db'}"

    @property
    def resolved_vector_store(self) -> Literal["faiss", "pgvector"]:
        if self.vector_store == "pgvector" and not self.uses_postgres:
            raise ValueError("SCISYNTH_VECTOR_STORE=pgvector needs a PostgreSQL SCISYNTH_DATABASE_URL")
        return self.vector_store or ("pgvector" if self.uses_postgres else "faiss")

    @property
    def uses_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @property
    def limits_storage(self) -> str:
        """Where rate-limit windows are counted: Redis when configured, else this process's memory."""
        return self.redis_url or "memory://"

    @property
    def fetch_hosts(self) -> list[str]:
        return _split(self.allowed_fetch_hosts)

    @property
    def cors_origin_list(self) -> list[str]:
        return _split(self.cors_origins)

    @property
    def keys(self) -> list[str]:
        return _split(self.api_keys)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)

    @property
    def zotero_library_list(self) -> list[str]:
        return _split(self.zotero_libraries)
