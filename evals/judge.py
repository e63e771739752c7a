"""Judging for the claim-verification and yes/no suites. Without a model: rationale sentences by similarity,
stance by negation parity (deliberately simple and deterministic: the floor a model must beat). With a
model: the model labels, with JSON output; an unusable reply falls back to the model-free judgement."""

from __future__ import annotations

import re

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agent.evidence import SentenceScorer
from agent.llm.structured import ModelStepError, ask_json
from prompts import render

_NEGATION = re.compile(r"\b(no|not|never|neither|nor|without|fails?|failed|lacks?|lacked|unable|cannot|none|"
                       r"absence|absent|neither|unaffected|insignificant|nonsignificant)\b|n't\b", re.IGNORECASE)


def negated(text: str) -> bool:
    return len(_NEGATION.findall(text)) % 2 == 1


def rationale(claim: str, sentences: list[str], scorer: SentenceScorer, threshold: float, most: int = 2
              ) -> tuple[list[int], float]:
    """Indices of the sentences most similar to the claim (at least `threshold`), and the best similarity."""
    if not sentences:
        return [], 0.0
    similarity = scorer.similarities(claim, sentences)
    order = [int(i) for i in np.argsort(-similarity)[:most] if similarity[i] >= threshold]
    return sorted(order), float(similarity.max())


def stance(claim: str, evidence: str) -> str:
    """SUPPORT when claim and evidence agree in negation, CONTRADICT when one negates and the other not."""
    return "CONTRADICT" if negated(claim) != negated(evidence) else "SUPPORT"


class Verdict(BaseModel):
    label: str
    sentences: list[int] = []


class YesNo(BaseModel):
    answer: str


class Judge:
    """Labels claims and answers yes/no questions: by `model` when given, else by the rules above. A model
    step that fails (no reply, unusable JSON) is judged by the rules instead and counted in `fallbacks`."""

    def __init__(self, scorer: SentenceScorer, model: BaseChatModel | None = None, threshold: float = 0.6) -> None:
        self.scorer = scorer
        self.model = model
        self.threshold = threshold
        self.name = f"llm:{model._llm_type}" if model is not None else "extractive"
        self.fallbacks = 0

    def _ask(self, prompt: str, shape: type[BaseModel]) -> BaseModel | None:
        try:
            return ask_json(self.model, [HumanMessage(prompt)], shape)
        except ModelStepError:
            self.fallbacks += 1
            return None

    def verify(self, claim: str, sentences: list[str]) -> tuple[str | None, list[int]]:
        """(SUPPORT | CONTRADICT | None for not enough info, rationale sentence indices)."""
        if self.model is not None:
            numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences))
            verdict = self._ask(render("verify_claim", claim=claim, sentences=numbered), Verdict)
            if isinstance(verdict, Verdict):
                chosen = sorted({i for i in verdict.sentences if 0 <= i < len(sentences)})
                if verdict.label in ("SUPPORT", "CONTRADICT") and chosen:
                    return verdict.label, chosen
                if verdict.label == "NOT_ENOUGH_INFO":
                    return None, []
        chosen, _ = rationale(claim, sentences, self.scorer, self.threshold)
        return (stance(claim, sentences[chosen[0]]), chosen) if chosen else (None, [])

    def yes_no(self, question: str, sentences: list[str], threshold: float = 0.45) -> str:
        if self.model is not None:
            reply = self._ask(render("yes_no", question=question, sentences="\n".join(sentences)), YesNo)
            if isinstance(reply, YesNo) and reply.answer in ("yes", "no", "maybe"):
                return reply.answer
        chosen, _ = rationale(question, sentences, self.scorer, threshold, most=1)
        if not chosen:
            return "maybe"
        return "no" if negated(sentences[chosen[0]]) != negated(question) else "yes"
