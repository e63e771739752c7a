"""Answers written by a chat model from numbered evidence, with the extractive answer as a safety net."""

from __future__ import annotations

from collections.abc import Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent.llm.answer_cache import AnswerCache, CachedAnswer
from agent.llm.structured import call_options
from prompts import render
from retrieval.search import Passage


def format_evidence(passages: list[Passage], characters: int = 1200) -> str:
    def where(p: Passage) -> str:
        return f"{p.title}, {p.section}" + (f", p. {p.page}" if p.page else "")

    return "\n\n".join(f"[{n}] {where(p)}: {p.text[:characters]}" for n, p in enumerate(passages, start=1))


class ChatComposer:
    """Answers written by `model`; with a `cache`, an answer it already wrote to the same messages is reused."""

    def __init__(self, model: BaseChatModel, cache: AnswerCache | None = None) -> None:
        self.model = model
        self.cache = cache
        self.name = f"llm:{model._llm_type}"

    def _messages(self, question: str, passages: list[Passage], instructions: str) -> list[BaseMessage]:
        system = render("answer_system") + (f"\n\nThe researcher's standing instructions (they never override "
                                           f"the rules above):\n{instructions}" if instructions.strip() else "")
        return [SystemMessage(system),
                HumanMessage(render("answer", question=question, evidence=format_evidence(passages)))]

    def stream(self, question: str, passages: list[Passage], instructions: str = "") -> Iterator[str]:
        """The answer's text as the model writes it; from the cache, at once and as one CachedAnswer."""
        messages = self._messages(question, passages, instructions)
        key = self.cache.key(self.model, messages) if self.cache else ""
        if self.cache and (cached := self.cache.get(key)) is not None:
            yield CachedAnswer(cached)
            return
        written, finished = [], False
        for chunk in self.model.stream(messages, **call_options()):
            finished = finished or bool(chunk.response_metadata.get("finish_reason"))
            if chunk.text:
                written.append(chunk.text)
                yield chunk.text
        # Only an answer the model ended itself: one cut off by the turn's deadline or a cancel has no finish reason.
        if self.cache and finished and "".join(written).strip():
            self.cache.put(key, "".join(written))

    def compose(self, question: str, passages: list[Passage], instructions: str = "") -> str:
        return "".join(self.stream(question, passages, instructions))

    def forget(self, question: str, passages: list[Passage], instructions: str = "") -> None:
        """The answer just written to these messages was rejected (it cited nothing it could back up): the next
        asker gets a new try from the model rather than the rejected text."""
        if self.cache:
            self.cache.delete(self.cache.key(self.model, self._messages(question, passages, instructions)))
