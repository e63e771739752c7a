"""Training the evidence judge (`scisynth train judge`): agent/evidence_judge.json.

Data, never from an evaluation split:
- SciFact **train** claims with evidence. Candidates: every sentence of the claim's evidence abstracts and of the
  three abstracts BM25 ranks highest that are not evidence (what retrieval brings beside them). Positive: the
  gold rationale sentences; negative: every other candidate.
- PubMedQA PQA-L questions **outside its test split**. Candidates: the sentences of the question's own abstract
  and of the three non-test abstracts BM25 ranks highest. Positive: the two own sentences whose content words
  best cover the authors' own answer (LONG_ANSWER, the conclusion the abstract leaves out); the other own
  sentences are left out (neither clearly evidence nor not); the other abstracts' sentences are negative.

The model is scikit-learn's LogisticRegression on standardised features (agent/evidence_judge.py), its C
chosen by 5-fold cross-validation grouped by question (the fold's P@1: is the best-scored candidate evidence?).
The JSON it writes holds the weights and a manifest: data files with their sha256, counts, seed, C, and the
cross-validated P@1/P@3 beside cosine similarity alone on the same folds.

Section roles (results, methods, ...) are left out of the features: only PubMedQA's abstracts carry section
labels here, so a weight for a role measured which dataset a sentence came from (a first fit gave Methods
sentences +0.8), not whether results answer more often than methods.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bm25s
import numpy as np

from agent.evidence_judge import FEATURES, EvidenceJudge, QuestionContext, passage_features, stems
from agent.settings import Settings
from evals.datasets import default_data_dir, ensure_pubmedqa, ensure_scifact
from evals.pubmedqa import dev_split
from evals.pubmedqa import load as load_pubmedqa
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder
from retrieval.sentences import sentences
from tools.documents import sha256_of_file, write_atomically

log = logging.getLogger(__name__)
DISTRACTORS = 3
PUBMEDQA_POSITIVES = 2
C_GRID = (0.01, 0.1, 1.0, 10.0)
FOLDS = 5
SEED = 13


@dataclass
class Candidates:
    """One question's candidate passages: (sentences, labels: 1, 0, or None = left out)."""

    question: str
    source: str
    passages: list[tuple[list[str], list[float | None]]]


def _bm25(texts: list[str]) -> bm25s.BM25:
    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    return index


def _top(index: bm25s.BM25, query: str, ids: list[str], skip: set[str], depth: int = 20) -> list[str]:
    found, _ = index.retrieve(bm25s.tokenize([query], stopwords="en", show_progress=False), k=depth,
                              show_progress=False)
    return [ids[i] for i in found[0] if ids[i] not in skip][:DISTRACTORS]


def scifact_candidates(scifact_dir: Path) -> list[Candidates]:
    corpus = {str(d["doc_id"]): d for d in map(json.loads, (scifact_dir / "corpus.jsonl").open())}
    ids = list(corpus)
    index = _bm25([corpus[d]["title"] + " " + " ".join(corpus[d]["abstract"]) for d in ids])
    out = []
    for claim in map(json.loads, (scifact_dir / "claims_train.jsonl").open()):
        evidence = {doc: {i for group in groups for i in group["sentences"]} for doc, groups in
                    claim.get("evidence", {}).items() if doc in corpus}
        if not evidence:
            continue
        docs = list(evidence) + _top(index, claim["claim"], ids, set(evidence))
        out.append(Candidates(claim["claim"], "scifact-train", [
            (corpus[d]["abstract"], [float(i in evidence.get(d, ())) for i in range(len(corpus[d]["abstract"]))])
            for d in docs]))
    return out


def pubmedqa_candidates(pubmedqa_dir: Path) -> list[Candidates]:
    records, test = load_pubmedqa(pubmedqa_dir)
    train = sorted(dev_split(records, test))
    index = _bm25([" ".join(records[p]["CONTEXTS"]) for p in train])
    out = []
    for pmid in train:
        record = records[pmid]
        own = [sentences(context) for context in record["CONTEXTS"]]
        answer = stems(record["LONG_ANSWER"])
        cover = sorted(((len(stems(s) & answer), k, j) for k, texts in enumerate(own)
                        for j, s in enumerate(texts)), reverse=True)
        positive = {(k, j) for _, k, j in cover[:PUBMEDQA_POSITIVES]}
        passages: list[tuple[list[str], list[float | None]]] = [
            (texts, [1.0 if (k, j) in positive else None for j in range(len(texts))]) for k, texts in enumerate(own)]
        for other in _top(index, record["QUESTION"], train, {pmid}):
            passages += [(texts, [0.0] * len(texts)) for texts in map(sentences, records[other]["CONTEXTS"])]
        out.append(Candidates(record["QUESTION"], "pubmedqa-train", passages))
    return out


def featurise(items: list[Candidates], embedder: Embedder, on_batch: Callable[[int], None] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows, labels and question numbers (for grouped folds) of every labelled candidate."""
    rows, labels, groups = [], [], []
    texts_of = list(dict.fromkeys(s for item in items for texts, _ in item.passages for s in texts))
    row_of = {text: i for i, text in enumerate(texts_of)}
    all_vectors = embedder.embed(texts_of)  # once, in large batches: candidates repeat across questions
    for number, item in enumerate(items):
        question_vector = embedder.embed_query(item.question)
        vectors = all_vectors[[row_of[s] for texts, _ in item.passages for s in texts]]
        cosines, at = [], 0
        for texts, _ in item.passages:
            cosines.append(vectors[at:at + len(texts)] @ question_vector)
            at += len(texts)
        question = QuestionContext.among(item.question, [s for texts, _ in item.passages for s in texts],
                                         max(float(c.max()) for c in cosines if len(c)))
        for (texts, marks), similarity in zip(item.passages, cosines, strict=True):
            kept = [i for i, mark in enumerate(marks) if mark is not None]
            if kept:
                rows.append(passage_features(question, texts, similarity, kept))
                labels += [marks[i] for i in kept]
                groups += [number] * len(kept)
        if on_batch:
            on_batch(1)
    return np.vstack(rows), np.array(labels), np.array(groups)


def precision_at(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int) -> float:
    """Mean over questions of the share of evidence among the k best-scored candidates."""
    hits = []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        hits.append(labels[rows[np.argsort(-scores[rows], kind="stable")[:k]]].mean())
    return float(np.mean(hits))


def _pipeline(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict:
    """P@1 and P@3 of each C (and of cosine alone) over grouped folds; the best C by P@1."""
    from sklearn.model_selection import GroupKFold

    folds = list(GroupKFold(FOLDS).split(x, y, groups))
    table = {}
    for c in C_GRID:
        scores = np.zeros(len(y))
        for fit, held in folds:
            scores[held] = _pipeline(c).fit(x[fit], y[fit]).decision_function(x[held])
        table[f"judge C={c}"] = {"p@1": round(precision_at(scores, y, groups, 1), 4),
                                 "p@3": round(precision_at(scores, y, groups, 3), 4)}
    table["cosine (baseline)"] = {"p@1": round(precision_at(x[:, 0], y, groups, 1), 4),
                                  "p@3": round(precision_at(x[:, 0], y, groups, 3), 4)}
    best = max(C_GRID, key=lambda c: table[f"judge C={c}"]["p@1"])
    return {"folds": FOLDS, "grouped_by": "question", "best_c": best, "table": table}


def train_judge(scifact_dir: Path, pubmedqa_dir: Path, embedder: Embedder, output: Path,
                on_progress: Callable[[str, int, int], None] | None = None,
                max_questions: int | None = None) -> EvidenceJudge:
    """Build the candidates, choose C, fit on all of them, write `output`; returns the judge. `max_questions`:
    a seeded sample of that many from each source (a quick check; the shipped judge uses all)."""
    sources = [scifact_candidates(scifact_dir), pubmedqa_candidates(pubmedqa_dir)]
    if max_questions is not None:
        # Bandit B311 accepted: a seeded sample of training questions, not a secret.
        sources = [random.Random(SEED).sample(items, min(max_questions, len(items))) for items in sources]  # nosec B311
    items = [item for items in sources for item in items]
    done = 0

    def advanced(step: int) -> None:
        nonlocal done
        done += step
        if on_progress:
            on_progress("featurising", done, len(items))

    x, y, groups = featurise(items, embedder, advanced)
    validation = cross_validate(x, y, groups)
    model = _pipeline(validation["best_c"]).fit(x, y)
    scaler, regression = model[0], model[-1]
    files = [scifact_dir / "corpus.jsonl", scifact_dir / "claims_train.jsonl", pubmedqa_dir / "ori_pqal.json",
             pubmedqa_dir / "test_ground_truth.json"]
    manifest = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "embedder": embedder.name,
        "data": {"files": {f"{f.parent.name}/{f.name}": sha256_of_file(f) for f in files},
                 "questions": {s: sum(i.source == s for i in items) for s in sorted({i.source for i in items})},
                 "candidates": len(y), "evidence": int(y.sum())},
        "model": "LogisticRegression on standardised features (scikit-learn)", "c": validation["best_c"],
        "seed": SEED, "max_questions": max_questions,
        "cross_validation": validation}
    judge = EvidenceJudge(scaler.mean_.astype(np.float32), scaler.scale_.astype(np.float32),
                          regression.coef_[0].astype(np.float32), float(regression.intercept_[0]), manifest)
    write_atomically(output, judge.to_json().encode() + b"\n")
    log.info("judge written to %s (C=%s)", output, validation["best_c"])
    return judge


def train_from_data(settings: Settings, output: Path, data_dir: Path | None = None,
                    on_progress: Callable[[str, int, int], None] | None = None,
                    max_questions: int | None = None) -> EvidenceJudge:
    """`scisynth train judge`: the shared data (or a download), the configured embedder, its cache."""
    home = settings.storage.home_dir
    scifact = data_dir / "scifact" if data_dir else default_data_dir("scifact") or ensure_scifact(home)
    pubmedqa = data_dir / "pubmedqa" if data_dir else default_data_dir("pubmedqa") or ensure_pubmedqa(home)
    cache = settings.storage.cache_dir
    embedder = CachedEmbedder(load_embedder(settings.retrieval.embeddings, cache), cache / "embeddings.sqlite")
    return train_judge(scifact, pubmedqa, embedder, output, on_progress, max_questions)


def weights_table(judge: EvidenceJudge) -> list[tuple[str, float]]:
    """Each feature with its standardised weight, strongest first: what the judge learned, readable."""
    return sorted(zip(FEATURES, judge.coef.tolist(), strict=True), key=lambda pair: -abs(pair[1]))
