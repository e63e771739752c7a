"""Issue 40: how far below the best sentence an extractive answer may still quote (AnswerSettings.
quote_min_evidence_ratio), chosen on the judge's training questions, never on an evaluation split.

The extractive composer quotes up to four sentences, two per passage at most, of those at least
quote_min_similarity similar to the question, best judged first. Here that choice is replayed on the training
candidates (research/judge_training.py: each question's evidence abstracts and BM25's best others) with a ratio
r: a sentence is quoted only when its judged probability is at least r times the best one's. For each r it
prints the share of quoted sentences from an evidence abstract (what citation precision measures) and the share
of questions still answered with at least one evidence sentence.

    python -m research.answer_cutoff [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from agent.evidence_judge import QuestionContext, passage_features, shipped_judge
from agent.settings import AnswerSettings
from research.judge_training import Candidates, pubmedqa_candidates, scifact_candidates
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import load_embedder

RATIOS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def judged(items: list[Candidates], embedder) -> list[list[tuple[int, float, float, bool]]]:
    """Per question: (passage number, cosine, judged probability, from an evidence passage) per sentence."""
    judge, out = shipped_judge(), []
    for item in items:
        question_vector = embedder.embed_query(item.question)
        passages = [(texts, embedder.embed(texts) @ question_vector, any(m != 0.0 for m in marks))
                    for texts, marks in item.passages if texts]
        question = QuestionContext.among(item.question, [s for texts, _, _ in passages for s in texts],
                                         max(float(c.max()) for _, c, _ in passages))
        rows = []
        for n, (texts, cosines, evidence) in enumerate(passages):
            probability = judge.probability(passage_features(question, texts, cosines))
            rows += [(n, float(c), float(p), evidence) for c, p in zip(cosines, probability, strict=True)]
        out.append(rows)
    return out


def replay(question: list[tuple[int, float, float, bool]], ratio: float, quality: AnswerSettings) -> list[bool]:
    """Whether each quoted sentence comes from an evidence passage, as the composer would quote."""
    candidates = sorted((r for r in question if r[1] >= quality.quote_min_similarity), key=lambda r: -r[2])
    if not candidates:
        return []
    floor, quoted, per_passage = ratio * candidates[0][2], [], {}
    for n, _, probability, evidence in candidates:
        if len(quoted) == quality.answer_max_sentences or probability < floor:
            break
        if per_passage.get(n, 0) < quality.sentences_per_passage:
            per_passage[n] = per_passage.get(n, 0) + 1
            quoted.append(evidence)
    return quoted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/judge-cache/embeddings.sqlite"))
    args = parser.parse_args()
    embedder = CachedEmbedder(load_embedder("minilm"), args.cache)
    quality = AnswerSettings()
    sets = {"scifact-train": scifact_candidates(args.data_dir / "scifact"),
            "pubmedqa-train": pubmedqa_candidates(args.data_dir / "pubmedqa")}
    print("| ratio | " + " | ".join(f"{name} precision | {name} answered" for name in sets) + " |")
    print("|---" * (1 + 2 * len(sets)) + "|")
    scored = {name: judged(items, embedder) for name, items in sets.items()}
    for ratio in RATIOS:
        cells = []
        for questions in scored.values():
            quoted = [replay(q, ratio, quality) for q in questions]
            cells += [f"{np.mean([e for q in quoted for e in q]):.3f}", f"{np.mean([any(q) for q in quoted]):.3f}"]
        print(f"| {ratio} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
