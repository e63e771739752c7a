"""tables: are an evidence table's cells right? Three sets, each a column asked of papers that answer it and of
papers that do not:

- `scifact`: SciFact dev claims as columns; rows are each claim's evidence abstracts and the abstracts retrieval
  ranks highest that are not evidence. An evidence row's cell is right when it quotes a gold rationale sentence,
  a non-evidence row's when it says "not reported";
- `pubmedqa`: PubMedQA test questions as columns; rows are the question's own abstract (which answers it) and the
  pooled abstracts retrieval ranks highest (which do not: each PubMedQA abstract answers its own question);
- `table-rows`: 20 questions whose answer is a row of a table in the shared PDFs and JATS papers
  (evals/table_rows/, written by its RULES.md), asked of all six papers: the right paper's cell must quote a
  sentence or table row holding the answer, the others must say "not reported".

Per set: `precision` (reported cells that are right), `recall` (answering rows whose cell is right),
`not_reported_accuracy` (rows that do not answer, left "not reported"). Every quote is checked verbatim against
its paper, cell by cell: one that is not stops the eval (it is a defect, not a score). Beside each, the baseline
of each paper's most similar sentence: quoted when at least the product's relevance cutoff similar, and
(`-matched`) at the similarity that reports as many cells as the table does, so it differs from the table only in
which cells and sentences it picks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.evidence_tables import Cell, Column, TableBuilder
from agent.runtime import Runtime, build_runtime
from agent.settings import Settings
from agent.stance import load_stance
from evals import pubmedqa
from evals.datasets import eval_home, library_settings, load_scifact, sha256_file, subset
from evals.scifact_retrieval import build_library, rank_documents, ranking_home
from retrieval.embeddings import Embedder
from retrieval.search import Passage

TABLE_ROWS = Path(__file__).with_name("table_rows") / "questions.jsonl"
OTHER_ROWS = 3  # retrieved rows that do not answer, per column


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


@dataclass
class Tally:
    """Cells of one system: (answers, reported, right) per cell, and each answering cell's similarity score."""

    cells: list[tuple[bool, bool, bool]] = field(default_factory=list)

    def add(self, answers: bool, reported: bool, right: bool) -> None:
        self.cells.append((answers, reported, reported and right))

    def metrics(self) -> dict[str, float | int]:
        reported = [c for c in self.cells if c[1]]
        answering = [c for c in self.cells if c[0]]
        silent = [c for c in self.cells if not c[0]]
        return {"precision": round(sum(c[2] for c in reported) / max(1, len(reported)), 4),
                "recall": round(sum(c[2] for c in answering) / max(1, len(answering)), 4),
                "not_reported_accuracy": round(sum(not c[1] for c in silent) / max(1, len(silent)), 4),
                "cells": len(self.cells), "answering": len(answering)}


@dataclass
class Scored:
    """The table's cells and the most-similar baseline's on one set."""

    table: Tally = field(default_factory=Tally)
    similar: list[tuple[bool, float, bool]] = field(default_factory=list)  # (answers, best cosine, its quote right)

    def add(self, answers: bool, cell: Cell, right: Callable[[str], bool], best: tuple[float, str] | None,
            paper_text: str) -> None:
        if cell.quote is not None and cell.quote not in paper_text:  # a cell is a span of its paper: never a score
            raise AssertionError(f"an eval cell quotes text its paper does not hold: {cell.quote[:200]!r}")
        self.table.add(answers, cell.reported, cell.quote is not None and right(cell.quote))
        cosine, quote = best if best else (-1.0, "")
        self.similar.append((answers, cosine, bool(quote) and right(quote)))

    def baseline(self, cutoff: float) -> dict[str, float | int]:
        tally = Tally()
        for answers, cosine, right in self.similar:
            tally.add(answers, cosine >= cutoff, right)
        return tally.metrics()

    def report(self, cutoff: float) -> dict[str, dict]:
        table = self.table.metrics()
        shown = sum(reported for _, reported, _ in self.table.cells)
        cosines = sorted((c for _, c, _ in self.similar), reverse=True)
        matched = cosines[shown - 1] if shown else float("inf")  # as many cells reported as the table
        return {"table": table,
                "baseline-most-similar": self.baseline(cutoff),
                "baseline-most-similar-matched": {**self.baseline(matched), "cutoff": round(float(matched), 4)}}


def _most_similar(builder: TableBuilder, question: str, passages: list[Passage]) -> tuple[float, str] | None:
    sentences = [s for scored in builder.scorer.read(question, passages) for s in scored]
    if not sentences:
        return None
    best = max(sentences, key=lambda s: s.score)
    return best.score, best.text


def _ask(builder: TableBuilder, scored: Scored, runtime: Runtime, question: str, rows: dict[str, bool],
         right: Callable[[str, str], bool]) -> None:
    """One column asked of these rows (paper id -> it answers); `right(paper, quote)`."""
    column = Column.asking(question)
    for paper, answers in rows.items():
        passages = runtime.searcher.paper_passages([paper])
        cell = builder.cell(column, passages)
        scored.add(answers, cell, lambda quote, paper=paper: right(paper, quote),
                   _most_similar(builder, question, passages), runtime.catalog.paper_text(paper))


def _builder(runtime: Runtime, settings: Settings) -> TableBuilder:
    return TableBuilder(runtime.searcher, runtime.scorer, load_stance(settings.answer.stance_model))


def scifact(settings: Settings, data_dir: Path, limit: int | None, corpus_limit: int | None,
            embedder: Embedder | None, on_item: Callable[[], None] | None) -> tuple[dict[str, Scored], dict]:
    dataset = subset(load_scifact(data_dir, "dev"), corpus_limit, limit)
    claims = {str(c["id"]): c for c in map(json.loads, (data_dir / "claims_dev.jsonl").open())}
    abstracts = {str(d["doc_id"]): d["abstract"] for d in dataset.documents}
    runtime = build_library(dataset, ranking_home(settings, dataset), settings, embedder, sentence_vectors=False)
    chunk_papers = runtime.catalog.chunk_papers()
    builder, scored = _builder(runtime, settings), Scored()
    for claim_id, text in dataset.queries.items():
        evidence = {doc: sorted({i for group in groups for i in group["sentences"]})
                    for doc, groups in claims[claim_id].get("evidence", {}).items() if doc in abstracts}
        others = [d for d in rank_documents(runtime, chunk_papers, text, "hybrid") if d not in evidence]
        rows = {doc: True for doc in evidence} | {doc: False for doc in others[:OTHER_ROWS]}
        gold = {doc: [_normal(abstracts[doc][i]) for i in rows_] for doc, rows_ in evidence.items()}

        def right(paper: str, quote: str, gold: dict[str, list[str]] = gold) -> bool:
            said = _normal(quote)
            return any(said in g or g in said for g in gold.get(paper, []))
        _ask(builder, scored, runtime, text, rows, right)
        if on_item:
            on_item()
    return {"scifact": scored}, {"name": "SciFact dev", "claims": len(dataset.queries),
                                 "documents": len(dataset.documents)}


def pubmed(settings: Settings, data_dir: Path, limit: int | None, embedder: Embedder | None,
           on_item: Callable[[], None] | None) -> tuple[dict[str, Scored], dict]:
    records, test = pubmedqa.load(data_dir)
    runtime = pubmedqa.shared_library(records, settings, embedder)
    builder, scored = _builder(runtime, settings), Scored()
    chosen = pubmedqa.sample(test, limit)
    for pmid in chosen:
        question = records[pmid]["QUESTION"]
        others = [p for p in builder.papers_for(question, OTHER_ROWS + 1) if p != pmid][:OTHER_ROWS]
        _ask(builder, scored, runtime, question, {pmid: True} | {p: False for p in others},
             lambda paper, _quote, pmid=pmid: paper == pmid)
        if on_item:
            on_item()
    return {"pubmedqa": scored}, {"name": "PubMedQA test", "questions": len(chosen), "documents": len(records)}


def table_library(settings: Settings, shared: Path, embedder: Embedder | None, files: list[str]) -> Runtime:
    """The papers the table-row questions ask about, ingested once per set of file contents."""
    key = sha256_file(TABLE_ROWS)[:8] + "-" + "".join(sha256_file(shared / f)[:4] for f in sorted(files))
    runtime = build_runtime(library_settings(settings, eval_home(settings) / "table-rows" / key),
                            embedder=embedder)
    if runtime.catalog.paper_count() < len(files):
        runtime.ingestor.ingest_paths([shared / f for f in files])
    return runtime


def table_rows(settings: Settings, shared: Path, embedder: Embedder | None,
               on_item: Callable[[], None] | None) -> tuple[dict[str, Scored], dict]:
    """The questions the builder's reading of table rows was chosen with, and those written after (held out),
    scored apart; every question is asked of every paper of the set."""
    questions = [json.loads(line) for line in TABLE_ROWS.open()]
    files = sorted({q["file"] for q in questions})
    runtime = table_library(settings, shared, embedder, files)
    paper_of = {f: (paper.paper_id if (paper := runtime.catalog.paper_at((shared / f).resolve())) else f)
                for f in files}
    builder = _builder(runtime, settings)
    scored = {"table-rows": Scored(), "table-rows-held-out": Scored()}
    for question in questions:
        answering = paper_of[question["file"]]
        rows = {paper_of[f]: paper_of[f] == answering for f in files}
        _ask(builder, scored["table-rows-held-out" if question.get("held_out") else "table-rows"], runtime,
             question["question"], rows,
             lambda paper, quote, q=question, a=answering: paper == a and any(g in quote for g in q["gold"]))
        if on_item:
            on_item()
    held_out = sum(bool(q.get("held_out")) for q in questions)
    return scored, {"name": "table-row questions", "questions": len(questions), "held_out": held_out,
                    "papers": len(files)}


def run(settings: Settings, folders: Callable[[str], Path], limit: int | None = None,
        corpus_limit: int | None = None, embedder: Embedder | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    """`folders(name)`: the shared data folder of that name (scifact, pubmedqa, or the root: "")."""
    started = time.perf_counter()
    cutoff = settings.answer.relevance_cutoff
    metrics: dict[str, dict] = {}
    datasets = {}
    sets = {"scifact": lambda: scifact(settings, folders("scifact"), limit, corpus_limit, embedder, on_item),
            "pubmedqa": lambda: pubmed(settings, folders("pubmedqa"), limit, embedder, on_item),
            "table-rows": lambda: table_rows(settings, folders(""), embedder, on_item)}
    for name, measure in sets.items():
        measured, dataset = measure()
        datasets[name] = dataset
        for part, scored in measured.items():
            metrics |= {f"{part}.{variant}": row for variant, row in scored.report(cutoff).items()}
    return {"suite": "tables", "dataset": datasets,
            "settings": {"other_rows": OTHER_ROWS, "relevance_cutoff": cutoff,
                         "sampling": "claims stratified by label, questions by answer (seed 13)"},
            "metrics": metrics, "timings": {"seconds": round(time.perf_counter() - started, 2)}}
