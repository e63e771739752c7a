"""The stance classifier: does a paper's evidence support a claim, contradict it, or not address it?

Two linear models over one row of readable features (`STANCE_FEATURES`), trained by `scisynth train stance`
(research/stance_training.py) on SciFact *train* and never on an evaluation split:

1. *evidence or not*: how strongly the paper's best sentences answer the claim (the evidence judge's
   probabilities, their similarity, the share of the claim's content words the rationale covers);
2. *supports or contradicts*, for evidence: negation and direction words of claim and rationale and whether
   they agree ("increases" against "reduced", "no significant difference" against a claimed effect).

Measured, and left out: sentence-embedding products as stage-2 features (cross-validated macro-F1 0.43 against
0.63 without them: 564 training pairs are too few for 768 more weights) and a one-stage three-way model
(macro-F1 0.50 against the two stages' 0.56); docs/evals.md has the figures, held out and cross-validated. The
weights with their manifest (data hashes, seed, folds and cross-validated figures beside the majority and
claim-only baselines) are `agent/stance.json`, read without scikit-learn.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np

from agent.evidence_judge import EvidenceJudge, QuestionContext, passage_features, stems
from agent.sentence_types import own_findings

WEIGHTS = Path(__file__).with_name("stance.json")
Stance = Literal["supports", "contradicts", "insufficient"]

_NEGATION = re.compile(r"\b(?:no|not|never|neither|nor|without|fails?|failed|lacks?|lacked|unable|cannot|none|"
                       r"absence|absent|unaffected|insignificant|nonsignificant|non-significant)\b|n't\b", re.I)
_UP = re.compile(r"\b(?:increas|higher|elevat|enhanc|promot|induc|improv|rais|greater|more\b|activat|upregulat|"
                 r"stimulat|accelerat|gain|exacerbat|augment)", re.I)
_DOWN = re.compile(r"\b(?:decreas|lower|reduc|inhibit|suppress|impair|diminish|less\b|fewer|attenuat|downregulat|"
                   r"declin|loss\b|block|prevent|abolish|delay)", re.I)
_NULL = re.compile(r"\b(?:no (?:significant |statistically significant )?(?:difference|association|effect|change|"
                   r"correlation|relationship|benefit|increase|decrease|evidence)|not (?:significantly |"
                   r"statistically )?(?:associated|different|correlated|affect\w*|chang\w*|alter\w*|related)|"
                   r"did not|does not|was not|were not)\b", re.I)

STANCE_FEATURES = (
    "best_evidence", "top2_evidence", "best_cosine", "top2_cosine", "rationale_evidence", "rationale_cosine",
    "claim_words_covered", "claim_negated", "rationale_negated", "negation_disagrees", "claim_negations",
    "rationale_negations", "claim_direction", "rationale_direction", "direction_product", "directions_oppose",
    "claim_null_results", "rationale_null_results", "null_only_in_rationale", "null_only_in_claim")


_WORD = re.compile(r"[\w'-]+")
NEGATION_SCOPE = 3  # words after a negation that it reverses ("did not significantly reduce")


def _cues(text: str) -> tuple[int, float, int]:
    """Negations, the direction the text asserts (+1 up, -1 down, 0 none or balanced) with each direction word
    reversed when a negation stands at most NEGATION_SCOPE words before it ("did not reduce" is not "reduced"),
    and null-result phrases."""
    words = _WORD.findall(text.replace("\u2019", "'").replace("\u2018", "'"))  # "didn’t" is "didn't"
    negated_at = [i for i, word in enumerate(words) if _NEGATION.fullmatch(word) or word.lower().endswith("n't")]
    direction = 0
    for i, word in enumerate(words):
        sign = 1 if _UP.match(word) else -1 if _DOWN.match(word) else 0
        if sign and any(0 < i - at <= NEGATION_SCOPE for at in negated_at):
            sign = -sign
        direction += sign
    return len(negated_at), float(np.sign(direction)), len(_NULL.findall(text))


def stance_features(claim: str, sentences: list[str], evidence: np.ndarray, cosines: np.ndarray,
                    rationale: list[int]) -> np.ndarray:
    """The feature row of one paper for one claim: its sentences with the judge's evidence probabilities and
    their similarities to the claim, and the rationale (indices of the sentences the stance rests on)."""
    quoted = " ".join(sentences[i] for i in rationale)
    claim_cues = _cues(claim)
    # each quoted sentence read on its own (two negated sentences do not make an affirmation), then averaged
    per_sentence = np.array([_cues(sentences[i]) for i in rationale], dtype=np.float32).reshape(-1, 3)
    quoted_negations, quoted_direction, quoted_nulls = per_sentence.mean(axis=0)
    quoted_negated = float((per_sentence[:, 0] % 2).mean())
    claim_stems = stems(claim)
    top_evidence, top_cosine = np.sort(evidence)[::-1], np.sort(cosines)[::-1]
    claim_negated, claim_direction, claim_nulls = claim_cues[0] % 2, claim_cues[1], claim_cues[2]
    row = np.array([
        top_evidence[0], top_evidence[:2].mean(), top_cosine[0], top_cosine[:2].mean(),
        evidence[rationale].mean(), cosines[rationale].mean(),
        len(claim_stems & stems(quoted)) / max(1, len(claim_stems)),
        claim_negated, quoted_negated, abs(claim_negated - quoted_negated), min(claim_cues[0], 3),
        min(quoted_negations, 3), claim_direction, quoted_direction, claim_direction * quoted_direction,
        float(claim_direction * quoted_direction < 0), min(claim_nulls, 2), min(quoted_nulls, 2),
        float(quoted_nulls > 0 and claim_nulls == 0), float(claim_nulls > 0 and quoted_nulls == 0)],
        dtype=np.float32)
    return np.nan_to_num(row, nan=0.0, posinf=1.0, neginf=0.0)  # a broken similarity must not read as certainty


def rate(judge: EvidenceJudge, claim: str, sentences: list[str], cosines: np.ndarray,
         passage_sizes: list[int] | None = None) -> np.ndarray:
    """The evidence judge's probability for each sentence of a paper: of one passage (an abstract), or of several
    in reading order, each rated as the passage it is (`passage_sizes`: how many sentences each has), as the judge
    was trained."""
    if not sentences:
        return np.zeros(0, dtype=np.float32)
    context = QuestionContext.among(claim, sentences, float(cosines.max()))
    bounds = np.cumsum([0, *(passage_sizes or [len(sentences)])])
    return np.concatenate([judge.probability(passage_features(context, sentences[a:b], cosines[a:b]))
                           for a, b in pairwise(bounds) if b > a])


def rationale_rows(evidence: np.ndarray, eligible: list[bool] | None = None, most: int = 2) -> list[int]:
    """The sentences a stance rests on: the judge's `most` best-rated, in reading order; of the `eligible` ones
    (`is_own_finding`) when there are any. (Eligible ones rated under 0.4 of the best, as an answer's quotes must
    be, were also tried: cross-validated stage-2 macro-F1 on SciFact train fell from 0.648 to 0.641.)"""
    order = [int(i) for i in np.argsort(-evidence, kind="stable")]
    if eligible is not None:
        order = [i for i in order if eligible[i]] or order
    return sorted(order[:most])


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression over standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probability(self, features: np.ndarray) -> float:
        logit = float(((features - self.mean) / self.scale) @ self.coef + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict, name: str) -> LinearModel:
        try:
            arrays = [np.array(data[key], dtype=np.float32) for key in ("mean", "scale", "coef")]
            intercept = float(data["intercept"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"the stance model's {name} weights are incomplete ({error})") from error
        if any(a.shape != (len(STANCE_FEATURES),) or not np.all(np.isfinite(a)) for a in arrays) or np.any(
                arrays[1] <= 0) or not math.isfinite(intercept):
            raise ValueError(f"the stance model's {name} weights are not {len(STANCE_FEATURES)} finite numbers each")
        return cls(*arrays, intercept)


@dataclass(frozen=True)
class StanceJudgement:
    stance: Stance
    confidence: float  # the probability of the stance given
    evidence: float  # P(the paper bears on the claim)


@dataclass(frozen=True)
class StanceClassifier:
    """Stage 1 (`evidence`) says whether a paper bears on the claim, at or above `evidence_threshold`; stage 2
    (`contradicts`) gives P(contradicts | evidence), a contradiction at or above `contradicts_threshold` (both
    chosen by cross-validation in training: F1 of evidence, accuracy of the stance)."""

    evidence: LinearModel
    contradicts: LinearModel
    evidence_threshold: float
    contradicts_threshold: float
    manifest: dict
    table_threshold: float | None = None  # an evidence table's cell is reported at or above it (stage 1)

    def judge(self, features: np.ndarray, direction: np.ndarray | None = None) -> StanceJudgement:
        """Stage 1 reads `features`; stage 2 reads `direction` when given (the same sentences' features, or those
        of the sentences a stance may rest on)."""
        bears = self.evidence.probability(features)
        if bears < self.evidence_threshold:
            return StanceJudgement("insufficient", round(1.0 - bears, 3), round(bears, 3))
        against = self.contradicts.probability(features if direction is None else direction)
        if against >= self.contradicts_threshold:
            return StanceJudgement("contradicts", round(bears * against, 3), round(bears, 3))
        return StanceJudgement("supports", round(bears * (1.0 - against), 3), round(bears, 3))

    def classify(self, judge: EvidenceJudge, claim: str, sentences: list[str], cosines: np.ndarray,
                 rationale: list[int] | None = None, passage_sizes: list[int] | None = None,
                 sections: list[str] | None = None) -> tuple[StanceJudgement, list[int]]:
        """The stance of one paper's sentences (with their similarities to the claim; `passage_sizes` as `rate`
        takes it; `sections`: each sentence's section, when known) and the rationale it rests on: `rationale` when
        given (gold sentences in an eval), else the judge's two best of those it may rest on. Whether the paper
        bears on the claim is read from the judge's two best sentences whatever they are (an aim or a background
        shows what a paper is about); what it says, from those it may rest on (its findings: `is_own_finding`)."""
        evidence = rate(judge, claim, sentences, cosines, passage_sizes)
        if rationale:
            return self.judge(stance_features(claim, sentences, evidence, cosines, rationale)), rationale
        eligible = own_findings(sentences, sections, passage_sizes)
        best, rows = rationale_rows(evidence), rationale_rows(evidence, eligible)
        bears = stance_features(claim, sentences, evidence, cosines, best)
        says = bears if rows == best else stance_features(claim, sentences, evidence, cosines, rows)
        return self.judge(bears, says), rows

    def to_json(self) -> str:
        return json.dumps({"features": list(STANCE_FEATURES), "evidence": self.evidence.to_dict(),
                           "contradicts": self.contradicts.to_dict(), "evidence_threshold": self.evidence_threshold,
                           "contradicts_threshold": self.contradicts_threshold,
                           "table_threshold": self.table_threshold, "manifest": self.manifest}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> StanceClassifier:
        """The classifier a JSON text holds; ValueError naming what is wrong with it."""
        data = json.loads(text)
        if not isinstance(data, dict) or tuple(data.get("features") or ()) != STANCE_FEATURES:
            raise ValueError("the stance model was trained on other features: run 'scisynth train stance'")
        thresholds = [data.get(name) for name in ("evidence_threshold", "contradicts_threshold")]
        if not all(isinstance(t, int | float) and 0 < t < 1 for t in thresholds):
            raise ValueError("the stance model's evidence_threshold and contradicts_threshold must be numbers "
                             "between 0 and 1")
        table = data.get("table_threshold")
        if table is not None and not (isinstance(table, int | float) and 0 < table < 1):
            raise ValueError("the stance model's table_threshold must be a number between 0 and 1")
        return cls(LinearModel.from_dict(data.get("evidence") or {}, "evidence"),
                   LinearModel.from_dict(data.get("contradicts") or {}, "contradicts"), *map(float, thresholds),
                   data.get("manifest") or {}, None if table is None else float(table))


@cache
def shipped_stance() -> StanceClassifier:
    """The classifier `scisynth train stance` wrote and the code ships."""
    return StanceClassifier.from_json(WEIGHTS.read_text())


def load_stance(path: str) -> StanceClassifier:
    """The classifier in `path` (SCISYNTH_STANCE_MODEL), or the shipped one when it is empty."""
    if not path:
        return shipped_stance()
    where = Path(path).expanduser().resolve()
    try:
        return StanceClassifier.from_json(where.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"SCISYNTH_STANCE_MODEL={str(where)!r} is not a model 'scisynth train stance' wrote "
                         f"({error}); unset it to use the shipped one") from error
