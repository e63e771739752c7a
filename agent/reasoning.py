"""The structured steps of a turn (plan the search, ask for more, draft hypotheses), by a chat model
with JSON output, or by rules and templates when there is no model (the extractive provider).

A chat model's step that fails (no reply, or not valid JSON of the right shape) does not end the turn: the
node falls back to the rule-based step, and the trace and the turn's `fallbacks` say so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.evidence import Sentence, SentenceScorer
from agent.gaps import leaves_open
from agent.keywords import content_words, looks_like_follow_up, stopwords
from agent.llm.chat_composer import format_evidence
from agent.llm.structured import ModelStepError, ask_json
from agent.prose import is_body_prose, is_finding
from agent.sentence_types import is_own_finding, sentence_type
from agent.state import Intent, Turn
from prompts import render
from retrieval.search import Passage
from retrieval.sentences import split_sentences
from store.catalog import MIN_TITLE_KEY
from tools.documents import title_key
from tools.sections import has_run_in_parts, in_part, paragraph_sizes, run_in_parts

log = logging.getLogger(__name__)
_OWN_WORK = re.compile(r"\b(?:we|our|here)\b", re.IGNORECASE)
_FIND_PAPERS = re.compile(r"\b(find|list|show|recent|new|latest)\b.*\b(papers?|work|articles?|preprints?)\b|"
                          r"\bpapers? (on|about)\b", re.IGNORECASE)
_CHIT_CHAT = re.compile(r"^\s*(hi|hello|hey|thanks|thank you|good (morning|evening))\b[\s!.]*$", re.IGNORECASE)
_HYPOTHESIZE = re.compile(r"\bhypothes[ie]s|\bpropose\b|\bwhat should (we|i) test\b", re.IGNORECASE)


class Plan(BaseModel):
    intent: Intent
    resolved_question: str = Field(min_length=1)
    queries: list[str] = Field(min_length=1, max_length=3)
    # Searched by BM25 alone: a long question's key words narrow the lexical match, and their vector would only
    # paraphrase the question's (set by the rules; a model's plan leaves it empty).
    lexical_queries: list[str] = Field(default_factory=list, max_length=2, exclude=True)


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


@dataclass(frozen=True)
class Leads:
    """What hypotheses build on, numbered as the turn's sources: each source's finding (its body-prose sentence
    closest to the topic) and the open questions the papers state (agent/gaps.py), as (n, kind, text)."""

    findings: list[tuple[int, str]] = field(default_factory=list)
    gaps: list[tuple[int, str, str]] = field(default_factory=list)

    def findings_text(self) -> str:
        return "\n".join(f"[{n}] {text}" for n, text in self.findings) or "(none)"

    def gaps_text(self) -> str:
        return "\n".join(f"[{n}] ({kind}) {text}" for n, kind, text in self.gaps) or "(none stated)"


class Reasoner(Protocol):
    name: str

    def plan(self, question: str, history: list[Turn]) -> Plan: ...

    def more_queries(self, question: str, evidence: list[Passage], tried: list[str]) -> list[str]: ...

    def hypotheses(self, topic: str, evidence: list[Passage], n: int, leads: Leads) -> list[HypothesisDraft]: ...


def _words(text: str) -> set[str]:
    return {w.lower() for w in content_words(text)}


# Words any two papers share (content_words has left out stop words): they say nothing about why a finding would
# carry over.
_VAGUE = {"research", "results", "result", "data", "analysis", "approach", "method", "methods", "model", "models",
          "based", "different", "important", "information", "present", "previous"}


def _shared_terms(first: str, second: str, most: int = 4) -> list[str]:
    """Content words two sentences share (longer than three letters, not vague): what connects a finding to a
    setting."""
    theirs = _words(second)
    return [w for w in dict.fromkeys(w.lower() for w in content_words(first))
            if w in theirs and len(w) > 3 and w not in _VAGUE][:most]


def _premise(passage: Passage, sentence: str) -> bool:
    """A finding to build on: body prose that reports something, the paper's own (not its aim, a question or
    earlier work it cites, nor a structured abstract's run-in Background or Methods), and not what it leaves open.
    (Its section is not asked: an introduction states findings too, and refusing them left a three-paper library
    with no pairing at all.)"""
    part = _run_in_parts(passage.text).get(sentence) if has_run_in_parts(passage.section) else None
    return (is_finding(passage, sentence) and is_own_finding(sentence, in_part("", part))
            and not leaves_open(sentence, passage.section))


@lru_cache(maxsize=1024)
def _run_in_parts(text: str) -> dict[str, str]:
    """A passage's sentences that lie in a structured abstract's run-in part, with that part (`run_in_parts`, by
    paragraph)."""
    spans = split_sentences(text)
    said = [text[start:end] for start, end in spans]
    return {sentence: part for sentence, part in zip(said, run_in_parts(said, paragraph_sizes(text, spans)),
                                                     strict=True) if part}


def same_paper(first: Passage, second: Passage) -> bool:
    """One paper, also when it was added twice under two ids (a PDF and its JATS, a preprint and the article):
    same id, or titles that name a paper (MIN_TITLE_KEY) where one is the other with a subtitle added."""
    if first.paper_id == second.paper_id:
        return True
    a, b = sorted((title_key(first.title), title_key(second.title)), key=len)
    return len(a) >= MIN_TITLE_KEY and b.startswith(a)


def _sentence_case(sentence: str) -> str:
    """A sentence to go after "that": its first letter lowered unless it starts a name ("Parkinson", "SPECTER")."""
    core = sentence.rstrip(". ")
    first = core.split(maxsplit=1)[0] if core else ""
    return core[0].lower() + core[1:] if first.lower() in stopwords() else core


def grounded_plan(plan: Plan, question: str, history: list[Turn]) -> Plan:
    """A model's plan, kept only where it stays on the researcher's words: a rewritten question or a query
    that shares no content word with the question or the conversation (a weak model echoing the prompt,
    or inventing a topic) is refused, and the question itself is always searched too."""
    context = _words(question) | {w for t in history[-3:] for w in _words(f"{t['question']} {t['answer'][:300]}")}
    if not _words(plan.resolved_question) & context:
        raise ModelStepError("the model's plan rewrote the question into something unrelated")
    queries = [q for q in plan.queries if _words(q) & context][:2]
    own = question if plan.intent != "follow_up" else plan.resolved_question
    return plan.model_copy(update={"queries": list(dict.fromkeys([*queries, own])), "lexical_queries": []})


def _best_finding(sentences: list[Sentence]) -> Sentence:
    """The judge's best, a sentence saying how something was done ("Cells were then lysed...") only when the
    source has nothing else: a premise is a finding."""
    return max(sentences, key=lambda s: (not sentence_type(s.text).method, s.evidence))


class RuleReasoner:
    """No model: intent by patterns, queries from content words, hypotheses from templates over evidence."""

    name = "rules"

    def __init__(self, scorer: SentenceScorer, paper_text: Callable[[str], str] | None = None,
                 same_statement: float = 0.9, close: float = 0.5) -> None:
        self.scorer = scorer
        self.paper_text = paper_text  # a paper's whole text, to tell a second copy of one paper
        self.same_statement = same_statement  # a setting this close to the finding states it already
        self.close = close  # sentences this close need only one shared term to connect

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
        # is the same BM25 search again. BM25 alone: its vector would be a paraphrase of the question's. A
        # follow-up's own words come first: what it adds ("amyloid plaques") is what the search must not drop.
        words = content_words(resolved)
        if intent == "follow_up":  # its own words first, each word once whatever its case
            first: dict[str, str] = {}
            for word in content_words(question) + words:
                first.setdefault(word.lower(), word)
            words = list(first.values())
        return Plan(intent=intent, resolved_question=resolved, queries=[resolved if resolved.strip() else question],
                    lexical_queries=[" ".join(words[:8])] if len(words) > 8 else [])

    def more_queries(self, question: str, evidence: list[Passage], tried: list[str]) -> list[str]:
        words = content_words(question)
        candidates = [" ".join(words[:3] + content_words(p.title)[:3]) for p in evidence[:3]]
        candidates.append(" ".join(words[len(words) // 2:][:6]))
        return [q for q in dict.fromkeys(candidates) if q.strip() and q not in tried][:2]

    def findings(self, topic: str, evidence: list[Passage]) -> list[tuple[int, str]]:
        """Each source's body-prose finding that the evidence judge rates best for the topic, numbered; sources
        without one are left out."""
        judged = self.scorer.sentences(topic, evidence, keep=_premise, judged_from=-1.0)
        return [(i, _best_finding(found).text) for i, found in enumerate(judged, start=1) if found]

    def hypotheses(self, topic: str, evidence: list[Passage], n: int, leads: Leads) -> list[HypothesisDraft]:
        """A finding of one paper carried to the setting of another that shares its terms; never two passages
        of one paper, and none at all when only one paper is relevant. `leads` are for a model."""
        prose = self.scorer.sentences(topic, evidence, keep=is_body_prose, judged_from=-1.0)
        findings = {i: _best_finding(found) for i, sentences in enumerate(prose)
                    if (found := [s for s in sentences if _premise(s.passage, s.text)])}
        drafts: list[HypothesisDraft] = []
        used: list[Sentence] = []
        texts: dict[str, str] = {}  # paper id -> its text, read once per call
        # a finding of one paper, carried to the setting of any other (the setting need not be a finding: what a
        # paper studies is often said in its background; but not what it cites others for, "... (Yao et al, 2019)",
        # unless it says what the paper itself did: "as in our previous work (Smith, 2020), we studied ...")
        own = [[s for s in sentences if not sentence_type(s.text).prior_work or _OWN_WORK.search(s.text)]
               for sentences in prose]
        settings = [i for i, sentences in enumerate(own) if sentences]
        for a, b in ((a, b) for a in findings for b in settings if b != a):
            claim, first, second = findings[a], evidence[a], evidence[b]
            if len(drafts) == n:
                break
            if same_paper(first, second) or any(float(claim.vector @ u.vector) > self.same_statement for u in used):
                continue
            setting = max(own[b], key=lambda s: float(s.vector @ claim.vector))
            if not (shared := self._connection(claim, setting, second, texts)):
                continue
            used.append(claim)
            drafts.append(HypothesisDraft(
                statement=f"The finding of [{a + 1}] that {_sentence_case(claim.text)} should also hold in the "
                          f"setting of [{b + 1}] ({second.title}).",
                rationale=f"[{a + 1}] ({first.title}) reports: \"{claim.text}\" [{b + 1}], a different study "
                          f"({second.title}), reports: \"{setting.text}\" Both concern {', '.join(shared)}, but "
                          f"the finding of [{a + 1}] is reported only in its own setting.",
                evidence=[a + 1, b + 1],
                prediction=f"Measured in the setting of [{b + 1}], the effect of [{a + 1}] appears with the same "
                           "sign; if the hypothesis is wrong, it is absent or reversed.",
                experiment=f"Repeat the measurement of [{a + 1}] under the conditions of [{b + 1}], against a "
                           "control without them, and compare effect sizes with a pre-registered threshold.",
                premises=[claim.text, setting.text],
            ))
        return drafts

    def _connection(self, claim: Sentence, setting: Sentence, other: Passage, texts: dict[str, str]) -> list[str]:
        """The terms that connect a finding to another paper's setting: two shared terms, or one with sentences
        that are close; none when the other paper states the finding already (or is the same paper: its text
        holds the finding's sentence)."""
        closeness = float(setting.vector @ claim.vector)
        if self.paper_text and other.paper_id not in texts:
            texts[other.paper_id] = self.paper_text(other.paper_id)
        if closeness > self.same_statement or claim.text in texts.get(other.paper_id, ""):
            return []
        shared = _shared_terms(claim.text, setting.text)
        return shared if len(shared) >= 2 or (shared and closeness >= self.close) else []


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

    def hypotheses(self, topic: str, evidence: list[Passage], n: int, leads: Leads) -> list[HypothesisDraft]:
        drafts = ask_json(self.model, [SystemMessage(render("hypotheses_system")), HumanMessage(render(
            "hypotheses", topic=topic, n=str(n), evidence=format_evidence(evidence), findings=leads.findings_text(),
            gaps=leads.gaps_text()))], HypothesisDrafts)
        valid = [d for d in drafts.hypotheses if all(1 <= i <= len(evidence) for i in d.evidence)]
        if not valid:
            raise ModelStepError("the model's hypotheses cite no passage that exists")
        return valid[:n]
