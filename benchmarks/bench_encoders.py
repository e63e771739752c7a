"""MiniLM under torch, with float32 and with bfloat16 matrix products (SciSynth ships the latter where the CPU
has them in hardware: retrieval/embeddings.py: native_bfloat16), against the same model exported to ONNX Runtime
(fp32 and dynamic int8), side by side on the same texts: passages/s, queries/s (one query per call, as at question
time) and dense SciFact nDCG@10 on the dev claims over the whole corpus.

The decision rule (issue 16): switch only where nDCG@10 stays within 0.005 of torch and passage throughput
improves by at least 1.5x. The ONNX files come from optimum, which pins an older transformers than SciSynth,
so `make onnx-models` exports them in a separate virtualenv (benchmarks/export_onnx.py); without them
this benchmark prints the torch row and says how to get the others.

Run: python -m benchmarks.bench_encoders [--onnx-dir .bench-onnx] [--queries 300]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.datasets import SHARED_DATA_DIR as DATA
from evals.datasets import load_scifact
from evals.metrics import mean, ranking_scores
from evals.report import show
from retrieval.embeddings import SentenceTransformerEmbedder, native_bfloat16

ROOT = Path(__file__).resolve().parents[1]
NDCG_TOLERANCE, SPEEDUP_NEEDED = 0.005, 1.5


class OnnxMiniLM:
    """Mean-pooled, L2-normalised MiniLM through ONNX Runtime: what sentence-transformers computes, minus torch."""

    def __init__(self, folder: Path, max_tokens: int = 256, batch_size: int = 64) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_file = next(folder.glob("*.onnx"))
        self.session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding()
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = []
        for start in range(0, len(texts), self.batch_size):
            encodings = self.tokenizer.encode_batch(texts[start:start + self.batch_size])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            tokens = self.session.run(None, {k: v for k, v in feed.items() if k in self.input_names})[0]
            pooled = (tokens * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            rows.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.vstack(rows).astype(np.float32)


def _measure(name: str, embed: Callable[[list[str]], np.ndarray], passages: list[str], doc_ids: list[str],
             queries: dict[str, str], qrels: dict[str, set[str]]) -> dict[str, float | str]:
    embed(passages[:64])  # warm-up: first-call allocations are not throughput
    began = time.perf_counter()
    doc_vectors = np.vstack([embed(passages[i:i + 256]) for i in tqdm(range(0, len(passages), 256),
                                                                         desc=f"{name} passages", leave=False)])
    passage_seconds = time.perf_counter() - began
    began = time.perf_counter()
    query_vectors = np.vstack([embed([text]) for text in queries.values()])
    query_seconds = time.perf_counter() - began
    top = np.argsort(-(query_vectors @ doc_vectors.T), axis=1)[:, :100]
    rankings = {q: [doc_ids[i] for i in row] for q, row in zip(queries, top, strict=True)}
    per_query = ranking_scores(rankings, qrels)
    return {"encoder": name, "passages/s": len(passages) / passage_seconds, "queries/s": len(queries) / query_seconds,
            "ndcg@10": mean([s["ndcg@10"] for s in per_query.values()])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx-dir", type=Path, default=ROOT / ".bench-onnx",
                        help="folder with fp32/ and int8/ exports (default: .bench-onnx, made by `make onnx-models`)")
    parser.add_argument("--queries", type=int, default=300, help="SciFact dev claims to score (default: all 300)")
    args = parser.parse_args()
    dataset = load_scifact(DATA / "scifact")
    passages = [f"{d['title']}. {' '.join(d['abstract'])}" for d in dataset.documents]
    doc_ids = [str(d["doc_id"]) for d in dataset.documents]
    queries = dict(list(dataset.queries.items())[:args.queries])
    Encode = Callable[[list[str]], np.ndarray]
    encoders: list[tuple[str, Encode]] = [("torch fp32", SentenceTransformerEmbedder(bfloat16=False).embed),
                                          ("torch bfloat16", SentenceTransformerEmbedder(bfloat16=True).embed)]
    shipped = "torch bfloat16" if native_bfloat16() else "torch fp32"
    for variant in ("fp32", "int8"):
        if (args.onnx_dir / variant).is_dir():
            encoders.append((f"onnxruntime {variant}", OnnxMiniLM(args.onnx_dir / variant).embed))
        else:
            print(f"(onnxruntime {variant}: no export in {args.onnx_dir / variant}; run `make onnx-models`)")
    rows = [_measure(name, embed, passages, doc_ids, queries, dataset.qrels) for name, embed in encoders]
    torch_row = rows[0]
    for row in rows:
        speedup = float(row["passages/s"]) / float(torch_row["passages/s"])
        drop = float(torch_row["ndcg@10"]) - float(row["ndcg@10"])
        row["speed-up"] = speedup
        row["switch?"] = "(shipped)" if row["encoder"] == shipped else "(reference)" if row is torch_row else (
            "yes" if speedup >= SPEEDUP_NEEDED and drop <= NDCG_TOLERANCE else "no")
    print(f"{len(passages)} SciFact passages, {len(queries)} claims, 2 cores; rule: nDCG@10 within "
          f"{NDCG_TOLERANCE} of torch and >= {SPEEDUP_NEEDED}x passages/s\n")
    headers = ["encoder", "passages/s", "queries/s", "ndcg@10", "speed-up", "switch?"]
    show(headers, [[row[h] for h in headers] for row in rows])


if __name__ == "__main__":
    main()
