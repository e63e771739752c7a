"""The evidence judge: how likely a sentence is to answer a question (or be evidence for a claim), not merely to
resemble it.

Cosine similarity rewards a sentence that restates the question, such as a paper's own research question. The
judge is a logistic regression over features a reader can check: the similarity and how it stands against the
passage's and the evidence's best, how many of the question's content words the sentence covers (also weighted
by how rare each is among the candidates) and how much it adds beyond them, its type (agent/sentence_types.py:
question, instruction, aim, prior work, method, finding),
numbers and effect words, position and length. (The role of the sentence's section is not among them: the
training data are abstracts, whose section labels differ by dataset, so a weight for it measured the datasets,
not the role; research/judge_training.py says more.) It is trained by `scisynth train judge`
(research/judge_training.py) on SciFact train rationales and PubMedQA questions outside its test split, never on
an evaluation split; the weights and their manifest (data hashes, seed, cross-validated figures) are
`agent/evidence_judge.json`, a few kilobytes read without scikit-learn.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from agent.keywords import content_words
from agent.sentence_types import sentence_type
from retrieval.lexical import _STEMMER

WEIGHTS = Path(__file__).with_name("evidence_judge.json")
log = logging.getLogger(__name__)

_EFFECT = re.compile(r"\b(?:increas|decreas|reduc|improv|associat|significan|higher|lower|elevat|impair|enhanc|"
                     r"inhibit|induc|promot|correlat|requir|essential|predict|protect|risk|effect|outperform|"
                     r"better|worse)", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*%|\b\d+(?:\.\d+)?\b")

FEATURES = ("cosine", "gap_to_passage_best", "gap_to_evidence_best", "rank_in_passage", "question_words_covered",
            "rare_question_words_covered", "new_words", "is_question", "is_instruction", "is_aim", "is_prior_work",
            "is_method", "is_finding",
            "effect_words", "numbers", "relative_position", "is_first", "is_last", "log_words")


def stems(text: str) -> set[str]:
    """The stemmed content words of a text."""
    return {_STEMMER.stemWord(word.lower()) for word in content_words(text)}


@dataclass(frozen=True)
class QuestionContext:
    """What every candidate sentence is judged against: the question's stemmed content words, how rare each is
    among the candidates (a word few candidates share tells them apart; one all share does not), and the best
    similarity any candidate reached."""

    stems: frozenset[str]
    rarity: dict[str, float]
    evidence_best: float

    @classmethod
    def among(cls, question: str, candidates: list[str], evidence_best: float) -> QuestionContext:
        words = frozenset(stems(question))
        lowered = [text.lower() for text in candidates]
        rarity = {w: math.log((1 + len(lowered)) / (1 + sum(w in text for text in lowered))) + 1.0 for w in words}
        return cls(words, rarity, evidence_best)

    def coverage(self, words: set[str]) -> float:
        """The share of the question's rarity the sentence's words cover."""
        total = sum(self.rarity.values())
        return sum(self.rarity[w] for w in self.stems & words) / total if total else 0.0


def passage_features(question: QuestionContext, texts: list[str], cosines: np.ndarray,
                     rows: list[int] | None = None) -> np.ndarray:
    """Feature rows for the sentences `rows` (default: all) of one passage, whose sentences are `texts` in order
    with their cosine similarities to the question."""
    best = float(cosines.max()) if len(cosines) else 0.0
    order = np.argsort(-cosines, kind="stable")
    ranks = np.empty(len(cosines))
    ranks[order] = np.arange(len(cosines))
    last = max(1, len(texts) - 1)
    out = []
    for i in range(len(texts)) if rows is None else rows:
        text, cosine = texts[i], float(cosines[i])
        words = stems(text)
        kind = sentence_type(text)
        out.append([cosine, cosine - best, cosine - question.evidence_best, ranks[i] / last,
                    len(words & question.stems) / max(1, len(question.stems)), question.coverage(words),
                    len(words - question.stems) / max(1, len(words)),
                    float(kind.question), float(kind.instruction), float(kind.aim), float(kind.prior_work),
                    float(kind.method), float(kind.finding), min(3, len(_EFFECT.findall(text))) / 3,
                    min(3, len(_NUMBER.findall(text))) / 3, i / last, float(i == 0), float(i == len(texts) - 1),
                    math.log1p(len(text.split()))])
    return np.array(out, dtype=np.float32).reshape(len(out), len(FEATURES))


@dataclass(frozen=True)
class EvidenceJudge:
    """A linear model over standardised features; `probability` is its calibrated P(evidence)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    manifest: dict

    def probability(self, features: np.ndarray) -> np.ndarray:
        logits = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> str:
        return json.dumps({"features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                           "coef": self.coef.tolist(), "intercept": self.intercept, "manifest": self.manifest},
                          indent=1)

    @classmethod
    def from_json(cls, text: str) -> EvidenceJudge:
        """The judge a JSON text holds; ValueError naming what is wrong with it."""
        data = json.loads(text)
        if not isinstance(data, dict) or tuple(data.get("features") or ()) != FEATURES:
            raise ValueError("the judge's weights were trained on other features: run 'scisynth train judge'")
        try:
            arrays = [np.array(data[name], dtype=np.float32) for name in ("mean", "scale", "coef")]
            intercept = float(data["intercept"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"the judge's weights are incomplete ({error})") from error
        if any(a.shape != (len(FEATURES),) or not np.all(np.isfinite(a)) for a in arrays) or not math.isfinite(
                intercept) or np.any(arrays[1] <= 0):
            raise ValueError(f"the judge's weights are not {len(FEATURES)} finite numbers each, with scales above 0")
        return cls(*arrays, intercept, data.get("manifest") or {})


@cache
def shipped_judge() -> EvidenceJudge:
    """The judge trained by `scisynth train judge` and shipped with the code."""
    return EvidenceJudge.from_json(WEIGHTS.read_text())


def load_judge(path: str, embedder_name: str | None = None) -> EvidenceJudge:
    """The judge in `path` (SCISYNTH_EVIDENCE_JUDGE), or the shipped one when it is empty. A judge trained on
    another encoder's similarities still loads (the shipped one must work with a trained retriever), with a
    warning: its similarity features are read on another scale."""
    if not path:
        judge = shipped_judge()
    else:
        where = Path(path).expanduser().resolve()
        try:
            judge = EvidenceJudge.from_json(where.read_text())
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"SCISYNTH_EVIDENCE_JUDGE={str(where)!r} is not a judge 'scisynth train judge' wrote "
                             f"({error}); unset it to use the shipped judge") from error
    trained_with = judge.manifest.get("embedder")
    if embedder_name and trained_with and trained_with != embedder_name:
        log.warning("the evidence judge was trained on %s's similarities, this library uses %s: run 'scisynth "
                    "train judge' and set SCISYNTH_EVIDENCE_JUDGE to rank quotes as it was measured",
                    trained_with, embedder_name)
    return judge
