"""Retrieval settings tuned without peeking: Optuna chooses the fusion (convex weight or RRF's k), the candidate
depth, MMR and the chunk size on SciFact **train** claims only; SciFact dev is scored once, at the end.

Each chunk size gets its own library through the real ingest (chunker, SQLite, FAISS, BM25) over SciFact's corpus,
the one `scisynth eval scifact-retrieval` uses, without sentence vectors (ranking never reads them). Every claim's
BM25 and dense candidates are computed once per library, so a trial (a setting of the knobs) only fuses,
diversifies and scores: the product's own `convex_fusion`, `reciprocal_rank_fusion` and
`maximal_marginal_relevance`, chunks mapped to papers as BEIR scores them. Five folds of the train claims show
whether what a study chooses on four holds on the fifth; the final study uses all train claims. The answerability
cutoff is not tuned here: it is chosen on PubMedQA's dev split (agent/answerability.py) and scored by
`scisynth eval abstention`.

    python -m research.tuning [--trials N]     (about 30 minutes on 2 cores, most of it building three libraries)
"""

from __future__ import annotations

import argparse
import inspect
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.settings import RetrievalSettings, Settings
from evals.datasets import RetrievalSet, default_data_dir, ensure_scifact, load_scifact
from evals.metrics import mean, ranking_scores
from evals.scifact_retrieval import build_library, ranking_home
from retrieval.embedding_cache import CachedEmbedder
from retrieval.embeddings import Embedder, load_embedder
from retrieval.search import (
    HybridSearcher,
    convex_fusion,
    maximal_marginal_relevance,
    reciprocal_rank_fusion,
)

CHUNK_SIZES = (128, 192, 256)
POOL = 300  # candidates kept per retriever and claim; a trial uses its `candidates` best
MMR_POOL = 30  # as the product: MMR picks from max(3k, 30) fused candidates
SEED = 13
FOLDS = 5

def _product_defaults() -> dict:
    """The knobs as a fresh install sets them (Settings' and HybridSearcher's defaults), so the baseline every
    trial is compared with cannot drift from the product."""
    fields = RetrievalSettings.model_fields
    searcher = inspect.signature(HybridSearcher).parameters
    return {"chunk_tokens": fields["chunk_tokens"].default, "fusion": fields["fusion"].default,
            "alpha": fields["fusion_alpha"].default, "rrf_k": searcher["rrf_k"].default,
            "candidates": searcher["candidates"].default, "mmr": fields["mmr_balance"].default}


DEFAULTS = _product_defaults()


@dataclass
class Candidates:
    """One library's first-stage results for every claim, and what fusion and MMR need."""

    chunk_papers: dict[int, str]
    lexical: dict[str, list[tuple[int, float]]]
    dense: dict[str, list[tuple[int, float]]]
    vectors: dict[int, np.ndarray]


def candidates(scifact: RetrievalSet, chunk_tokens: int, queries: dict[str, str], settings: Settings,
               embedder: Embedder) -> Candidates:
    """Build (or reuse) the SciFact library chunked at `chunk_tokens` (the one `scisynth eval scifact-retrieval`
    ranks in) and rank every query in it."""
    local = settings.with_changes(chunk_tokens=chunk_tokens)
    runtime = build_library(scifact, ranking_home(local, scifact), local, embedder, sentence_vectors=False)
    lexical_index = runtime.searcher.lexical_index()
    lexical, dense = {}, {}
    for query, text in queries.items():
        lexical[query] = lexical_index.search(text, POOL)
        dense[query] = runtime.store.search(runtime.embedder.embed_query(text), POOL)
    seen = {chunk for ranked in (*lexical.values(), *dense.values()) for chunk, _ in ranked}
    return Candidates(runtime.catalog.chunk_papers(), lexical, dense, runtime.store.vectors(sorted(seen)))


def rank_papers(pool: Candidates, query: str, params: dict) -> list[str]:
    """The papers a search with these settings returns for the query, best first."""
    lexical, dense = pool.lexical[query][:params["candidates"]], pool.dense[query][:params["candidates"]]
    if params["fusion"] == "rrf":
        fused = reciprocal_rank_fusion([[i for i, _ in lexical], [i for i, _ in dense]], k=params["rrf_k"])
    else:
        fused = convex_fusion([lexical, dense], [params["alpha"], 1.0 - params["alpha"]])
    if params["mmr"] is not None:
        fused = maximal_marginal_relevance(fused[:MMR_POOL], pool.vectors, 10, params["mmr"])
    papers: list[str] = []
    for chunk, _ in fused:
        paper = pool.chunk_papers.get(chunk)
        if paper is not None and paper not in papers:
            papers.append(paper)
    return papers


def ndcg(pools: dict[int, Candidates], params: dict, queries: list[str], qrels: dict[str, set[str]]) -> float:
    pool = pools[params["chunk_tokens"]]
    scored = ranking_scores({q: rank_papers(pool, q, params) for q in queries}, qrels)
    return mean([scored[q]["ndcg@10"] for q in queries])


def suggest(trial) -> dict:
    """One point of the search space (the product's defaults are one of them)."""
    params = {"chunk_tokens": trial.suggest_categorical("chunk_tokens", CHUNK_SIZES),
              "fusion": trial.suggest_categorical("fusion", ["convex", "rrf"]),
              "candidates": trial.suggest_int("candidates", 20, POOL, step=20), "alpha": 0.5, "rrf_k": 10}
    if params["fusion"] == "convex":
        params["alpha"] = trial.suggest_float("alpha", 0.0, 1.0, step=0.05)
    else:
        params["rrf_k"] = trial.suggest_int("rrf_k", 1, 100, log=True)
    params["mmr"] = trial.suggest_float("mmr", 0.5, 1.0, step=0.05) if trial.suggest_categorical(
        "use_mmr", [False, True]) else None
    return params


def study(objective: Callable[[dict], float], trials: int) -> dict:
    """The best parameters Optuna's TPE sampler (seeded) finds in `trials` trials, starting from the defaults."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=SEED))
    search.enqueue_trial({**{k: DEFAULTS[k] for k in ("chunk_tokens", "fusion", "candidates", "alpha")},
                          "use_mmr": DEFAULTS["mmr"] is not None})
    search.optimize(lambda trial: objective(suggest(trial)), n_trials=trials, show_progress_bar=True)
    return suggest(optuna.trial.FixedTrial(search.best_params))


def folds(queries: list[str]) -> list[list[str]]:
    shuffled = sorted(queries)
    random.Random(SEED).shuffle(shuffled)
    return [shuffled[i::FOLDS] for i in range(FOLDS)]


def tune(train: RetrievalSet, dev: RetrievalSet, pools: dict[int, Candidates], trials: int) -> dict:
    """Cross-validated studies on train, a final study on all of train, then dev scored once."""
    qrels = {**train.qrels, **dev.qrels}
    rows = []
    parts = folds(list(train.queries))
    for number, held_out in enumerate(parts, start=1):
        tuning = [q for part in parts if part is not held_out for q in part]
        chosen = study(lambda params, queries=tuning: ndcg(pools, params, queries, qrels), trials)
        rows.append({"fold": number, "chosen": chosen, "default_held_out": ndcg(pools, DEFAULTS, held_out, qrels),
                     "tuned_held_out": ndcg(pools, chosen, held_out, qrels)})
    everything = list(train.queries)
    final = study(lambda params: ndcg(pools, params, everything, qrels), trials)
    train_scores = {"default": ndcg(pools, DEFAULTS, everything, qrels), "tuned": ndcg(pools, final, everything, qrels)}
    dev_queries = list(dev.queries)  # the first and only look at dev
    dev_scores = {name: ndcg(pools, params, dev_queries, qrels)
                  for name, params in (("bm25", {**DEFAULTS, "alpha": 1.0}), ("default", DEFAULTS), ("tuned", final))}
    return {"folds": rows, "final": final, "train": train_scores, "dev": dev_scores}


def describe(params: dict) -> str:
    fusion = f"convex alpha {params['alpha']:.2f}" if params["fusion"] == "convex" else f"RRF k {params['rrf_k']}"
    mmr = "off" if params["mmr"] is None else f"{params['mmr']:.2f}"
    return f"chunks {params['chunk_tokens']}, {fusion}, {params['candidates']} candidates, MMR {mmr}"


def main() -> None:
    import importlib.util

    from tqdm import tqdm

    from evals.report import table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=60, help="Optuna trials per study (six studies)")
    args = parser.parse_args()
    if importlib.util.find_spec("optuna") is None:
        raise SystemExit("tuning needs Optuna, in the 'train' extra: pip install -e '.[train]'")
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    data = default_data_dir("scifact") or ensure_scifact(settings.storage.home_dir)
    train, dev = load_scifact(data, "train"), load_scifact(data, "dev")
    queries = {**train.queries, **dev.queries}
    # One embedding cache for the three libraries: a text chunked the same at two sizes is encoded once.
    embedder = CachedEmbedder(load_embedder(settings.retrieval.embeddings),
                              settings.storage.home_dir / "evals" / "embeddings.sqlite")
    pools = {size: candidates(dev, size, queries, settings, embedder) for size in tqdm(CHUNK_SIZES, desc="libraries")}
    report = tune(train, dev, pools, args.trials)
    print(f"\nSciFact train claims ({len(train.queries)}), {FOLDS} folds (seed {SEED}): chosen on four, scored on "
          "the fifth\n")
    print(table(["fold", "chosen", "nDCG@10 default", "nDCG@10 tuned"],
                [[r["fold"], describe(r["chosen"]), r["default_held_out"], r["tuned_held_out"]]
                 for r in report["folds"]]))
    print(f"\nfinal choice (all {len(train.queries)} train claims): {describe(report['final'])}; train nDCG@10 "
          f"{report['train']['default']:.3f} (defaults) -> {report['train']['tuned']:.3f}\n")
    print(f"SciFact dev ({len(dev.queries)} claims), scored once:\n")
    print(table(["settings", "nDCG@10"], [["BM25 (baseline)", report["dev"]["bm25"]],
                                          [f"defaults ({describe(DEFAULTS)})", report["dev"]["default"]],
                                          [f"tuned ({describe(report['final'])})", report["dev"]["tuned"]]]))


if __name__ == "__main__":
    main()
