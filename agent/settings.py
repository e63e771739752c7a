"""All configuration, read from `SCISYNTH_*` environment variables (or a .env file), in groups: `Settings.storage`,
`.arxiv`, `.model`, `.retrieval`, `.answer`, `.turn`, `.service`, `.jobs`, `.slack`, `.zotero`, `.tracking`.

Each group reads its own variables, named as they always were (SCISYNTH_CHUNK_TOKENS, SLACK_BOT_TOKEN, ...), so
grouping changed no name. `Settings(chunk_tokens=128)` and `settings.with_changes(home=...)` take the flat names
too and route each to its group. Every threshold that decides what an answer quotes or leaves out is in
`AnswerSettings`, named and explained there, and nowhere else.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.llm import ModelOptions
from tools.isolation import ParseLimits


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _env(name: str, field: str) -> AliasChoices:
    """A field read from an environment variable outside the SCISYNTH_ prefix (SLACK_BOT_TOKEN), or by its name."""
    return AliasChoices(field, name)


class _Group(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCISYNTH_", env_file=".env", extra="ignore",
                                      populate_by_name=True)


class StorageSettings(_Group):
    home: Path = Field(default=Path("~/.scisynth"), description="where the database, index and papers live")
    database_url: str | None = Field(default=None, pattern=r"^$|^(sqlite:///|postgresql\+psycopg://)",
                                     description="SQLAlchemy URL, sqlite:///PATH or postgresql+psycopg://...; "
                                     "default SQLite in home")
    papers: str = Field(default="", description="folder for downloaded PDFs and uploads (empty: HOME/papers); "
                        "replicas that share one run each other's upload jobs")
    cache: str = Field(default="", description="folder of the embedding cache and the ONNX query encoder (empty: "
                       "HOME/cache); libraries that share one embed each text once")
    vector_store: Literal["faiss", "pgvector"] | None = Field(
        default=None, description="where chunk vectors live: faiss (files in the home folder) or pgvector (the "
        "PostgreSQL database, shared by replicas); default: pgvector with a PostgreSQL database, else faiss")
    exact_search_max: int = Field(default=200_000, ge=1, description="vectors searched exactly; HNSW beyond")
    redis_url: str = Field(default="", pattern=r"^$|^(redis|rediss|unix)://",
                           description="Redis shared by API replicas (redis://host:6379/0): rate limits and the "
                           "answer cache; empty: each process keeps its own limits, no answer cache")
    answer_cache_hours: float = Field(default=24.0, ge=0, description="with SCISYNTH_REDIS_URL, how long a model's "
                                      "answer to the same question on the same evidence is reused (0: never)")

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
    def cache_dir(self) -> Path:
        return Path(self.cache).expanduser() if self.cache.strip() else self.home_dir / "cache"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'scisynth.db'}"

    @property
    def uses_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @property
    def resolved_vector_store(self) -> Literal["faiss", "pgvector"]:
        if self.vector_store == "pgvector" and not self.uses_postgres:
            raise ValueError("SCISYNTH_VECTOR_STORE=pgvector needs a PostgreSQL SCISYNTH_DATABASE_URL")
        return self.vector_store or ("pgvector" if self.uses_postgres else "faiss")

    @property
    def limits_storage(self) -> str:
        """Where rate-limit windows are counted: Redis when configured, else this process's memory."""
        return self.redis_url or "memory://"


class ArxivSettings(_Group):
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_pdf_url: str = "https://arxiv.org/pdf/"
    arxiv_delay_seconds: float = Field(default=3.0, ge=0, description="pause between arXiv requests")
    arxiv_cache_hours: float = Field(default=24.0, ge=0, description="how long arXiv answers are reused")
    max_download_mb: int = Field(default=50, ge=1, description="largest PDF download accepted")
    allowed_fetch_hosts: str = Field(default="arxiv.org,export.arxiv.org", description="comma-separated")
    use_arxiv: bool = Field(default=True, description="search and fetch from arXiv during a turn")

    @property
    def fetch_hosts(self) -> list[str]:
        return _split(self.allowed_fetch_hosts)


class ModelSettings(_Group):
    llm: str = Field(default="auto", description="LLM spec: auto, extractive, llamacpp:PATH, openai:MODEL")
    llm_context_tokens: int = Field(default=4096, ge=512, description="llama.cpp context size")
    llm_threads: int | None = Field(default=None, ge=1, description="llama.cpp threads (default: all cores)")
    llm_gpu_layers: int = Field(default=0, ge=-1, description="layers offloaded to a GPU (-1: all)")
    llm_chat_format: str = Field(default="gemma", description="chat format when the GGUF has no template")
    llm_max_tokens: int = Field(default=512, ge=16)
    llm_timeout_seconds: float = Field(default=120.0, gt=0, description="one model call's time limit")
    llm_retries: int = Field(default=2, ge=0, le=10, description="retries of a hosted model call (429, 5xx, "
                             "timeouts), by the openai SDK")


class RetrievalSettings(_Group):
    embeddings: str = Field(default="minilm", description="embedding model spec")
    chunk_tokens: int = Field(default=256, ge=32, le=512)
    fusion: Literal["convex", "rrf"] = Field(default="convex", description="how BM25 and dense rankings combine")
    fusion_alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="BM25 weight in convex fusion")
    mmr_balance: float | None = Field(default=None, ge=0.0, le=1.0, description="MMR relevance weight; None = off")


class AnswerSettings(_Group):
    """What an answer quotes and when it says the library does not answer. Similarities are cosine similarities of
    the bundled encoder's vectors; each number was chosen where its comment says."""

    evidence_k: int = Field(default=8, ge=1, le=50, description="evidence passages per question")
    retrieved_per_query: int = Field(default=32, ge=1, le=200, description="passages each query retrieves for the "
                                     "evidence step to rank by their best sentence; several times evidence_k, since a "
                                     "long paper's short passages, matched by its title, crowd out the one that "
                                     "answers (a PDF's unheaded abstract ranked 28th)")
    answer_threshold: float = Field(default=0.44, ge=0, le=1, description="answerability (0..1) below which the "
                                    "assistant says the library does not answer; chosen on PubMedQA's dev split")
    relevance_cutoff: float = Field(default=0.25, ge=0, le=1, description="a passage whose best sentence is less "
                                    "similar to the question than this is not evidence")
    strong_evidence_margin: float = Field(default=0.15, ge=0, le=1, description="evidence this far above the cutoff "
                                          "counts as strong: with fewer than min_evidence such passages, arXiv is "
                                          "searched")
    min_evidence: int = Field(default=2, ge=1, description="strong passages a question needs before the library "
                              "alone answers it")
    quote_min_similarity: float = Field(default=0.35, ge=0, le=1, description="the least similarity of a sentence "
                                        "an extractive answer quotes")
    quote_min_evidence_ratio: float = Field(default=0.4, ge=0, le=1, description="a sentence the evidence judge "
                                            "rates below this share of the best one's is not quoted; higher cites "
                                            "fewer wrong papers for one-paper questions and fewer right ones for "
                                            "multi-paper ones (chosen on calibration questions: python -m "
                                            "research.answer_cutoff)")
    answer_max_sentences: int = Field(default=4, ge=1, description="sentences an extractive answer quotes")
    sentences_per_passage: int = Field(default=2, ge=1, description="of them, from one passage at most")
    duplicate_similarity: float = Field(default=0.9, ge=0, le=1, description="two sentences this similar say the "
                                        "same thing: one is quoted")
    rank_prior: float = Field(default=0.05, ge=0, description="a sentence's bonus per rank its passage is above the "
                              "last (retrieval's order breaks near-ties)")
    citation_min_support: float = Field(default=0.55, ge=0, le=1, description="the least similarity of a cited "
                                        "passage's best sentence to the statement citing it, else the citation goes")
    gap_min_similarity: float = Field(default=0.15, ge=0, le=1, description="an open question less similar to the "
                                      "topic than this is left out")
    gap_group_similarity: float = Field(default=0.5, ge=0, le=1, description="open questions this similar form one "
                                        "group")
    gap_negative_penalty: float = Field(default=0.05, ge=0, description="how much lower a negative result ranks than "
                                        "a stated limitation or question")
    gap_paper_weight: float = Field(default=0.5, ge=0, le=1, description="weight of the paper's relevance beside the "
                                    "sentence's own")
    novelty_decided_at: float = Field(default=0.9, ge=0, le=1, description="prior work this similar to a hypothesis "
                                      "says the same: it is not novel")
    evidence_judge: str = Field(default="", description="a JSON file 'scisynth train judge' wrote, to rank the "
                                "sentences answers quote; empty: the judge shipped in agent/evidence_judge.json")
    stance_model: str = Field(default="", description="a JSON file 'scisynth train stance' wrote, to judge whether a "
                              "paper supports or contradicts a claim; empty: the one shipped in agent/stance.json")

    @model_validator(mode="after")
    def _retrieves_enough(self) -> AnswerSettings:
        if self.retrieved_per_query < self.evidence_k:
            raise ValueError(f"retrieved_per_query ({self.retrieved_per_query}) must be at least evidence_k "
                             f"({self.evidence_k}): the evidence step chooses among the passages retrieved")
        return self


class TurnSettings(_Group):
    agent_mode: Literal["auto", "pipeline", "tools"] = Field(
        default="auto", description="auto: tool-calling loop when the model can, else the fixed pipeline")
    papers_per_turn: int = Field(default=2, ge=0, le=10, description="papers fetched from arXiv per turn")
    max_rounds: int = Field(default=2, ge=1, le=5, description="search rounds per turn (reflect adds one)")
    turn_seconds: float = Field(default=180.0, gt=0, description="wall-clock budget of one turn")
    max_llm_calls: int = Field(default=12, ge=1, description="model calls allowed in one turn")


class ServiceSettings(_Group):
    api_keys: str = Field(default="", description="comma-separated bearer keys, each `key` or `key:role` (role "
                          "reader, member or admin; default member); empty and no stored keys: open API")
    rate_limit_per_minute: int = Field(default=120, ge=1, description="requests per minute per API key")
    auth_failures_per_minute: int = Field(default=20, ge=1, description="failed authentications allowed per "
                                          "client address per minute before 429")
    trusted_proxies: str = Field(default="", description="comma-separated proxy addresses or networks (10.0.0.0/8; "
                                 "* for any) whose X-Forwarded-For is believed and whose connections are not capped "
                                 "as one client's (empty: none; client addresses are the sockets')")
    max_connections: int = Field(default=1000, ge=10, description="open connections served at once; more get 503")
    max_connections_per_client: int = Field(default=100, ge=1, description="open connections one client address "
                                            "may hold (trusted proxies are not limited); more are closed at once")
    header_timeout_seconds: float = Field(default=10.0, gt=0, description="a connection that has not sent a "
                                          "request's whole header within this is closed (slow clients)")
    keep_alive_seconds: int = Field(default=5, ge=1, le=600, description="an idle kept-alive connection is "
                                      "closed after this; behind a proxy that reuses its connections, make it longer "
                                      "than the proxy keeps them idle (compose and Kubernetes: 65), or a request the "
                                      "proxy sends as the server closes fails with a 502")
    body_timeout_seconds: float = Field(default=30.0, gt=0, description="a request whose body stops arriving for "
                                        "this long is answered 408")
    max_streaming_turns: int = Field(default=64, ge=1, description="turns running at once in this process (each "
                                     "holds a thread); more get 503")
    public_metrics: bool = Field(default=False, description="serve /metrics without an API key")
    api_docs: bool = Field(default=False, description="serve the interactive API docs at /docs (public)")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="largest JSON request body")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, description="largest PDF upload")
    cors_origins: str = Field(default="", description="comma-separated origins allowed by CORS; empty: off")
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, description="wait for running turns at shutdown")
    drain_seconds: float = Field(default=0.0, ge=0, le=300, description="after SIGTERM, answer /readyz 503 and go "
                                 "on serving for this long before stopping, so a proxy's health checks take the "
                                 "replica out first (behind HAProxy: longer than its 2 checks a second apart)")
    public_url: str = Field(default="", pattern=r"^$|^https?://[^\s]+$", description="the address users' browsers "
                            "reach the service at (https://scisynth.lab.example); with link_secret, Slack citations "
                            "link to the cited page, highlighted")
    link_secret: str = Field(default="", description="signs the page links Slack shows (any long random string, the "
                             "same on every replica); a link opens its one page without an API key")
    link_days: int = Field(default=30, ge=1, le=3650, description="how long a signed page link opens")

    @property
    def keys(self) -> list[str]:
        return _split(self.api_keys)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for entry in _split(value):
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError as error:
                    raise ValueError(f"{entry!r} is not an address or a network (10.0.0.0/8), nor *") from error
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return _split(self.cors_origins)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)


class JobSettings(_Group):
    job_lease_seconds: float = Field(default=60.0, ge=1, description="a running job not heard from for this long "
                                     "is taken over by another replica (its own died)")
    max_pending_jobs: int = Field(default=5, ge=1, description="jobs (uploads, fetches, imports, syncs, watch runs) "
                                  "one API key may have waiting")
    max_queued_jobs: int = Field(default=500, ge=1, description="jobs all keys together may have waiting; more get "
                                 "503")
    upload_quota_mb: int = Field(default=2048, ge=1, description="stored upload megabytes allowed per API key")
    parse_seconds: float = Field(default=120.0, gt=0, description="how long one uploaded or imported file may take "
                                 "to read (a child process; stopped after this)")
    parse_memory_mb: int = Field(default=2048, ge=256, description="memory one uploaded or imported file's reader "
                                 "may use")
    watch_check_seconds: float = Field(default=60.0, ge=0, description="how often the service looks for due "
                                       "literature watches (0: never; 'scisynth watch run' still runs them)")

    @property
    def parse_limits(self) -> ParseLimits:
        return ParseLimits(self.parse_seconds, self.parse_memory_mb)


class SlackSettings(_Group):
    slack_signing_secret: str = Field(default="", validation_alias=_env("SLACK_SIGNING_SECRET",
                                                                        "slack_signing_secret"))
    slack_bot_token: str = Field(default="", validation_alias=_env("SLACK_BOT_TOKEN", "slack_bot_token"))
    slack_app_token: str = Field(default="", validation_alias=_env("SLACK_APP_TOKEN", "slack_app_token"),
                                 description="Socket Mode only")
    slack_api_url: str | None = Field(default=None, validation_alias=_env("SLACK_API_URL", "slack_api_url"))
    slack_watch_channel: str = Field(default="", validation_alias=_env("SLACK_WATCH_CHANNEL", "slack_watch_channel"),
                                     description="Slack channel id that literature-watch digests are posted to")


class ZoteroSettings(_Group):
    zotero_api_key: str = Field(default="", validation_alias=_env("ZOTERO_API_KEY", "zotero_api_key"),
                                description="a Zotero key that can read the libraries you sync")
    zotero_api_url: str = Field(default="https://api.zotero.org",
                                validation_alias=_env("ZOTERO_API_URL", "zotero_api_url"))
    zotero_libraries: str = Field(default="", validation_alias=_env("ZOTERO_LIBRARIES", "zotero_libraries"),
                                  description="comma-separated libraries (user:ID, group:ID) members may sync; "
                                  "admins may sync any the key reads")

    @property
    def library_list(self) -> list[str]:
        return _split(self.zotero_libraries)


class TrackingSettings(_Group):
    mlflow_tracking_uri: str = Field(default="", description="MLflow tracking URI for eval runs (training runs "
                                     "are tracked whenever MLflow is installed; default store: SQLite in home)")


GROUPS: dict[str, type[_Group]] = {
    "storage": StorageSettings, "arxiv": ArxivSettings, "model": ModelSettings, "retrieval": RetrievalSettings,
    "answer": AnswerSettings, "turn": TurnSettings, "service": ServiceSettings, "jobs": JobSettings,
    "slack": SlackSettings, "zotero": ZoteroSettings, "tracking": TrackingSettings}


def _aliases(group: type[_Group]) -> dict[str, str]:
    """Every name a group's fields may be given by (field name, and alias such as SLACK_BOT_TOKEN) -> field name."""
    names: dict[str, str] = {}
    for field_name, field in group.model_fields.items():
        names[field_name] = field_name
        if isinstance(field.validation_alias, AliasChoices):
            names |= {str(choice): field_name for choice in field.validation_alias.choices}
    return names


_OWNER = {name: group for group, model in GROUPS.items() for name in _aliases(model)}


def environment_names() -> dict[str, str]:
    """Every environment variable the settings read -> its field name (SCISYNTH_CHUNK_TOKENS -> chunk_tokens,
    SLACK_BOT_TOKEN -> slack_bot_token)."""
    names = {}
    for model in GROUPS.values():
        for field_name, field in model.model_fields.items():
            aliases = field.validation_alias.choices if isinstance(field.validation_alias, AliasChoices) else []
            upper = [str(a) for a in aliases if str(a).isupper()]
            names[upper[0] if upper else f"SCISYNTH_{field_name.upper()}"] = field_name
    return names


class Settings(BaseModel):
    """The whole configuration: one group per concern, each read from the environment when it is not given."""

    storage: StorageSettings
    arxiv: ArxivSettings
    model: ModelSettings
    retrieval: RetrievalSettings
    answer: AnswerSettings
    turn: TurnSettings
    service: ServiceSettings
    jobs: JobSettings
    slack: SlackSettings
    zotero: ZoteroSettings
    tracking: TrackingSettings

    @model_validator(mode="before")
    @classmethod
    def _grouped(cls, data: Any) -> Any:
        """Flat names (`chunk_tokens=128`, `SLACK_BOT_TOKEN=...`) to their group; each group not given whole is
        built from what was given and the environment. An unknown name is an error."""
        if not isinstance(data, dict):
            return data
        given: dict[str, dict[str, Any]] = {group: {} for group in GROUPS}
        whole: dict[str, Any] = {}
        for name, value in data.items():
            if name in GROUPS:
                whole[name] = value
            elif name in _OWNER:
                given[_OWNER[name]][_aliases(GROUPS[_OWNER[name]])[name]] = value
            else:
                raise ValueError(f"unknown setting {name!r}")
        return {group: whole.get(group) if group in whole else model(**given[group])
                for group, model in GROUPS.items()}

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some settings changed, by their flat names (`home=...`, `chunk_tokens=128`)."""
        flat = {name: value for group in GROUPS for name, value in getattr(self, group).model_dump().items()}
        return Settings(**{**flat, **changes})

    @property
    def model_options(self) -> ModelOptions:
        model = self.model
        return ModelOptions(self.storage.home_dir / "models", model.llm_context_tokens, model.llm_threads,
                            model.llm_gpu_layers, model.llm_chat_format, model.llm_max_tokens,
                            model.llm_timeout_seconds, model.llm_retries)
