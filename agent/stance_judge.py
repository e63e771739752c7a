"""Judging a claim against one paper's sentences: by a configured model when there is one (JSON through the
structured-output helper), else by the stance classifier (agent/stance.py). An unusable model reply falls back to
the classifier and is counted. The claim check, the claim-verification eval and the yes/no eval all judge here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agent.evidence import SentenceScorer
from agent.llm.structured import ModelStepError, ask_json
from agent.stance import Stance, StanceClassifier, shipped_stance
from prompts import render

LABEL_OF: dict[Stance, str | None] = {"supports": "SUPPORT", "contradicts": "CONTRADICT", "insufficient": None}
STANCE_OF: dict[str, Stance] = {"SUPPORT": "supports", "CONTRADICT": "contradicts", "NOT_ENOUGH_INFO": "insufficient"}
ANSWER_OF: dict[Stance, str] = {"supports": "yes", "contradicts": "no", "insufficient": "maybe"}


class Verdict(BaseModel):
    label: str
    sentences: list[int] = []


class YesNo(BaseModel):
    answer: str


@dataclass(frozen=True)
class Assessment:
    """One paper's stance on a claim, the sentences it rests on (indices), and who judged it. `confidence` is the
    classifier's probability of the stance; None when a model judged (it gives none worth showing)."""

    stance: Stance
    confidence: float | None
    rationale: list[int]
    judged_by: str


class StanceJudge:
    def __init__(self, scorer: SentenceScorer, model: BaseChatModel | None = None,
                 classifier: StanceClassifier | None = None, max_model_calls: int | None = None) -> None:
        """`max_model_calls`: the model judges at most that many papers, the classifier the rest (a check of 30
        papers must not cost a reader key 30 model calls)."""
        self.scorer = scorer
        self.model = model
        self.classifier = classifier or shipped_stance()
        self.name = f"llm:{model._llm_type}" if model is not None else "stance-classifier"
        self.fallbacks = 0
        self.model_calls = 0
        self.max_model_calls = max_model_calls

    def _ask(self, prompt: str, shape: type[BaseModel]) -> BaseModel | None:
        self.model_calls += 1
        try:
            return ask_json(self.model, [HumanMessage(prompt)], shape)
        except ModelStepError:
            self.fallbacks += 1
            return None

    def _by_model(self, claim: str, sentences: list[str]) -> Assessment | None:
        numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences))
        verdict = self._ask(render("verify_claim", claim=claim, sentences=numbered), Verdict)
        if not isinstance(verdict, Verdict):
            return None  # counted in fallbacks by _ask
        chosen = sorted({i for i in verdict.sentences if 0 <= i < len(sentences)})
        if verdict.label not in STANCE_OF or (verdict.label != "NOT_ENOUGH_INFO" and not chosen):
            self.fallbacks += 1  # an unknown label, or a stance resting on no sentence: the classifier judges
            return None
        stance = STANCE_OF[verdict.label]
        return Assessment(stance, None, chosen if stance != "insufficient" else [], self.name)

    def assess(self, claim: str, sentences: list[str], cosines: np.ndarray | None = None,
               rationale: list[int] | None = None, passage_sizes: list[int] | None = None,
               sections: list[str] | None = None) -> Assessment:
        """The paper's stance. `cosines`: the sentences' similarities to the claim when known (stored vectors);
        `rationale`: rest the classifier's stance on these sentences (gold rationales in an eval);
        `passage_sizes`: the sentences come from passages of these sizes, in reading order; `sections`: each
        sentence's section (the classifier does not rest a stance on a Background or an Objectives)."""
        if not sentences:
            return Assessment("insufficient", 1.0, [], "stance-classifier")
        budget_left = self.max_model_calls is None or self.model_calls < self.max_model_calls
        if self.model is not None and rationale is None and budget_left:
            judged = self._by_model(claim, sentences)
            if judged is not None:
                return judged
        similarity = cosines if cosines is not None else self.scorer.similarities(claim, sentences)
        judgement, rows = self.classifier.classify(self.scorer.judge, claim, sentences, similarity, rationale,
                                                   passage_sizes, sections)
        return Assessment(judgement.stance, judgement.confidence, rows if judgement.stance != "insufficient" else [],
                          "stance-classifier")

    def verify(self, claim: str, sentences: list[str], rationale: list[int] | None = None
               ) -> tuple[str | None, list[int]]:
        """SciFact's labels: (SUPPORT | CONTRADICT | None for not enough info, rationale sentence indices)."""
        assessment = self.assess(claim, sentences, rationale=rationale)
        return LABEL_OF[assessment.stance], assessment.rationale

    def yes_no(self, question: str, sentences: list[str], sections: list[str] | None = None,
               passage_sizes: list[int] | None = None) -> str:
        """yes / no / maybe; without a model the classifier reads the question as a claim (supports: yes);
        `sections` as `assess` takes them, `passage_sizes` as `rate` does (each passage rated as the passage it is,
        as a claim check rates a paper's)."""
        if self.model is not None:
            reply = self._ask(render("yes_no", question=question, sentences="\n".join(sentences)), YesNo)
            if isinstance(reply, YesNo) and reply.answer in ("yes", "no", "maybe"):
                return reply.answer
        if not sentences:
            return "maybe"
        judgement, _ = self.classifier.classify(self.scorer.judge, question, sentences,
                                                self.scorer.similarities(question, sentences),
                                                passage_sizes=passage_sizes, sections=sections)
        return ANSWER_OF[judgement.stance]
