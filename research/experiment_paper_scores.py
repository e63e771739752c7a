"""Why do trained encoders score less through the pipeline than on whole abstracts? An experiment of issue 18:
does ranking papers from their passages' scores, rather than at their best passage's fused score, close the gap?

The product ranks passages: BM25 and dense scores per chunk, min-max normalised over each retriever's candidates
and added (convex fusion), a paper placed where its best chunk is. `bench_trained_retriever` ranks whole
abstracts instead. With 256-token chunks a SciFact abstract is two chunks on average, so a claim's words may be
split: BM25's document statistics and the two retrievers' evidence then sit on different chunks. The variants,
all at the product's fusion weight and candidate depth (nothing chosen on the data):

- `product`: what `scisynth eval scifact-retrieval` ranks (`rank_documents`, hybrid);
- `paper fusion`: each retriever's best chunk per paper (from its candidates), then fusion of those paper scores;
- `whole-paper BM25`: BM25 over each paper's title and whole abstract (as `bench_trained_retriever` ranks them),
  fused with each paper's best dense chunk (the dense candidates hold fewer papers than chunks: about half);
- `exact scores`: a chunk among one retriever's candidates but not the other's gets its actual score from the
  other (lower than that retriever's last candidate, so normalised below 0) instead of the last candidate's 0.

Reference rows: BM25 and dense alone, over chunks. Each variant's change from `product` comes with a paired
bootstrap 95% interval over the claims (differences inside it are noise).

It ranks in the eval library `scisynth eval scifact-retrieval` builds (the same folder for the same model and
`SCISYNTH_CHUNK_TOKENS`, built when missing: about 12 minutes per model on 2 cores). nDCG@10, SciFact dev by
default; `--split train` scores train claims (fair for the bundled model only: a trained one has seen them).

    python -m research.experiment_paper_scores [MODEL_FOLDER ...] [--split dev|train]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.runtime import Runtime
from agent.settings import Settings
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.datasets import load_scifact, subset
from evals.metrics import bootstrap_interval, mean, ranking_scores
from evals.report import table
from evals.scifact_retrieval import build_library, rank_documents, ranking_home
from research.trained_retriever import lexical_index, scifact_abstracts
from retrieval.embeddings import BASE_MODEL_NAME
from retrieval.search import convex_fusion

Scored = list[tuple[int, float]]


def best_per_paper(ranked: Scored, paper_of: dict[int, str]) -> list[tuple[str, float]]:
    """Each paper at its best chunk's score; `ranked` is best first, as every retriever returns it."""
    best: dict[str, float] = {}
    for chunk, score in ranked:
        best.setdefault(paper_of[chunk], score)
    return list(best.items())


def exact_fusion(runtime: Runtime, query: str, lexical: Scored, dense: Scored, alpha: float) -> Scored:
    """Convex fusion over the union of both candidate lists, each candidate scored by both retrievers (a chunk
    BM25 does not match scores 0), normalised by each retriever's own candidates' range."""
    if not lexical or not dense:
        return lexical or dense
    candidates = sorted({c for c, _ in lexical} | {c for c, _ in dense})
    lexical_all = dict(runtime.searcher.lexical_index().search(query, len(candidates), candidates))
    dense_all = dict(runtime.store.search(runtime.embedder.embed_query(query), len(candidates), candidates))

    def normalised(scores: dict[int, float], ranked: Scored, chunk: int) -> float:
        high, low = ranked[0][1], ranked[-1][1]
        return (scores.get(chunk, 0.0) - low) / (high - low or 1.0)

    fused = {c: alpha * normalised(lexical_all, lexical, c) + (1 - alpha) * normalised(dense_all, dense, c)
             for c in candidates}
    return sorted(fused.items(), key=lambda pair: -pair[1])


def score_model(embeddings: str, split: str) -> tuple[dict[str, list[float]], int]:
    """{variant: nDCG@10 per claim, in the dataset's claim order} for one embedding model, and the candidate
    depth the product searched."""
    settings = Settings(embeddings=embeddings)
    if settings.retrieval.fusion != "convex":
        raise SystemExit(f"SCISYNTH_FUSION={settings.retrieval.fusion}: this experiment varies convex fusion only")
    alpha = settings.retrieval.fusion_alpha
    weights = [alpha, 1 - alpha]
    dataset = subset(load_scifact(DATA / "scifact", split), None, None)
    runtime = build_library(dataset, ranking_home(settings, dataset), settings, sentence_vectors=False)
    depth, paper_of = runtime.searcher.candidates, runtime.catalog.chunk_papers()
    papers, whole = lexical_index(scifact_abstracts(dataset.documents))
    rankings: dict[str, dict[str, list[str]]] = {}
    for query, text in dataset.queries.items():
        lexical = runtime.searcher.ranked_ids(text, depth, "bm25")
        dense = runtime.searcher.ranked_ids(text, depth, "dense")
        whole_bm25 = [(papers[i], score) for i, score in whole.search(text, depth)]
        variants = {
            "BM25 (chunks)": [p for p, _ in best_per_paper(lexical, paper_of)],
            "dense (chunks)": [p for p, _ in best_per_paper(dense, paper_of)],
            "product": rank_documents(runtime, paper_of, text, "hybrid", depth),
            "paper fusion": [p for p, _ in convex_fusion([best_per_paper(lexical, paper_of),
                                                          best_per_paper(dense, paper_of)], weights)],
            "whole-paper BM25": [p for p, _ in convex_fusion([whole_bm25, best_per_paper(dense, paper_of)], weights)],
            "exact scores": [p for p, _ in best_per_paper(exact_fusion(runtime, text, lexical, dense, alpha),
                                                          paper_of)],
        }
        for name, ranked in variants.items():
            rankings.setdefault(name, {})[query] = ranked
    scores = {name: ranking_scores(ranked, dataset.qrels) for name, ranked in rankings.items()}
    return {name: [scored[q]["ndcg@10"] for q in dataset.queries] for name, scored in scores.items()}, depth


def change(variant: list[float], product: list[float]) -> str:
    differences = [a - b for a, b in zip(variant, product, strict=True)]
    low, high = bootstrap_interval(differences)
    return f"{mean(differences):+.3f} [{low:+.3f}, {high:+.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, help="trained model folders (the bundled one always runs)")
    parser.add_argument("--split", choices=["dev", "train"], default="dev")
    args = parser.parse_args()
    for model in args.models:  # before the bundled model's minutes, not after
        if not (model / "manifest.json").is_file():
            parser.error(f"{model}: not a trained model folder (no manifest.json); "
                         "'scisynth train retriever' makes one")
    names = [BASE_MODEL_NAME] + [str(model) for model in args.models]
    scored = {name: score_model(name, args.split) for name in names}
    results, depth = {name: values for name, (values, _) in scored.items()}, scored[BASE_MODEL_NAME][1]
    settings = Settings()
    print(f"\nSciFact {args.split}, nDCG@10 and change from 'product' with its paired 95% interval "
          f"({settings.retrieval.chunk_tokens}-token chunks, convex fusion alpha {settings.retrieval.fusion_alpha}, "
          f"{depth} candidates per retriever)\n")
    rows = [[variant] + [cell for name in names for cell in (mean(results[name][variant]),
                                                             change(results[name][variant], results[name]["product"]))]
            for variant in results[BASE_MODEL_NAME]]
    print(table(["variant"] + [f"{heading} ({Path(name).name})" for name in names for heading in ("nDCG@10", "change")],
                rows))


if __name__ == "__main__":
    main()
