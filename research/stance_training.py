"""Training the stance classifier (`scisynth train stance`): agent/stance.json.

Data, never an evaluation split (SciFact dev is the evaluation, its test split has no labels; PubMedQA's test split
is left out). For each SciFact train claim, its papers:
the abstracts the claim's evidence cites (SUPPORT or CONTRADICT, with the gold rationale sentences), the
abstracts it cites that are not evidence, and the three abstracts BM25 ranks highest that are not evidence (NOT
ENOUGH INFO: what retrieval brings beside the evidence). Each paper's sentences are rated by the evidence judge;
its two best-rated sentences are the rationale a stance rests on, as at inference.

Stage 1 (evidence or not) is fitted on every paper with the judge's rationale, and on PubMedQA PQA-L questions
**outside its test split** against their own abstract (evidence) and the three non-test abstracts BM25 ranks
highest (not evidence); stage 2 (contradicts or supports) on the evidence papers with their gold rationale, and on
the same PubMedQA questions answered yes or no, read as claims against the authors' conclusion (LONG_ANSWER): no is
a contradiction.

Each stage's C and threshold (F1 of evidence; accuracy of the stance), and the evidence tables' stage-1 threshold
(F0.5 of cells quoting a gold rationale sentence) are chosen by 5-fold cross-validation
grouped by SciFact claim, and the figures written to the manifest are read off the same folds (so slightly
optimistic: dev, never seen, is the held-out figure), beside three baselines:
the majority label, a claim-only model trained the same way (the claim's own negation and direction words: how
much a stance learns from how claims are worded rather than from the evidence), and a one-stage three-way model.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agent.evidence_judge import shipped_judge
from agent.sentence_types import own_findings
from agent.settings import Settings
from agent.stance import (
    STANCE_FEATURES,
    LinearModel,
    StanceClassifier,
    rate,
    rationale_rows,
    stance_features,
)
from evals.datasets import default_data_dir, ensure_pubmedqa, ensure_scifact
from evals.pubmedqa import dev_split
from evals.pubmedqa import load as load_pubmedqa
from research.judge_training import _bm25, _top
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder
from retrieval.sentences import sentences
from tools.documents import sha256_of_file, write_atomically

log = logging.getLogger(__name__)
C_GRID = (0.01, 0.1, 1.0)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.2, 0.81, 0.05))
TABLE_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.5, 0.96, 0.01))  # a table reports few cells: finer, higher
FOLDS = 5
SEED = 13
LABELS = ("SUPPORT", "CONTRADICT", "NEI")
CLAIM_ONLY = tuple(i for i, name in enumerate(STANCE_FEATURES)
                   if name.startswith("claim_") and name != "claim_words_covered")


@dataclass
class Paper:
    """One (claim, abstract) pair with its label and the feature rows of both rationales."""

    claim_id: int
    label: str
    judged: np.ndarray  # features with the judge's two best sentences as the rationale (what stage 1 reads)
    says: np.ndarray  # features with the two best a stance may rest on (what stage 2 reads: agent/stance.py)
    gold: np.ndarray  # features with the gold rationale (the judged row for NOT ENOUGH INFO)
    quotes_gold: bool = False  # the judge's best finding is a gold rationale sentence (what a table cell quotes)
    has_finding: bool = True  # some sentence may state a finding (`is_own_finding`): else a table does not quote it


def train_claims(scifact_dir: Path, max_claims: int | None = None) -> list[dict]:
    """SciFact's train claims, or a seeded sample of `max_claims` of them (a quick check)."""
    claims = [json.loads(line) for line in (scifact_dir / "claims_train.jsonl").open()]
    # Bandit B311 accepted: a seeded sample of training claims, not a secret.
    return random.Random(SEED).sample(claims, max_claims) if max_claims and max_claims < len(claims) else claims  # nosec B311


def scifact_papers(scifact_dir: Path, claims: list[dict], embedder: Embedder,
                   on_claim: Callable[[], None] | None = None) -> list[Paper]:
    corpus = {str(d["doc_id"]): d for d in map(json.loads, (scifact_dir / "corpus.jsonl").open())}
    ids = list(corpus)
    index = _bm25([corpus[d]["title"] + " " + " ".join(corpus[d]["abstract"]) for d in ids])
    papers = []
    for claim in claims:
        docs = {doc: (groups[0]["label"], sorted({i for g in groups for i in g["sentences"]}))
                for doc, groups in claim.get("evidence", {}).items()}
        for doc in map(str, claim.get("cited_doc_ids", [])):
            docs.setdefault(doc, ("NEI", []))
        docs |= {doc: ("NEI", []) for doc in _top(index, claim["claim"], ids, set(docs))}
        claim_vector = embedder.embed_query(claim["claim"])
        for doc, (label, gold) in docs.items():
            if doc not in corpus:
                continue
            sentences = corpus[doc]["abstract"]
            cosines = embedder.embed(sentences) @ claim_vector
            evidence = rate(shipped_judge(), claim["claim"], sentences, cosines)
            judged = stance_features(claim["claim"], sentences, evidence, cosines, rationale_rows(evidence))
            eligible = own_findings(sentences)
            rows = rationale_rows(evidence, eligible)
            says = stance_features(claim["claim"], sentences, evidence, cosines, rows)
            papers.append(Paper(claim["id"], label, judged, says, stance_features(
                claim["claim"], sentences, evidence, cosines, gold) if gold else judged,
                max(rows, key=lambda i: float(evidence[i])) in gold, any(eligible)))
        if on_claim:
            on_claim()
    return papers


def pubmedqa_pairs(pubmedqa_dir: Path, embedder: Embedder, most: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """PubMedQA PQA-L questions outside its test split answered yes or no (a seeded sample of `most` of them when
    given), as (question, the authors' conclusion): feature rows for stage 2 and whether each contradicts (no)."""
    records, test = load_pubmedqa(pubmedqa_dir)
    answered = sorted((pmid, answer) for pmid, answer in dev_split(records, test).items() if answer != "maybe")
    if most and most < len(answered):
        # Bandit B311 accepted: a seeded sample of training questions, not a secret.
        answered = sorted(random.Random(SEED).sample(answered, most))  # nosec B311
    rows, against = [], []
    for pmid, answer in answered:
        question, conclusion = records[pmid]["QUESTION"], sentences(records[pmid]["LONG_ANSWER"])
        cosines = embedder.embed(conclusion) @ embedder.embed_query(question)
        evidence = rate(shipped_judge(), question, conclusion, cosines)
        rows.append(stance_features(question, conclusion, evidence, cosines, list(range(len(conclusion)))))
        against.append(int(answer == "no"))
    return np.vstack(rows), np.array(against)


def pubmedqa_evidence(pubmedqa_dir: Path, embedder: Embedder, most: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """PubMedQA PQA-L questions outside its test split (a seeded sample of `most` when given), each read as a claim
    against its own abstract (evidence: the abstract answers it, whatever the answer) and the non-test abstracts
    BM25 ranks highest (not evidence): stage-1 feature rows and whether each is evidence. Without them stage 1
    knew SciFact's abstracts only, and its bar was set by how the judge rates them."""
    records, test = load_pubmedqa(pubmedqa_dir)
    train = sorted(dev_split(records, test))
    index = _bm25([" ".join(records[p]["CONTEXTS"]) for p in train])
    # Bandit B311 accepted: a seeded sample of training questions, not a secret.
    chosen = sorted(random.Random(SEED).sample(train, most)) if most and most < len(train) else train  # nosec B311
    judge, rows, evidence = shipped_judge(), [], []
    for pmid in chosen:
        question = records[pmid]["QUESTION"]
        vector = embedder.embed_query(question)
        for paper in [pmid, *_top(index, question, train, {pmid})]:
            parts = [sentences(context) for context in records[paper]["CONTEXTS"]]
            texts = [s for part in parts for s in part]
            cosines = embedder.embed(texts) @ vector
            rated = rate(judge, question, texts, cosines, [len(part) for part in parts])
            rows.append(stance_features(question, texts, rated, cosines, rationale_rows(rated)))
            evidence.append(int(paper == pmid))
    return np.vstack(rows), np.array(evidence)


def _fit(x: np.ndarray, y: np.ndarray, c: float, columns: tuple[int, ...] | None = None) -> LinearModel:
    """A balanced logistic regression on standardised features; `columns`: only those (others weigh 0)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    used = list(columns) if columns is not None else list(range(x.shape[1]))
    scaler = StandardScaler().fit(x[:, used])
    regression = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(scaler.transform(x[:, used]), y)
    mean, scale, coef = np.zeros(x.shape[1]), np.ones(x.shape[1]), np.zeros(x.shape[1])
    mean[used], scale[used], coef[used] = scaler.mean_, scaler.scale_, regression.coef_[0]
    return LinearModel(mean.astype(np.float32), scale.astype(np.float32), coef.astype(np.float32),
                       float(regression.intercept_[0]))


def _probabilities(model: LinearModel, x: np.ndarray) -> np.ndarray:
    return np.array([model.probability(row) for row in x])


def _scores(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(float(accuracy_score(y, predicted)), 4),
            "macro_f1": round(float(f1_score(y, predicted, average="macro")), 4)}


def table_threshold(chance: np.ndarray, evidence: np.ndarray, quotes_gold: np.ndarray
                    ) -> tuple[float, dict[str, float]]:
    """The stage-1 threshold at which an evidence table reports a cell (agent/evidence_tables.py: `chance` read
    from the judge's two best findings, 0 for a paper with none), chosen for F0.5 of right cells (reported, on an
    evidence paper, quoting a gold rationale sentence): a wrong quote in a table costs a reader more than a "not
    reported" they can check; with its precision, recall and the share of non-evidence papers left "not reported"."""
    def cells(bar: float) -> dict[str, float]:
        reported = chance >= bar
        right = reported & evidence & quotes_gold
        precision, recall = right.sum() / max(1, reported.sum()), right.sum() / max(1, evidence.sum())
        f_half = 1.25 * precision * recall / max(1e-9, 0.25 * precision + recall)
        return {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
                "not_reported_accuracy": round(float((~reported[~evidence]).mean()), 4),
                "f0.5": round(float(f_half), 4)}
    bar = max(TABLE_THRESHOLDS, key=lambda t: cells(t)["f0.5"])
    return bar, cells(bar)


def cross_validate(papers: list[Paper], extra: tuple[np.ndarray, np.ndarray],
                   extra_evidence: tuple[np.ndarray, np.ndarray]) -> dict:
    """Grouped folds over the SciFact claims (the PubMedQA rows, `extra` for stage 2 and `extra_evidence` for
    stage 1, join every fold's fit and are never scored): choose each stage's C and threshold, and score the two
    stages, their baselines and a one-stage three-way model on the held-out claims (fitted on SciFact alone: the
    PubMedQA rows carry no three-way label, so that comparison slightly favours the two stages)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    judged, gold = np.vstack([p.judged for p in papers]), np.vstack([p.gold for p in papers])
    says = np.vstack([p.says for p in papers])
    labels = np.array([LABELS.index(p.label) for p in papers])
    folds = list(GroupKFold(FOLDS).split(judged, labels, np.array([p.claim_id for p in papers])))
    is_evidence, against = (labels < 2).astype(int), (labels == 1).astype(int)
    evidence_rows = np.flatnonzero(labels < 2)

    def held_out(x: np.ndarray, y: np.ndarray, c: float, fit_rows: np.ndarray, columns: tuple[int, ...] | None = None,
                 joined: tuple[np.ndarray, np.ndarray] | None = None, read: np.ndarray | None = None) -> np.ndarray:
        """Each paper's probability from the model fitted on the other folds' `fit_rows` of `x` (and the `joined`
        rows), reading its row of `read` (default `x`: the shipped stage 2 is fitted on gold rationales and reads
        the judge's)."""
        out = np.zeros(len(y))
        for fit, held in folds:
            fit = np.intersect1d(fit, fit_rows)
            x_fit, y_fit = (np.vstack([x[fit], joined[0]]), np.concatenate([y[fit], joined[1]])) if joined else (
                x[fit], y[fit])
            out[held] = _probabilities(_fit(x_fit, y_fit, c, columns), (x if read is None else read)[held])
        return out

    everything = np.arange(len(labels))
    stage1 = {c: held_out(judged, is_evidence, c, everything, joined=extra_evidence) for c in C_GRID}
    best1, bar1 = max(((c, t) for c in C_GRID for t in THRESHOLDS),
                      key=lambda ct: f1_score(is_evidence, stage1[ct[0]] >= ct[1]))
    pairs = against[evidence_rows]
    stage2 = {c: held_out(gold, against, c, evidence_rows, joined=extra)[evidence_rows] for c in C_GRID}
    best2, bar2 = max(((c, t) for c in C_GRID for t in THRESHOLDS),
                      key=lambda ct: (pairs == (stage2[ct[0]] >= ct[1])).mean())
    claim_only = held_out(gold, against, best2, evidence_rows, CLAIM_ONLY, joined=extra)[evidence_rows]
    judged_stage2 = held_out(gold, against, best2, evidence_rows, joined=extra, read=says)  # as shipped
    one_stage = np.zeros(len(labels), dtype=int)
    for fit, held in folds:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=best1, max_iter=5000, class_weight="balanced"))
        one_stage[held] = model.fit(judged[fit], labels[fit]).predict(judged[held])
    two_stages = np.where(stage1[best1] >= bar1, (judged_stage2 >= bar2).astype(int), 2)
    table_chance = held_out(judged, is_evidence, best1, everything, joined=extra_evidence, read=says)
    table_chance[~np.array([p.has_finding for p in papers])] = 0.0
    table_bar, table_cells = table_threshold(table_chance, is_evidence.astype(bool),
                                             np.array([p.quotes_gold for p in papers]))
    return {
        "folds": FOLDS, "grouped_by": "SciFact claim", "stage1_c": best1, "evidence_threshold": bar1,
        "table_threshold": table_bar, "table_cells": table_cells,
        "stage2_c": best2, "contradicts_threshold": bar2,
        "stage1_evidence_f1": round(float(f1_score(is_evidence, stage1[best1] >= bar1)), 4),
        "stage2_supports_or_contradicts": {
            "classifier (gold rationale)": _scores(pairs, stage2[best2] >= bar2),
            "classifier (judged rationale)": _scores(pairs, judged_stage2[evidence_rows] >= bar2),
            "claim-only baseline": _scores(pairs, claim_only >= bar2),
            "majority baseline": _scores(pairs, np.full(len(pairs), np.bincount(pairs).argmax()))},
        "three_way": {"two stages": _scores(labels, two_stages), "one stage": _scores(labels, one_stage),
                      "majority (not enough info)": _scores(labels, np.full(len(labels), 2))}}


def train_stance(scifact_dir: Path, pubmedqa_dir: Path, embedder: Embedder, output: Path,
                 on_progress: Callable[[str, int, int], None] | None = None,
                 max_claims: int | None = None) -> StanceClassifier:
    """Build the papers and pairs, cross-validate, fit both stages on all of them and write `output`.
    `max_claims`: a seeded sample of that many SciFact claims and PubMedQA questions (a quick check; the shipped
    model uses all)."""
    claims = train_claims(scifact_dir, max_claims)
    total, done = len(claims), 0

    def advanced() -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress("reading claims", done, total)

    papers = scifact_papers(scifact_dir, claims, embedder, advanced)
    extra = pubmedqa_pairs(pubmedqa_dir, embedder, max_claims)
    extra_evidence = pubmedqa_evidence(pubmedqa_dir, embedder, max_claims)
    validation = cross_validate(papers, extra, extra_evidence)
    judged, gold = np.vstack([p.judged for p in papers]), np.vstack([p.gold for p in papers])
    labels = np.array([LABELS.index(p.label) for p in papers])
    evidence = labels < 2
    stage2_x = np.vstack([gold[evidence], extra[0]])
    stage2_y = np.concatenate([(labels[evidence] == 1).astype(int), extra[1]])
    files = [scifact_dir / "corpus.jsonl", scifact_dir / "claims_train.jsonl", pubmedqa_dir / "ori_pqal.json",
             pubmedqa_dir / "test_ground_truth.json"]
    manifest = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "embedder": embedder.name,
        "data": {"files": {f"{f.parent.name}/{f.name}": sha256_of_file(f) for f in files},
                 "scifact_train_papers": {label: int((labels == i).sum()) for i, label in enumerate(LABELS)},
                 "pubmedqa_non_test_pairs": {"yes": int((extra[1] == 0).sum()), "no": int(extra[1].sum())},
                 "pubmedqa_non_test_papers": {"evidence": int(extra_evidence[1].sum()),
                                              "not evidence": int((extra_evidence[1] == 0).sum())}},
        "model": "two logistic regressions on standardised features, balanced classes (scikit-learn)",
        "seed": SEED, "max_claims": max_claims, "cross_validation": validation,
        "claim_only": _fit(stage2_x, stage2_y, validation["stage2_c"], CLAIM_ONLY).to_dict()}
    classifier = StanceClassifier(
        _fit(np.vstack([judged, extra_evidence[0]]), np.concatenate([evidence.astype(int), extra_evidence[1]]),
             validation["stage1_c"]), _fit(stage2_x, stage2_y, validation["stage2_c"]),
        validation["evidence_threshold"], validation["contradicts_threshold"], manifest,
        validation["table_threshold"])
    write_atomically(output, classifier.to_json().encode() + b"\n")
    log.info("stance model written to %s", output)
    return classifier


def train_from_data(settings: Settings, output: Path, data_dir: Path | None = None,
                    on_progress: Callable[[str, int, int], None] | None = None,
                    max_claims: int | None = None) -> StanceClassifier:
    """`scisynth train stance`: the shared data (or a download), the configured embedder, its cache."""
    home = settings.storage.home_dir
    scifact = data_dir / "scifact" if data_dir else default_data_dir("scifact") or ensure_scifact(home)
    pubmedqa = data_dir / "pubmedqa" if data_dir else default_data_dir("pubmedqa") or ensure_pubmedqa(home)
    cache = settings.storage.cache_dir
    embedder = CachedEmbedder(load_embedder(settings.retrieval.embeddings, cache), cache / "embeddings.sqlite")
    return train_stance(scifact, pubmedqa, embedder, output, on_progress, max_claims)
