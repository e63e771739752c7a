"""Issue 40: does "does the library answer this?" generalise to questions several papers answer together?

The answerability check (agent/answerability.py) reads the best sentence's similarity and the IDF-weighted share
of the question's terms in the best-covering single passage, fitted on PubMedQA, where one abstract answers a
question. A question that needs two or three papers is covered by no single passage. Here a third signal, the
share covered by the top evidence passages together, is tried: each variant is fitted (logistic regression,
threshold keeping 0.92 of the answerable calibration questions, the shipped rule) on PubMedQA's dev split plus
a seeded half of the multi-paper questions (evals/multi_paper), and scored on PubMedQA's test split and the
other half, answered (gold present) and abstained (gold filtered out of the results, as `eval abstention` does).

    python -m research.answerability_union [--limit N]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression

from agent.answerability import AnswerabilityJudge
from agent.keywords import question_framing
from agent.settings import Settings
from evals.citations import multi_paper_halves
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.pubmedqa import dev_split, load, sample, shared_library
from evals.runner import shared_embedder

TOGETHER = 3  # passages read together
KEEP_ANSWERABLE = 0.92


def signals(runtime, question: str, gold: set[str], present: bool) -> list[float]:
    quality = runtime.settings.answer
    passages = [p for p in runtime.searcher.search(question, k=quality.retrieved_per_query)
                if present or p.paper_id not in gold]
    evidence = runtime.scorer.gather(question, passages, quality.evidence_k, quality.relevance_cutoff)
    judge = AnswerabilityJudge(runtime.scorer, runtime.searcher.lexical_index, quality.answer_threshold)
    similarity, coverage = judge.features(question, evidence)
    together = runtime.searcher.lexical_index().term_coverage(
        question, [" ".join(p.text for p in evidence[:TOGETHER])], question_framing())[0] if evidence else 0.0
    return [similarity, coverage, together]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=200, help="PubMedQA questions per split (default: 200)")
    args = parser.parse_args()
    settings = Settings(llm="extractive", use_arxiv=False)
    records, test = load(DATA / "pubmedqa")
    runtime = shared_library(records, settings, shared_embedder(settings))
    calibration, held_out = multi_paper_halves()
    sets = {"pubmedqa dev": [(records[p]["QUESTION"], {p}) for p in sample(dev_split(records, test), args.limit)],
            "pubmedqa test": [(records[p]["QUESTION"], {p}) for p in sample(test, args.limit)],
            "multi-paper calibration": [(q["question"], set(q["gold"])) for q in calibration],
            "multi-paper held out": [(q["question"], set(q["gold"])) for q in held_out]}
    data = {}
    for name, questions in sets.items():
        rows = [(signals(runtime, q, gold, present), present) for q, gold in questions for present in (True, False)]
        data[name] = (np.array([r for r, _ in rows]), np.array([p for _, p in rows]))
    variants = {"similarity + best passage's coverage (shipped features)": [0, 1],
                f"similarity + coverage of the top {TOGETHER} together": [0, 2],
                "all three": [0, 1, 2]}
    for fitted_on in (("pubmedqa dev",), ("pubmedqa dev", "multi-paper calibration")):
        print(f"\nfitted on: {' + '.join(fitted_on)}\n")
        print("| features | " + " | ".join(f"{n} answered / abstained" for n in ("pubmedqa test",
                                                                                    "multi-paper held out")) + " |")
        print("|---|---|---|")
        for variant, columns in variants.items():
            x = np.vstack([data[n][0][:, columns] for n in fitted_on])
            y = np.concatenate([data[n][1] for n in fitted_on])
            model = LogisticRegression().fit(x, y)
            threshold = float(np.quantile(model.predict_proba(x[y])[:, 1], 1 - KEEP_ANSWERABLE))
            cells = []
            for name in ("pubmedqa test", "multi-paper held out"):
                rows, present = data[name]
                answered = model.predict_proba(rows[:, columns])[:, 1] >= threshold
                cells.append(f"{answered[present].mean():.3f} / {(~answered[~present]).mean():.3f}")
            weights = ", ".join(f"{w:+.2f}" for w in model.coef_[0])
            print(f"| {variant} (weights {weights}, intercept {model.intercept_[0]:+.2f}, threshold "
                  f"{threshold:.2f}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
