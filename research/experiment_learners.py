"""Issues 40-42: are the evidence judge and the stance classifier's first stage limited by their learner or by
their features?

Both are logistic regressions over features a reader can check. Here each is compared, on its own training data
and the grouped folds it is trained with (never an evaluation split), with

- gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier) over the same features: can a non-linear
  learner find interactions the linear one misses?
- the linear model with more features of the same cheap kind:
  - for the judge, a sentence's context: its neighbours' best similarity, its passage's mean and best
    similarity, its rank among all the question's candidates, a conclusion cue ("we conclude", "these results"),
    whether it is the passage's second-last sentence;
  - for stage 1 (does this paper bear on the claim?), the paper as a whole: its title's similarity, the share of
    the claim's corpus-IDF weight its title and abstract cover, and its rank and similarity gap to the best among
    the claim's candidate papers (relative features: what they add depends on how the candidates were drawn).

The judge is scored as it is trained: P@1 and P@3 (is the best-scored candidate evidence?), also per source; the
first stage by AUC, average precision and the best F1 over thresholds.

    python -m research.experiment_learners
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import partial

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from agent.evidence_judge import stems
from agent.settings import Settings
from evals.datasets import SHARED_DATA_DIR as DATA
from research.judge_training import (
    FOLDS,
    SEED,
    Candidates,
    _bm25,
    _top,
    featurise,
    precision_at,
    pubmedqa_candidates,
    scifact_candidates,
)
from research.stance_training import LABELS, scifact_papers, train_claims
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder

JUDGE_C = 0.01  # the shipped judge's cross-validated C (agent/evidence_judge.json)
STAGE1_C = 0.1  # the shipped stage 1's (agent/stance.json)
_CONCLUSION = re.compile(r"\b(?:we conclude|in conclusion|these (?:results|findings|data)|our (?:results|findings|"
                         r"data)|suggest|demonstrat|reveal|indicat)", re.IGNORECASE)


def _trees():
    return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=200, min_samples_leaf=20, max_leaf_nodes=15,
                                          random_state=SEED)


def _linear(c: float, balanced: bool = False):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000,
                                                              class_weight="balanced" if balanced else None))


def _held_out(make, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's probability from the model fitted on the other folds."""
    out = np.zeros(len(y))
    for fit, held in GroupKFold(FOLDS).split(x, y, groups):
        out[held] = make().fit(x[fit], y[fit]).predict_proba(x[held])[:, 1]
    return out


def judge_context(items: list[Candidates], embedder: Embedder) -> np.ndarray:
    """The context features of every labelled candidate, in `featurise`'s row order."""
    rows = []
    for item in items:
        question = embedder.embed_query(item.question)
        cosines = [embedder.embed(texts) @ question for texts, _ in item.passages]
        everyone = np.concatenate(cosines)
        for (texts, marks), similarity in zip(item.passages, cosines, strict=True):
            for i in (i for i, mark in enumerate(marks) if mark is not None):
                neighbours = [similarity[j] for j in (i - 1, i + 1) if 0 <= j < len(texts)]
                rows.append([max(neighbours, default=similarity[i]), similarity.mean(), similarity.max(),
                             (everyone > similarity[i]).sum() / max(1, len(everyone) - 1),
                             float(bool(_CONCLUSION.search(texts[i]))), float(i == len(texts) - 2)])
    return np.array(rows, dtype=np.float32)


def judge_table(embedder: Embedder) -> None:
    scifact = scifact_candidates(DATA / "scifact")
    items = scifact + pubmedqa_candidates(DATA / "pubmedqa")
    x, y, groups = featurise(items, embedder)
    context = judge_context(items, embedder)
    from_scifact = groups < len(scifact)
    print(f"\nEvidence judge: {len(items)} questions, {len(y)} candidates, {int(y.sum())} evidence; {FOLDS} folds "
          "grouped by question\n")
    print("| learner and features | P@1 | P@3 | SciFact P@1 / P@3 | PubMedQA P@1 |\n| --- | --- | --- | --- | --- |")
    variants = {"cosine alone (baseline)": x[:, 0],
                "logistic regression, shipped features": _held_out(partial(_linear, JUDGE_C), x, y, groups),
                "gradient-boosted trees, shipped features": _held_out(_trees, x, y, groups),
                "logistic regression, + context": _held_out(partial(_linear, JUDGE_C), np.hstack([x, context]), y,
                                                            groups)}
    for name, scores in variants.items():
        s, g, lab = scores[from_scifact], groups[from_scifact], y[from_scifact]
        print(f"| {name} | {precision_at(scores, y, groups, 1):.3f} | {precision_at(scores, y, groups, 3):.3f} | "
              f"{precision_at(s, lab, g, 1):.3f} / {precision_at(s, lab, g, 3):.3f} | "
              f"{precision_at(scores[~from_scifact], y[~from_scifact], groups[~from_scifact], 1):.3f} |")


def paper_features(claims: list[dict], embedder: Embedder) -> np.ndarray:
    """Per (claim, candidate paper), in `scifact_papers`' order: title similarity, corpus-IDF coverage of the
    claim, rank and best-sentence similarity gap among the claim's candidates."""
    corpus = {str(d["doc_id"]): d for d in map(json.loads, (DATA / "scifact" / "corpus.jsonl").open())}
    ids = list(corpus)
    index = _bm25([corpus[d]["title"] + " " + " ".join(corpus[d]["abstract"]) for d in ids])
    words = {d: stems(corpus[d]["title"] + " " + " ".join(corpus[d]["abstract"])) for d in ids}
    frequency = Counter(w for d in ids for w in words[d])
    idf = {w: math.log((len(ids) + 1) / (n + 1)) for w, n in frequency.items()}
    rows = []
    for claim in claims:  # the candidates as scifact_papers draws them
        docs = list(dict.fromkeys([*claim.get("evidence", {}), *map(str, claim.get("cited_doc_ids", []))]))
        docs = [d for d in docs + _top(index, claim["claim"], ids, set(docs)) if d in corpus]
        vector = embedder.embed_query(claim["claim"])
        titles = embedder.embed([corpus[d]["title"] for d in docs]) @ vector
        best = np.array([float((embedder.embed(corpus[d]["abstract"]) @ vector).max()) for d in docs])
        ranks = np.argsort(np.argsort(-best, kind="stable"), kind="stable")
        asked = stems(claim["claim"])
        weight = sum(idf.get(w, 0.0) for w in asked) or 1.0
        rows += [[titles[i], sum(idf.get(w, 0.0) for w in asked & words[d]) / weight, ranks[i], best[i] - best.max()]
                 for i, d in enumerate(docs)]
    return np.array(rows, dtype=np.float32)


def stage1_table(embedder: Embedder) -> None:
    claims = train_claims(DATA / "scifact")
    papers = scifact_papers(DATA / "scifact", claims, embedder)
    x = np.vstack([p.judged for p in papers])
    y = np.array([LABELS.index(p.label) < 2 for p in papers], dtype=int)
    groups = np.array([p.claim_id for p in papers])
    extra = paper_features(claims, embedder)
    print(f"\nStance stage 1 (evidence or not): {len(y)} SciFact train (claim, paper) pairs, {int(y.sum())} evidence; "
          f"{FOLDS} folds grouped by claim\n")
    print("| learner and features | AUC | average precision | best F1 |\n| --- | --- | --- | --- |")
    linear = partial(_linear, STAGE1_C, balanced=True)
    variants = {"logistic regression, shipped features": _held_out(linear, x, y, groups),
                "gradient-boosted trees, shipped features": _held_out(_trees, x, y, groups),
                "logistic regression, + title and corpus coverage (absolute)":
                    _held_out(linear, np.hstack([x, extra[:, :2]]), y, groups),
                "logistic regression, + all four (rank and gap are relative)":
                    _held_out(linear, np.hstack([x, extra]), y, groups)}
    for name, chance in variants.items():
        best = max(f1_score(y, chance >= t) for t in np.arange(0.05, 0.96, 0.05))
        print(f"| {name} | {roc_auc_score(y, chance):.3f} | {average_precision_score(y, chance):.3f} | {best:.3f} |")


def main() -> None:
    settings = Settings(llm="extractive", use_arxiv=False)
    cache = settings.storage.cache_dir
    embedder = CachedEmbedder(load_embedder(settings.retrieval.embeddings, cache), cache / "embeddings.sqlite")
    judge_table(embedder)
    stage1_table(embedder)


if __name__ == "__main__":
    main()
