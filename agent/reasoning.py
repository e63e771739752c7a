"""The structured steps of a turn (plan the search, ask for more, draft hypotheses), by a chat model
with JSON output, or by rules and templates when there is no model (the extractive provider).

A chat model's step that fails (no reply, or not valid JSON of the right shape) does not end the turn: the
node falls back to the rule-based step, and the trace and the turn's `fallbacks` say so.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.evidence import SentenceScorer
from agent.keywords import content_words, looks_like_follow_up
from agent.llm.chat_composer import format_evidence
from agent.llm.extractive import is_prose
from agent.llm.structured import ModelStepError, ask_json
from agent.state import Intent, Turn
from prompts import render
from retrieval.search import Passage

log = logging.getLogger(__name__)
_FIND_PAPERS = re.compile(r"\b(find|list|show|recent|new|latest)\b.*\b(papers?|work|articles?|preprints?)\b|"
                          r"\bpapers? (on|about)\b", re.IGNORECASE)
_CHIT_CHAT = re.compile(r"^\s*(hi|hello|hey|thanks|thank you|good (morning|evening))\b[\s!.]*$", re.IGNORECASE)
_HYPOTHESIZE = re.compile(r"\bhypothes[ie]s|\bpropose\b|\bwhat should (we|i) test\b", re.IGNORECASE)


class Plan(BaseModel):
    intent: Intent
    resolved_question: str = Field(min_length=1)
    queries: list[str] = Field(min_length=1, max_length=3)


class HypothesisDraft(BaseModel):
    statement: str = Field(min_length=10)
    rationale: str
    evidence: list[int] = Field(min_length=1)
    prediction: str
    experiment: str
    feasibility: float | None = Field(default=None, ge=0, le=1)
    testability: float | None = Field(default=None, ge=0, le=1)
    # Sentences quoted from the evidence as the premise (templates): not prior work stating the hypothesis.
    premises: list[str] = Field(default_factory=list, exclude=True)


class HypothesisDrafts(BaseModel):
    hypotheses: list[HypothesisDraft]


class Reasoner(Protocol):
    name: str

    def plan(self, question: str, history: list[Turn]) -> Plan: ...

    def more_queries(self, question: str, evidence: list[Passage], tried: list[str]) -> list[str]: ...

    def hypotheses(self, topic: str, evidence: list[Passage], n: int) -> list[HypothesisDraft]: ...


def _phrase(text: str, exclude: set[str], words: int = 4) -> str:
    """The first few content words of a text: a crude noun phrase for templates."""
    picked = [w for w in content_words(text) if w.lower() not in exclude][:words]
    return " ".join(picked) or text[:40]


def _words(text: str) -> set[str]:
    return {w.lower() for w in content_words(text)}


def grounded_plan(plan: Plan, question: str, history: list[Turn]) -> Plan:
    """A model's plan, kept only where it stays on the researcher's words: a rewritten question or a query
    that shares no content word with the question or the conversation (a weak model echoing the prompt,
    or inventing a topic) is refused, and the question itself is always searched too."""
    context = _words(question) | {w for t in history[-3:] for w in _words(f"{t['question']} {t['answer'][:300]}")}
    if not _words(plan.resolved_question) & context:
        raise ModelStepError("the model's plan rewrote the question into something unrelated")
    queries = [q for q in plan.queries if _words(q) & context][:2]
    own = question if plan.intent != "follow_up" else plan.resolved_question
    return plan.model_copy(update={"queries": list(dict.fromkeys([*queries, own]))})


class RuleReasoner:
    """No model: intent by patterns, queries from content words, hypotheses from templates over evidence."""

    name = "rules"

    def __init__(self, scorer: SentenceScorer) -> None:
        self.scorer = scorer

    def plan(self, question: str, history: list[Turn]) -> Plan:
        resolved = question
        if _CHIT_CHAT.match(question):
            intent: Intent = "chit_chat"
        elif _HYPOTHESIZE.search(question):
            intent = "hypothesize"
        elif history and looks_like_follow_up(question):
            intent, resolved = "follow_up", f"{history[-1]['question']} {question}"
        elif _FIND_PAPERS.search(question):
            intent = "find_papers"
        else:
            intent = "question"
        # A keyword query only when it narrows a long question: with all of the question's content words it
        # is the same BM25 search again, and its vector a paraphrase of the question's.
        words = content_words(resolved)
        queries = [resolved] + ([" ".join(words[:8])] if len(words) > 8 else [])
        return Plan(intent=intent, resolved_question=resolved, queries=[q for q in queries if q.strip()] or [question])

    def _claim(self, topic: str, passage: Passage) -> str:
        """The passage's readable sentence closest to the topic: what the hypothesis builds on."""
        best = self.scorer.best(topic, passage, keep=is_prose)
        return best.text if best is not None else passage.text[:300]

    def more_queries(self, question: str, evidence: list[Passage], tried: list[str]) -> list[str]:
        words = content_words(question)
        candidates = [" ".join(words[:3] + content_words(p.title)[:3]) for p in evidence[:3]]
        candidates.append(" ".join(words[len(words) // 2:][:6]))
        return [q for q in dict.fromkeys(candidates) if q.strip() and q not in tried][:2]

    def hypotheses(self, topic: str, evidence: list[Passage], n: int) -> list[HypothesisDraft]:
        """Pairs of evidence from different papers: what one reports, carried to the other's setting."""
        pairs = [(a, b) for a in range(len(evidence)) for b in range(len(evidence))
                 if a != b and evidence[a].paper_id != evidence[b].paper_id] or [
                 (a, a) for a in range(len(evidence))]
        drafts: list[HypothesisDraft] = []
        used_claims: set[str] = set()
        for a, b in pairs:
            first, second = evidence[a], evidence[b]
            claim = self._claim(topic, first)
            if len(drafts) == n or claim in used_claims:
                continue
            used_claims.add(claim)
            core = claim.rstrip(". ")
            core = core[0].lower() + core[1:] if len(core.split()) <= 30 else _phrase(core, set(), 8)
            drafts.append(HypothesisDraft(
                statement=f"The finding of [{a + 1}] that {core} should also hold in the setting of [{b + 1}] "
                          f"({second.title}).",
                rationale=f"[{a + 1}] ({first.title}) reports: \"{claim}\" [{b + 1}] ({second.title}) studies a "
                          "related setting where this has not been shown.",
                evidence=sorted({a + 1, b + 1}),
                prediction=f"Measured in the setting of [{b + 1}], the effect of [{a + 1}] appears with the same "
                           "sign; if the hypothesis is wrong, it is absent or reversed.",
                experiment=f"Repeat the measurement of [{a + 1}] under the conditions of [{b + 1}], against a "
                           "control without them, and compare effect sizes with a pre-registered threshold.",
                premises=[claim],
            ))
        return drafts


class ChatReasoner:
    """A chat model fills each step as JSON. A step that fails raises ModelStepError (see
    agent/llm/structured.py); the node that asked falls back to the rules and records why."""

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model
        self.name = f"llm:{model._llm_type}"

    def plan(self, question: str, history: list[Turn]) -> Plan:
        previous = "\n".join(f"Q: {t['question']}\nA: {t['answer'][:300]}" for t in history[-3:]) or "(none)"
        plan = ask_json(self.model, [SystemMessage(render("plan_system")),
                                     HumanMessage(render("plan", question=question, history=previous))], Plan)
        return grounded_plan(plan, question, history)

    def more_queries(self, question: str, evidence: list[Passage], tried: list[str]) -> list[str]:
        plan = ask_json(self.model, [SystemMessage(render("plan_system")), HumanMessage(render(
            "reflect", question=question, tried="\n".join(tried), evidence=format_evidence(evidence[:5], 300)))],
            Plan)
        queries = [q for q in plan.queries if q not in tried]
        if not queries:
            raise ModelStepError("the model proposed no new queries")
        return queries

    def hypotheses(self, topic: str, evidence: list[Passage], n: int) -> list[HypothesisDraft]:
        drafts = ask_json(self.model, [SystemMessage(render("hypotheses_system")), HumanMessage(render(
            "hypotheses", topic=topic, n=str(n), evidence=format_evidence(evidence)))], HypothesisDrafts)
        valid = [d for d in drafts.hypotheses if all(1 <= i <= len(evidence) for i in d.evidence)]
        if not valid:
            raise ModelStepError("the model's hypotheses cite no passage that exists")
        return valid[:n]
