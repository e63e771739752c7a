"""Sentence vectors for evidence selection: each sentence encoded alone vs "late chunking" (each sentence's
vector pooled from its chunk's own token vectors, at no extra encoding), side by side on the same texts.

Task: SciFact dev claims with rationales; for each gold evidence abstract, encoded as SciSynth indexes it
(title, newline, the sentences), rank its sentences by cosine to the claim. Reported: precision@1 (the top
sentence is a gold rationale sentence), MRR of the first rationale sentence, and encoding time per abstract
(late chunking's time includes the abstract's own vector, which ingest computes anyway).

Run: python -m benchmarks.bench_sentence_vectors [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from evals.datasets import SHARED_DATA_DIR as DATA
from evals.report import show
from retrieval.embeddings import SentenceTransformerEmbedder


def cases(limit: int | None) -> list[tuple[str, str, list[str], set[int]]]:
    """(claim, title, sentences, rationale sentence indices) per claim and gold evidence abstract."""
    corpus = {str(d["doc_id"]): d for d in map(json.loads, (DATA / "scifact" / "corpus.jsonl").open())}
    found = []
    for claim in map(json.loads, (DATA / "scifact" / "claims_dev.jsonl").open()):
        for doc, rationales in claim["evidence"].items():
            gold = {i for r in rationales for i in r["sentences"]}
            found.append((claim["claim"], corpus[doc]["title"], corpus[doc]["abstract"], gold))
    return found[:limit] if limit else found


def embed_late(embedder: SentenceTransformerEmbedder, text: str, spans: list[tuple[int, int]]) -> np.ndarray:
    """"Late chunking": the text through the encoder once; each span's vector is the mean of the token vectors
    inside it (as MiniLM pools a whole text), L2-normalised."""
    model = embedder._model
    matrix = model.encode([text], output_value="token_embeddings", show_progress_bar=False)[0].float().numpy()
    offsets = model.tokenizer([text], return_offsets_mapping=True, truncation=True,
                              max_length=model.max_seq_length)["offset_mapping"][0]
    starts, ends = np.array([s for s, _ in offsets]), np.array([e for _, e in offsets])
    rows = []
    for a, b in spans:
        inside = (ends > starts) & (starts >= a) & (ends <= b)
        vector = matrix[inside].mean(axis=0) if inside.any() else np.zeros(matrix.shape[1])
        rows.append(vector / (np.linalg.norm(vector) or 1.0))
    return np.asarray(rows, dtype=np.float32)


def _ranks(claim_vector: np.ndarray, sentence_vectors: np.ndarray, gold: set[int]) -> tuple[float, float]:
    order = list(np.argsort(-(sentence_vectors @ claim_vector)))
    first = next(i for i, s in enumerate(order) if s in gold)
    return float(order[0] in gold), 1.0 / (first + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, help="score only this many (claim, abstract) pairs")
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    pairs = cases(args.limit)
    claims = embedder.embed([claim for claim, *_ in pairs])
    rows = []
    for method in ("each sentence alone", "late chunking"):
        precision, reciprocal, began = [], [], time.perf_counter()
        for (_claim, title, sentences, gold), claim_vector in zip(pairs, claims, strict=True):
            if method == "each sentence alone":
                vectors = embedder.embed([*sentences, f"{title}\n{' '.join(sentences)}"])[:-1]
            else:
                text, spans, offset = f"{title}\n", [], len(title) + 1
                for sentence in sentences:
                    spans.append((offset, offset + len(sentence)))
                    offset += len(sentence) + 1
                text += " ".join(sentences)
                vectors = embed_late(embedder, text, spans)
            p1, rr = _ranks(claim_vector, vectors, gold)
            precision.append(p1)
            reciprocal.append(rr)
        seconds = time.perf_counter() - began
        rows.append([method, float(np.mean(precision)), float(np.mean(reciprocal)), 1000 * seconds / len(pairs)])
    print(f"{len(pairs)} (claim, gold abstract) pairs from SciFact dev\n")
    show(["sentence vectors", "precision@1", "MRR", "ms per abstract (encoding)"], rows)


if __name__ == "__main__":
    main()
