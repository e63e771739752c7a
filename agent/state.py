"""The one typed state every node of the graph reads and writes, and the typed parts of a turn's answer.

A turn's state starts from its input (agent/turn.py: TurnInput) and ends when the answer is checked; nothing carries
over to the next turn but what the conversation stores (its messages), which comes back in as `history`."""

from __future__ import annotations

from typing import Literal, NotRequired

from typing_extensions import TypedDict  # pydantic reads these as field types (agent/turn.py), on Python 3.11 too

from retrieval.search import Passage

Intent = Literal["question", "find_papers", "hypothesize", "follow_up", "chit_chat"]


class Quote(TypedDict):
    quote: str
    page: int | None


class Citation(TypedDict):
    n: int
    paper_id: str
    title: str
    section: str
    page: int | None
    quote: str
    url: str | None
    also: NotRequired[list[Quote]]  # the passage's other sentences the answer cites with the same number
    byline: NotRequired[str]  # "Vedovato et al. 2024": who wrote it and when, when the library knows


class TraceEvent(TypedDict, total=False):
    node: str
    detail: str
    seconds: float
    error: str


class Turn(TypedDict):
    question: str
    answer: str


class PriorWork(TypedDict):
    paper_id: str
    title: str
    similarity: float
    quote: str
    url: str | None


class OpenQuestion(TypedDict):
    """A limitation, future work, open question or negative result a paper states, quoted and cited."""

    n: int  # its citation number (the turn's citations list has the passage)
    kind: str  # "limitation", "future work", "open question", "negative or conflicting result"
    text: str
    paper_id: str
    title: str
    section: str
    page: int | None
    url: str | None
    relevance: float  # cosine similarity to the topic
    group: str  # the words its group shares: open questions saying nearly the same thing are one group


class Hypothesis(TypedDict):
    statement: str
    rationale: str
    evidence: list[int]
    prediction: str
    experiment: str
    novelty: float
    feasibility: float | None  # None when nothing measured it (templates)
    testability: float | None
    kind: str  # "model" (drafted by the language model) or "template" (composed by rules, no model)
    scored_by: dict[str, str]  # how each score was computed, or why it is absent
    prior_work: list[PriorWork]
    novelty_queries: list[str]  # the searches the novelty check ran, in order
    novelty_searched: NotRequired[str]  # where: "your library and arXiv", or the library only and why (older
    # stored answers lack it)
    premises: list[str]  # the evidence sentences a template quotes as what it builds on (empty for a model's)


class Fallback(TypedDict):
    """A model step that failed and what answered instead (rules, templates or extractive)."""

    step: str
    reason: str


class AgentState(TypedDict, total=False):
    # the turn's input
    question: str
    mode: Literal["ask", "hypothesize", "search"]
    hypotheses_wanted: int
    instructions: str  # the researcher's standing instructions (an OpenAI client's system message)
    history: list[Turn]  # the conversation's earlier turns, oldest first
    # this turn's work
    intent: Intent
    resolved_question: str
    queries: list[str]
    lexical_queries: list[str]  # searched by BM25 alone (a long question's key words)
    library_empty: bool
    arxiv_ids: list[str]
    acquired: int  # papers the last acquire step added (retrieve searches again only then)
    passages: list[Passage]
    library_searched: bool  # the search step already searched the library for `queries` this round
    evidence: list[Passage]
    answerability: dict  # does the evidence answer the question (agent/answerability.py)
    rounds: int
    started_at: float  # when the turn began (time.monotonic), for its time budget
    llm_calls: int
    papers_fetched: int
    answer: str
    streamed: str  # the answer text already sent to a client token by token (verify tells it of changes)
    citations: list[Citation]
    answered: bool  # false when the library does not answer (the answer says so and cites nothing)
    related: list[dict]  # passages that are near the question but do not answer it (not citations)
    unsupported_removed: int
    hypotheses: list[Hypothesis]
    open_questions: list[OpenQuestion]  # stated by the papers (mode hypothesize)
    hypotheses_note: str  # why no hypothesis was drafted, when none was
    provider: str
    stopped_early: str  # which budget cut a step short this turn ("" when none did)
    fallbacks: list[Fallback]  # this turn's only
    trace: list[TraceEvent]  # this turn's only: each turn's input resets it
