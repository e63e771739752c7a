"""The bundled encoder and a trained one, side by side in one run: SciFact dev (the domain it was trained for;
never its claims, but SciFact's claims share cited abstracts across splits, so the claims none of whose relevant
abstracts was a training positive are scored apart too), PubMedQA's 500 test questions against the pooled 1,000
abstracts (in distribution: the model trained on the other PQA-L questions), and the 2,265 arXiv abstracts as a
known-item task neither model was trained for (a paper's title finds its own abstract).

Each document is one abstract, encoded as the index encodes a passage (title, newline, text; arXiv documents
without their title, or the task is trivial). Ranked by BM25 (the product's LexicalIndex), dense (exact cosine)
and hybrid (the product's convex fusion, alpha 0.5); nDCG@10 and Recall@10 by pytrec_eval. The full-pipeline
figure (chunks, FAISS, SQLite) is `scisynth eval scifact-retrieval --embeddings FOLDER`.

    python -m research.trained_retriever [MODEL_FOLDER]   (default: $SCISYNTH_HOME/models/retriever-seed13)
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.settings import Settings
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.datasets import load_scifact
from evals.metrics import mean, ranking_scores
from evals.pubmedqa import load as load_pubmedqa
from evals.report import table
from retrieval.embeddings import load_embedder
from retrieval.lexical import LexicalIndex
from retrieval.search import convex_fusion

DEPTH = 100


@dataclass
class Task:
    name: str
    documents: dict[str, str]  # id -> text as encoded
    queries: dict[str, str]
    qrels: dict[str, set[str]]
    subsets: dict[str, set[str]] = field(default_factory=dict)  # a name -> query ids scored on their own too


def tasks() -> list[Task]:
    scifact = load_scifact(DATA / "scifact", "dev")
    trained_on = set().union(*load_scifact(DATA / "scifact", "train").qrels.values())
    # SciFact's claims were written from the same cited abstracts: most dev claims have a relevant abstract that
    # is also a training positive. Those without one show what the encoder learnt beyond those links.
    unseen = {q for q, docs in scifact.qrels.items() if not docs & trained_on}
    records, test = load_pubmedqa(DATA / "pubmedqa")
    arxiv = [json.loads(line) for line in (DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl").open()]
    return [
        Task("SciFact dev (in domain)",
             scifact_abstracts(scifact.documents),
             scifact.queries, scifact.qrels, {f"SciFact dev, the {len(unseen)} claims no training positive "
                                              "is relevant to": unseen}),
        Task("PubMedQA test, pooled 1,000 (in distribution: trained on its other questions)",
             {p: "\n" + " ".join(r["CONTEXTS"]) for p, r in records.items()},
             {p: records[p]["QUESTION"] for p in test}, {p: {p} for p in test}),
        Task("arXiv known-item, 2,265 (out of domain)", {r["id"]: "\n" + r["abstract"] for r in arxiv},
             {r["id"]: r["title"] for r in arxiv}, {r["id"]: {r["id"]} for r in arxiv}),
    ]


def rankings(task: Task, lexical: LexicalIndex, ids: list[str], vectors: np.ndarray, embedder
             ) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """{retriever: {query id: [(document id, score), ...] best first}}, DEPTH deep."""
    query_vectors = embedder.embed(list(task.queries.values()))
    ranked: dict[str, dict[str, list[tuple[str, float]]]] = {"bm25": {}, "dense": {}, "hybrid": {}}
    for query, query_vector in zip(task.queries, query_vectors, strict=True):
        bm25 = lexical.search(task.queries[query], DEPTH)
        similarity = vectors @ query_vector
        dense = [(int(i), float(similarity[i])) for i in np.argsort(-similarity)[:DEPTH]]
        for name, scored in (("bm25", bm25), ("dense", dense), ("hybrid", convex_fusion([bm25, dense], [0.5, 0.5]))):
            ranked[name][query] = [(ids[i], score) for i, score in scored]
    return ranked


def summary(task: Task, ranked: dict[str, dict[str, list[tuple[str, float]]]]) -> dict[str, dict[str, dict]]:
    """{task or subset name: {retriever: {metric: value}}} over the queries ranked."""
    per_query = {name: ranking_scores({q: [doc for doc, _ in docs] for q, docs in by_query.items()}, task.qrels)
                 for name, by_query in ranked.items()}
    groups = {task.name: set(task.queries), **task.subsets}
    return {group: {name: {metric: round(mean([s[metric] for q, s in scored.items() if q in members]), 4)
                           for metric in ("ndcg@10", "recall@10")} for name, scored in per_query.items()}
            for group, members in groups.items()}


def scifact_abstracts(documents: list[dict]) -> dict[str, str]:
    """SciFact documents as ranked whole: {doc id: title, newline, abstract}."""
    return {str(d["doc_id"]): f"{d.get('title', '')}\n{' '.join(d['abstract'])}" for d in documents}


def lexical_index(documents: dict[str, str]) -> tuple[list[str], LexicalIndex]:
    """The documents' ids and a BM25 index over them whose ids are positions in that list."""
    ids = list(documents)
    return ids, LexicalIndex(list(range(len(ids))), texts=[documents[i] for i in ids])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", type=Path,
                        default=Settings().storage.home_dir / "models" / "retriever-seed13")
    parser.add_argument("--only", choices=["scifact", "pubmedqa", "arxiv"], help="score one set")
    args = parser.parse_args()
    if not (args.model / "manifest.json").is_file():
        print(f"no trained model at {args.model}: 'scisynth train retriever' makes one "
              "(about 30 minutes an epoch on 2 cores)")
        return
    models = {"bundled": load_embedder("minilm"), "trained": load_embedder(str(args.model))}
    print(f"trained model: {args.model} ({models['trained'].name})\n")
    rows = []
    for task in tasks():
        if args.only and not task.name.lower().startswith(args.only):
            continue
        ids, lexical = lexical_index(task.documents)
        results = {}
        for label, embedder in models.items():
            started = time.perf_counter()
            vectors = embedder.embed([task.documents[i] for i in ids])
            results[label] = summary(task, rankings(task, lexical, ids, vectors, embedder))
            print(f"{task.name}: {label} encoded and scored in {time.perf_counter() - started:.0f} s", flush=True)
        for group in results["bundled"]:
            for retriever in ("bm25", "dense", "hybrid"):
                base, trained = results["bundled"][group][retriever], results["trained"][group][retriever]
                rows.append([group, retriever, base["ndcg@10"], trained["ndcg@10"],
                             f"{trained['ndcg@10'] - base['ndcg@10']:+.3f}", base["recall@10"], trained["recall@10"]])
    print()
    print(table(["set", "retriever", "nDCG@10 bundled", "nDCG@10 trained", "change", "R@10 bundled",
                 "R@10 trained"], rows))


if __name__ == "__main__":
    main()
