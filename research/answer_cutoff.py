"""Issue 40: how far below the best sentence an extractive answer may still quote (AnswerSettings.
quote_min_evidence_ratio), chosen on calibration questions, never on an evaluation split.

The extractive composer quotes up to four sentences, two per passage at most, of those at least
quote_min_similarity similar to the question, best judged first, none below r times the best one's judged
probability. Two replays for each r:

1. on the judge's training candidates (research/judge_training.py: each question's evidence abstracts and BM25's
   best others): the share of quoted sentences from an evidence abstract, and of questions still answered with
   at least one evidence sentence;
2. on the pooled PubMedQA library, as a turn gathers evidence: PubMedQA questions outside its test split
   (citations of the question's own abstract) and the calibration half of the multi-paper questions
   (evals/citations.multi_paper_halves; the other half is only ever scored by `eval citations`): the share of cited
   papers that are gold, and the share of each question's gold papers cited.

A higher r makes single-paper answers cite fewer wrong papers and multi-paper answers fewer right ones. The
shipped r is the one with the highest sum of PubMedQA precision and multi-paper papers cited.

    python -m research.answer_cutoff [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from agent.evidence_judge import QuestionContext, passage_features, shipped_judge
from agent.llm.extractive import ExtractiveComposer
from agent.settings import AnswerSettings, Settings
from evals.citations import multi_paper_halves
from evals.pubmedqa import dev_split, load, sample, shared_library
from evals.runner import shared_embedder
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
    args = parser.parse_args()
    cache = Settings().storage.cache_dir  # the one `scisynth train judge` fills
    embedder = CachedEmbedder(load_embedder("minilm", cache), cache / "embeddings.sqlite")
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
    replayed = library_replay(calibration_questions(args.data_dir), RATIOS[:5], args.data_dir)
    print("\n| ratio | PubMedQA non-test: cited papers gold | multi-paper calibration: cited gold / gold cited |")
    print("|---|---|---|")
    for ratio, row in replayed.items():
        single, multi = row["pubmedqa non-test"], row["multi-paper calibration half"]
        print(f"| {ratio} | {single[0]:.3f} | {multi[0]:.3f} / {multi[1]:.3f} |")
    best = max(replayed, key=lambda r: replayed[r]["pubmedqa non-test"][0]
               + replayed[r]["multi-paper calibration half"][1])
    print(f"\nchosen: {best} (highest PubMedQA precision + multi-paper gold papers cited)")


def library_replay(questions: dict[str, list[tuple[str, set[str]]]], ratios: tuple[float, ...], data_dir: Path
                   ) -> dict[float, dict[str, tuple[float, float]]]:
    """Per ratio and question set: (share of cited papers that are gold, share of gold papers cited)."""
    settings = Settings(llm="extractive", use_arxiv=False)
    records, _ = load(data_dir / "pubmedqa")
    runtime = shared_library(records, settings, shared_embedder(settings))
    quality = settings.answer
    evidence = {name: [(q, gold, runtime.scorer.gather(q, runtime.searcher.search(q, k=quality.retrieved_per_query),
                                                       quality.evidence_k, quality.relevance_cutoff))
                       for q, gold in items] for name, items in questions.items()}
    out: dict[float, dict[str, tuple[float, float]]] = {}
    for ratio in ratios:
        composer = ExtractiveComposer(runtime.scorer, AnswerSettings(quote_min_evidence_ratio=ratio))
        out[ratio] = {}
        for name, items in evidence.items():
            precision, recall = [], []
            for question, gold, passages in items:
                cited = {passages[n - 1].paper_id for n, _ in composer.choose(question, passages)}
                precision += [float(paper in gold) for paper in cited]
                recall.append(len(cited & gold) / len(gold))
            out[ratio][name] = (float(np.mean(precision)), float(np.mean(recall)))
    return out


def calibration_questions(data_dir: Path) -> dict[str, list[tuple[str, set[str]]]]:
    records, test = load(data_dir / "pubmedqa")
    calibration, _ = multi_paper_halves()
    return {"pubmedqa non-test": [(records[p]["QUESTION"], {p}) for p in sample(dev_split(records, test), 150)],
            "multi-paper calibration half": [(q["question"], set(q["gold"]) | set(q.get("also_relevant", [])))
                                             for q in calibration]}


if __name__ == "__main__":
    main()
