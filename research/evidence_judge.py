"""Issue 40, first experiment: does a learned judge pick evidence sentences better than cosine similarity?

Offline, on SciFact: for each claim with evidence, the candidate sentences are those of its evidence abstracts and
of the top BM25 abstracts that are not evidence (what retrieval would also bring). A judge scores each sentence;
we report whether the top-scored sentence is a gold rationale sentence (P@1), and precision of the top 3, on the
dev claims (never trained on), beside cosine similarity alone, the lead sentence of the best abstract and a random
pick. The judge is a logistic regression over features a newcomer can read (similarity, its gap to the passage's
best, overlap and novelty of content words, sentence type cues, numbers and effect words, position), trained on
the train claims; its C is chosen by 5-fold cross-validation on train only.

    python -m research.evidence_judge [--data-dir ../shared/data/scifact]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.keywords import content_words
from retrieval.embeddings import load_embedder
from retrieval.lexical import _STEMMER

DISTRACTOR_ABSTRACTS = 3
SEED = 13

_QUESTION_LIKE = re.compile(r"\?\s*$|^\s*(RQ\d|research question|we ask|whether)\b", re.IGNORECASE)
_AIM = re.compile(r"\b(aim(ed|s)? (of|to|was)|objective|purpose of (this|the)|we (sought|hypothesi[sz]ed|investigated "
                  r"whether|set out)|this study (aims|examines|investigates))\b", re.IGNORECASE)
_PRIOR = re.compile(r"\bet al\b|\[\d+|\(\w[\w-]*,? (et al\.?,? )?\d{4}\)|\b(previous(ly)?|prior) (stud|work|report)"
                    r"|\bhas (been|long been) (shown|reported|suggested)", re.IGNORECASE)
_METHOD = re.compile(r"\b(we (used|performed|measured|recruited|analy[sz]ed|collected)|were (measured|recruited|"
                     r"randomi[sz]ed|enrolled|collected|analy[sz]ed)|was (performed|measured|used))\b", re.IGNORECASE)
_EFFECT = re.compile(r"\b(increas|decreas|reduc|improv|associat|significant|higher|lower|elevat|impair|enhanc|"
                     r"inhibit|induc|promot|correlat|requir|essential|predict|protect|risk|effect)", re.IGNORECASE)
_STATISTIC = re.compile(r"\b[pP]\s*[<=>]|\bCI\b|\b(OR|HR|RR)\b|\d+(\.\d+)?\s*%|\b\d+(\.\d+)?\b")
_CONCLUDE = re.compile(r"\b(we (show|found|find|demonstrate|report|conclude)|these (results|findings|data) "
                       r"(show|suggest|indicate|demonstrate)|in conclusion|our (results|findings|data))\b",
                       re.IGNORECASE)
FEATURES = ("cosine", "gap_to_best_in_abstract", "rank_in_abstract", "overlap", "novelty", "question_like", "aim",
            "prior_work", "method", "effect_words", "statistics", "conclusion_cue", "relative_position", "is_first",
            "is_last", "log_words")


@dataclass
class Candidate:
    claim_id: str
    doc_id: str
    index: int
    text: str
    gold: bool


def stems(text: str) -> set[str]:
    return {_STEMMER.stemWord(word.lower()) for word in content_words(text)}


def features(claim: str, sentences: list[str], cosines: np.ndarray) -> np.ndarray:
    """One row per sentence of one abstract (or passage), in its order."""
    claim_stems = stems(claim)
    best = float(cosines.max()) if len(cosines) else 0.0
    order = np.argsort(-cosines)
    ranks = np.empty(len(cosines))
    ranks[order] = np.arange(len(cosines))
    rows = []
    for i, (text, cosine) in enumerate(zip(sentences, cosines, strict=True)):
        words = stems(text)
        rows.append([
            float(cosine), float(cosine) - best, ranks[i] / max(1, len(sentences) - 1),
            len(words & claim_stems) / max(1, len(claim_stems)), len(words - claim_stems) / max(1, len(words)),
            float(bool(_QUESTION_LIKE.search(text))), float(bool(_AIM.search(text))),
            float(bool(_PRIOR.search(text))), float(bool(_METHOD.search(text))),
            min(3, len(_EFFECT.findall(text))) / 3, min(3, len(_STATISTIC.findall(text))) / 3,
            float(bool(_CONCLUDE.search(text))), i / max(1, len(sentences) - 1), float(i == 0),
            float(i == len(sentences) - 1), math.log1p(len(text.split()))])
    return np.array(rows, dtype=np.float32)


def load(data_dir: Path, split_name: str) -> list[dict]:
    return [c for c in map(json.loads, (data_dir / f"claims_{split_name}.jsonl").open()) if c.get("evidence")]


def pools(claims: list[dict], corpus: dict[str, dict], bm25, doc_ids: list[str]) -> list[tuple[dict, list[str]]]:
    """Each claim with its candidate abstracts: its evidence abstracts and the top BM25 non-evidence ones."""
    import bm25s

    out = []
    for claim in claims:
        evidence = [d for d in claim["evidence"] if d in corpus]
        results, _ = bm25.retrieve(bm25s.tokenize([claim["claim"]], show_progress=False), k=20, show_progress=False)
        others = [doc_ids[i] for i in results[0] if doc_ids[i] not in claim["evidence"]][:DISTRACTOR_ABSTRACTS]
        out.append((claim, evidence + others))
    return out


def build(pool: list[tuple[dict, list[str]]], corpus: dict[str, dict], embedder
          ) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str, int]]]:
    """Feature rows, labels and (claim, doc, sentence index) keys for every candidate sentence."""
    claims = [claim["claim"] for claim, _ in pool]
    claim_vectors = embedder.embed(claims)
    texts = {doc: corpus[doc]["abstract"] for _, docs in pool for doc in docs}
    order = list(texts)
    flat = [sentence for doc in order for sentence in texts[doc]]
    vectors = embedder.embed(flat)
    offsets, at = {}, 0
    for doc in order:
        offsets[doc] = (at, at + len(texts[doc]))
        at += len(texts[doc])
    rows, labels, keys = [], [], []
    for (claim, docs), claim_vector in zip(pool, claim_vectors, strict=True):
        for doc in docs:
            a, b = offsets[doc]
            if a == b:
                continue
            rationale = {i for group in claim["evidence"].get(doc, []) for i in group["sentences"]}
            rows.append(features(claim["claim"], texts[doc], vectors[a:b] @ claim_vector))
            labels += [float(i in rationale) for i in range(b - a)]
            keys += [(str(claim["id"]), doc, i) for i in range(b - a)]
    return np.vstack(rows), np.array(labels), keys


def top_k_precision(scores: np.ndarray, labels: np.ndarray, keys: list[tuple[str, str, int]], k: int) -> float:
    by_claim: dict[str, list[int]] = {}
    for row, (claim, _, _) in enumerate(keys):
        by_claim.setdefault(claim, []).append(row)
    hits = [labels[sorted(rows, key=lambda r: -scores[r])[:k]].mean() for rows in by_claim.values()]
    return float(np.mean(hits))


def main() -> None:
    import bm25s
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/scifact"))
    args = parser.parse_args()
    corpus = {str(d["doc_id"]): d for d in map(json.loads, (args.data_dir / "corpus.jsonl").open())}
    doc_ids = list(corpus)
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize([corpus[d]["title"] + " " + " ".join(corpus[d]["abstract"]) for d in doc_ids],
                              show_progress=False), show_progress=False)
    embedder = load_embedder("minilm")
    train_x, train_y, train_keys = build(pools(load(args.data_dir, "train"), corpus, bm25, doc_ids), corpus, embedder)
    dev_x, dev_y, dev_keys = build(pools(load(args.data_dir, "dev"), corpus, bm25, doc_ids), corpus, embedder)
    groups = [claim for claim, _, _ in train_keys]
    best_c, best_score = 1.0, -1.0
    for c in (0.01, 0.1, 1.0, 10.0):
        fold_scores = []
        for fit, held in GroupKFold(5).split(train_x, train_y, groups):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000))
            model.fit(train_x[fit], train_y[fit])
            fold_scores.append(top_k_precision(model.decision_function(train_x[held]), train_y[held],
                                               [train_keys[i] for i in held], 1))
        print(f"C={c}: train 5-fold P@1 {np.mean(fold_scores):.3f}")
        if np.mean(fold_scores) > best_score:
            best_c, best_score = c, float(np.mean(fold_scores))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=best_c, class_weight="balanced", max_iter=2000))
    model.fit(train_x, train_y)
    rng = random.Random(SEED)
    rows = {"judge": model.decision_function(dev_x), "cosine (baseline)": dev_x[:, 0],
            "lead sentences, best abstract first (baseline)":
                -dev_x[:, FEATURES.index("relative_position")] + dev_x[:, 0] * 1e-3,
            "random (baseline)": np.array([rng.random() for _ in range(len(dev_y))])}
    claims = len({claim for claim, _, _ in dev_keys})
    print(f"\nSciFact dev, {claims} claims with evidence, {len(dev_y)} candidate sentences "
          f"({int(dev_y.sum())} rationale); judge C={best_c}\n")
    print("| scorer | P@1 | P@3 |\n| --- | --- | --- |")
    for name, scores in rows.items():
        print(f"| {name} | {top_k_precision(scores, dev_y, dev_keys, 1):.3f} | "
              f"{top_k_precision(scores, dev_y, dev_keys, 3):.3f} |")
    weights = model[-1].coef_[0]
    print("\nweights (standardised):", ", ".join(f"{n} {w:+.2f}" for n, w in zip(FEATURES, weights, strict=True)))


if __name__ == "__main__":
    main()
