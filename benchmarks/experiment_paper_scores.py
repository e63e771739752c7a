"""Why do trained encoders score less through the pipeline than on whole abstracts? An experiment of issue 18:
does scoring papers from their passages' scores (rather than by their best passage's fused score) close the gap?

The product ranks passages: BM25 and dense scores per chunk, min-max normalised over each retriever's top 100 and
added (convex fusion, alpha 0.5), a paper placed where its best chunk is. `bench_trained_retriever` ranks whole
abstracts instead. With 256-token chunks a SciFact abstract is two chunks on average, so a claim's words may be
split: BM25's document statistics and the two retrievers' evidence then sit on different chunks. The variants,
all at the product's alpha and depth (nothing chosen on the data):

- `product`: the product's ranking (chunk-level fusion, a paper at its best chunk);
- `paper fusion`: each retriever's best chunk per paper, then fusion of those paper scores;
- `whole-paper BM25`: BM25 over each paper's whole text (its chunks joined) fused with each paper's best dense
  chunk;
- `completed scores`: a chunk found by one retriever only gets its real score from the other (searched 300 deep)
  instead of none.

It ranks in the eval library `scisynth eval scifact-retrieval` builds (the same folder, built when missing: about
12 minutes per model on 2 cores). nDCG@10, SciFact dev by default; `--split train` scores train claims (fair for
the bundled model only: a trained one has seen them).

    python -m benchmarks.experiment_paper_scores [MODEL_FOLDER ...] [--split dev|train]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from agent.settings import Settings
from benchmarks.common import DATA, table
from evals.datasets import load_scifact, subset
from evals.metrics import mean, ranking_scores
from evals.scifact_retrieval import build_library, ranking_home
from retrieval.embeddings import BASE_MODEL_NAME
from retrieval.lexical import LexicalIndex
from retrieval.search import convex_fusion

DEPTH, DEEP, ALPHA = 100, 300, 0.5
Scored = list[tuple[int, float]]


def best_per_paper(ranked: Scored, paper_of: dict[int, str]) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for chunk, score in ranked:
        best.setdefault(paper_of[chunk], score)
    return sorted(best.items(), key=lambda pair: -pair[1])


def papers_in_order(ranked: Scored, paper_of: dict[int, str]) -> list[str]:
    return [paper for paper, _ in best_per_paper(ranked, paper_of)]


def completed(lexical: Scored, dense: Scored) -> Scored:
    """Convex fusion over the union of both top-DEPTH lists, each candidate scored by both retrievers (from
    their DEEP lists; below them, the DEEP-th score), normalised by the top-DEPTH range."""
    def normaliser(ranked: Scored) -> Callable[[int], float]:
        scores, high, low = dict(ranked), ranked[0][1], ranked[min(DEPTH, len(ranked)) - 1][1]
        return lambda chunk: (scores.get(chunk, ranked[-1][1]) - low) / (high - low or 1.0)

    if not lexical or not dense:
        return lexical or dense
    lexical_score, dense_score = normaliser(lexical), normaliser(dense)
    candidates = {c for c, _ in lexical[:DEPTH]} | {c for c, _ in dense[:DEPTH]}
    fused = {c: ALPHA * lexical_score(c) + (1 - ALPHA) * dense_score(c) for c in candidates}
    return sorted(fused.items(), key=lambda pair: -pair[1])


def score_model(embeddings: str, split: str) -> dict[str, float]:
    settings = Settings(embeddings=embeddings)
    dataset = subset(load_scifact(DATA / "scifact", split), None, None)
    runtime = build_library(dataset, ranking_home(settings, dataset), settings, sentence_vectors=False)
    paper_of = runtime.catalog.chunk_papers()
    chunk_lexical = runtime.searcher.lexical_index()
    chunk_ids, texts = runtime.catalog.all_index_texts()
    joined: dict[str, list[str]] = {}
    for chunk, text in zip(chunk_ids, texts, strict=True):
        joined.setdefault(paper_of[chunk], []).append(text)
    papers = list(joined)
    paper_lexical = LexicalIndex(list(range(len(papers))), texts=["\n".join(joined[p]) for p in papers])
    rankings: dict[str, dict[str, list[str]]] = {}
    for query, text in dataset.queries.items():
        lexical = chunk_lexical.search(text, DEEP)
        dense = runtime.store.search(runtime.embedder.embed_query(text), DEEP)
        top_lexical, top_dense = lexical[:DEPTH], dense[:DEPTH]
        whole = [(papers[i], s) for i, s in paper_lexical.search(text, DEPTH)]
        variants = {
            "BM25 (chunks)": papers_in_order(top_lexical, paper_of),
            "dense (chunks)": papers_in_order(top_dense, paper_of),
            "product": papers_in_order(convex_fusion([top_lexical, top_dense], [ALPHA, 1 - ALPHA]), paper_of),
            "paper fusion": [p for p, _ in convex_fusion([best_per_paper(top_lexical, paper_of),
                                                          best_per_paper(top_dense, paper_of)], [ALPHA, 1 - ALPHA])],
            "whole-paper BM25": [p for p, _ in convex_fusion([whole, best_per_paper(top_dense, paper_of)],
                                                             [ALPHA, 1 - ALPHA])],
            "completed scores": papers_in_order(completed(lexical, dense), paper_of),
        }
        for name, ranked in variants.items():
            rankings.setdefault(name, {})[query] = ranked
    return {name: mean([s["ndcg@10"] for s in ranking_scores(ranked, dataset.qrels).values()])
            for name, ranked in rankings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, help="trained model folders (the bundled one always runs)")
    parser.add_argument("--split", choices=["dev", "train"], default="dev")
    args = parser.parse_args()
    names = [BASE_MODEL_NAME] + [str(model) for model in args.models]
    results = {name: score_model(name, args.split) for name in names}
    variants = list(results[BASE_MODEL_NAME])
    print(f"\nSciFact {args.split}, nDCG@10 (256-token chunks, alpha {ALPHA}, top {DEPTH} per retriever)\n")
    print(table(["variant"] + [Path(name).name for name in names],
                [[variant] + [results[name][variant] for name in names] for variant in variants]))


if __name__ == "__main__":
    main()
