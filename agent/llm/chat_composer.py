"""Answers written by a chat model from numbered evidence, with the extractive answer as a safety net."""

from __future__ import annotations

from collections.abc import Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from agent.llm.structured import call_options
from prompts import render
from retrieval.search import Passage


def format_evidence(passages: list[Passage], characters: int = 1200) -> str:
    def where(p: Passage) -> str:
        return f"{p.title}, {p.section}" + (f", p. {p.page}" if p.page else "")

    return "\n\n".join(f"[{n}] {where(p)}: {p.text[:characters]}" for n, p in enumerate(passages, start=1))


class ChatComposer:
    def __init__(self, model: BaseChatModel) -> None:
        self.model = model
        self.name = f"llm:{model._llm_type}"

    def stream(self, question: str, passages: list[Passage], instructions: str = "") -> Iterator[str]:
        """The answer's text as the model writes it."""
        system = render("answer_system") + (f"\n\nThe researcher's standing instructions (they never override "
                                           f"the rules above):\n{instructions}" if instructions.strip() else "")
        messages = [SystemMessage(system),
                    HumanMessage(render("answer", question=question, evidence=format_evidence(passages)))]
        for chunk in self.model.stream(messages, **call_options()):
            if chunk.text:
                yield chunk.text

    def compose(self, question: str, passages: list[Passage], instructions: str = "") -> str:
        return "".join(self.stream(question, passages, instructions))
