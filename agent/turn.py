"""A research turn's contract: what it is asked (TurnRequest), what it says while it runs (TurnEvent) and what it
answers (TurnResult). The graph takes TurnInput and gives TurnResult's fields (agent/graph.py); the CLI's --json,
the HTTP API, the SSE stream, Slack and the stored message all read TurnResult, so a field added here appears
everywhere at once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from agent.state import Citation, Fallback, Hypothesis, OpenQuestion, TraceEvent, Turn

Mode = Literal["ask", "hypothesize", "search"]
EventName = Literal["status", "tool", "paper", "token", "revised", "citation", "hypothesis", "done", "error"]


class TurnRequest(BaseModel):
    """One question to the assistant. `conversation_id` is the stored key of the conversation it belongs to (its
    earlier turns are the history); `history` adds turns a client sent along instead (an OpenAI-style client)."""

    question: str = Field(min_length=1, max_length=8000)
    mode: Mode = "ask"
    n: int = Field(default=3, ge=1, le=10, description="hypotheses wanted (mode hypothesize)")
    instructions: str = Field(default="", description="the researcher's standing instructions")
    history: list[Turn] = Field(default_factory=list)
    conversation_id: str | None = None


class TurnInput(TypedDict, total=False):
    """The graph's input: a turn starts from these and nothing else (no state carries over between turns; a
    conversation's earlier turns come in as `history`)."""

    question: str
    mode: Mode
    hypotheses_wanted: int
    instructions: str
    history: list[Turn]


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class TurnResult(BaseModel):
    """What a turn answers (`ask --json`, the HTTP API, the stored message). Every [n] in `answer` has a citation
    whose quote is a verbatim span of the cited passage; `answered` is false when the library does not answer."""

    model_config = ConfigDict(extra="ignore")  # built from the graph's whole state: only these fields are kept

    answer: str = ""
    citations: list[Citation] = Field(default_factory=list)
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    open_questions: list[OpenQuestion] = Field(default_factory=list)
    hypotheses_note: str = ""
    provider: str | None = None
    unsupported_removed: int = 0
    answered: bool = False
    related: list[dict[str, Any]] = Field(default_factory=list)
    answerability: dict[str, Any] | None = None
    fallbacks: list[Fallback] = Field(default_factory=list)
    trace: list[TraceEvent] = Field(default_factory=list)
    usage: Usage | None = None
    conversation_id: str | None = None
    message_id: int | None = None
    results: list[dict[str, Any]] = Field(default_factory=list, description="passages (mode search)")


# What a stored assistant message keeps of its turn besides the answer text (the rest is recomputed or per turn).
STORED_FIELDS = {"citations", "hypotheses", "open_questions", "hypotheses_note", "provider", "answered", "related",
                 "fallbacks", "trace"}


class TurnEvent(BaseModel):
    """Something a client shows while a turn runs: a step finished ("status"), a tool used, a paper added, a piece
    of the answer ("token"), the checked answer when it differs from what was streamed ("revised"), then each
    citation and hypothesis, and "done" with the result (or "error")."""

    event: EventName
    data: dict[str, Any]
