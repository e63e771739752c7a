"""The one typed state every node of the graph reads and writes."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from retrieval.search import Passage


class Citation(TypedDict):
    n: int
    paper_id: str
    title: str
    section: str
    page: int | None
    quote: str
    url: str | None


class TraceEvent(TypedDict, total=False):
    node: str
    detail: str
    seconds: float


class AgentState(TypedDict, total=False):
    question: str
    library_empty: bool
    passages: list[Passage]
    answer: str
    citations: list[Citation]
    unsupported_removed: int
    provider: str
    trace: Annotated[list[TraceEvent], operator.add]
