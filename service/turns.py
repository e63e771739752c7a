"""Research turns and the conversations they belong to: the one way every interface (CLI, HTTP, SSE, the
OpenAI-compatible endpoint, Slack, the evals) asks the assistant a question.

A conversation's record is its messages table: the question is stored before the agent runs (and an error note if
it fails), the answer with its citations after, and the next turn reads its earlier questions and answers from
there. Nothing else keeps a conversation's history.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

from langchain_core.callbacks import get_usage_metadata_callback

from agent.llm.structured import model_deadline
from agent.nodes import emitting
from agent.runtime import Runtime
from agent.state import Turn
from agent.turn import STORED_FIELDS, TurnEvent, TurnInput, TurnRequest, TurnResult, Usage
from store.catalog import PaperRow
from store.conversations import UnknownConversationError

log = logging.getLogger(__name__)
Emit = Callable[[TurnEvent], None]


class TurnObserver(Protocol):
    """Told of every turn (the API's Prometheus counters): the configured composer, and the result (None: the turn
    failed)."""

    def observe_turn(self, composer: str, result: TurnResult | None) -> None: ...


class TurnService:
    def __init__(self, runtime: Runtime, observer: TurnObserver | None = None) -> None:
        self.runtime = runtime
        self.observer = observer

    def run(self, request: TurnRequest, emit: Emit | None = None) -> TurnResult:
        """One research turn (mode `search`: passages only, no answer). With a conversation, the question is
        stored before the agent runs and the answer after; `emit` receives TurnEvents while it runs."""
        if request.mode == "search":
            passages = self.runtime.searcher.search(request.question, k=10)
            return TurnResult(results=[p.public() for p in passages], conversation_id=request.conversation_id)
        result = None
        try:
            result = self._answer(request, emit or (lambda _event: None))
            return result
        finally:
            if self.observer is not None:
                self.observer.observe_turn(self.runtime.composer.name, result)

    def _answer(self, request: TurnRequest, emit: Emit) -> TurnResult:
        conversation = request.conversation_id
        history = self.history(conversation) if conversation is not None else request.history
        if conversation is not None:  # UnknownConversationError when there is none
            self.runtime.conversations.add_message(conversation, "user", request.question)
        turn = TurnInput(question=request.question, mode=request.mode, hypotheses_wanted=request.n,
                         instructions=request.instructions, history=history)
        state: dict[str, Any] = {}
        try:
            with get_usage_metadata_callback() as usage, model_deadline(self.runtime.settings.turn.turn_seconds), \
                    emitting(lambda event: emit(TurnEvent.model_validate(event))):
                for mode, chunk in self.runtime.graph.stream(turn, stream_mode=["updates", "values"]):
                    if mode == "values":  # the whole state after a step
                        state = cast(dict[str, Any], chunk)
                        continue
                    for node, delta in cast(dict[str, dict[str, Any]], chunk).items():  # each step's changes
                        for event in progress_events(node, delta or {}):
                            emit(event)
        except Exception as error:
            log.exception("turn failed")
            if conversation is not None:
                with contextlib.suppress(UnknownConversationError):
                    self.runtime.conversations.add_message(conversation, "error", "The agent failed (" +
                                                           f"{error.__class__.__name__}); the details are in the "
                                                           "server log.")
            raise
        result = TurnResult.model_validate({**state, "usage": total_usage(usage.usage_metadata),
                                            "conversation_id": conversation})
        if conversation is not None:
            try:
                result.message_id = self.runtime.conversations.add_message(
                    conversation, "assistant", result.answer, result.model_dump(include=STORED_FIELDS)).id
            except UnknownConversationError:
                log.info("conversation %s was deleted while its turn ran; the answer is not stored", conversation)
        return result

    def history(self, conversation: str) -> list[Turn]:
        """The conversation's earlier turns, oldest first, from its stored messages (a question whose turn failed
        has no answer and is left out)."""
        turns: list[Turn] = []
        question: str | None = None
        for message in self.runtime.conversations.messages(conversation):
            if message.role == "user":
                question = message.content
            elif message.role == "assistant" and question is not None:
                turns.append(Turn(question=question, answer=message.content))
                question = None
        return turns

    def cited_papers(self, conversation: str) -> list[PaperRow]:
        """The library papers the conversation's answers cite, in the order they were first cited (papers deleted
        since are left out)."""
        ids = [citation["paper_id"] for message in self.runtime.conversations.messages(conversation)
               for citation in message.payload.get("citations", [])]
        catalog = self.runtime.catalog
        return [paper for paper_id in dict.fromkeys(ids) if (paper := catalog.find_paper(paper_id)) is not None]


def progress_events(node: str, delta: Mapping[str, Any]) -> list[TurnEvent]:
    """What a client shows while a turn runs: each finished node, tools used, papers added."""
    trace = delta.get("trace") or []
    detail = trace[-1] if trace else {"node": node, "detail": ""}
    events = [TurnEvent(event="status", data={"node": node, "detail": detail.get("detail", ""),
                                              "error": detail.get("error", "")})]
    if node == "search" and delta.get("arxiv_ids") is not None:
        events.append(TurnEvent(event="tool", data={"tool": "search_arxiv", "new_papers": delta["arxiv_ids"]}))
    if node == "acquire" and delta.get("papers_fetched"):
        events.append(TurnEvent(event="paper", data={"detail": detail.get("detail", "")}))
    return events


def total_usage(per_model: Mapping[str, Mapping[str, Any]]) -> Usage | None:
    """Tokens of every model call in the turn, as the providers reported them; None when no model ran."""
    if not per_model:
        return None
    return Usage(**{kind: sum(int(u.get(kind, 0)) for u in per_model.values())
                    for kind in ("input_tokens", "output_tokens", "total_tokens")})
