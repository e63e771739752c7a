"""How long an evidence table takes with no model (issue 42's goal: 20 papers x 6 columns in <= 10 s on 2 cores).

The library: every full-text paper of the shared data (the 3 ACL PDFs, the 15 publisher PDFs of pdf-corpus, the 9
PMC JATS articles: 27 papers), built once in .bench-home/tables. The rows: a seeded sample of 20 of them; the
columns: the clinical preset (6), the ml preset (5), and 6 specific questions. The first table of a paper also
encodes its table rows with their captions (kept in the embedding cache): "cold" is that first build, "warm" the
median of the next three. Printed beside them: how many cells were reported, and a claim check's time on the same
papers for scale.

Run: python -m benchmarks.bench_tables
"""

from __future__ import annotations

import random
import statistics
import time

from agent.evidence_tables import TableBuilder, columns_for
from agent.runtime import Runtime, build_runtime
from agent.stance import load_stance
from benchmarks.bench_api import DATA, HOME, _settings
from evals.report import show

FILES = [*sorted((DATA / "papers").glob("*.pdf")), *sorted((DATA / "pdf-corpus").glob("*/paper.pdf")),
         *sorted((DATA / "pmc-jats").glob("*.nxml"))]
QUESTIONS = ["How many participants were enrolled and followed up?", "Which statistical test compared the groups?",
             "What was the main limitation the authors acknowledge?", "Which software was used for the analysis?",
             "What accuracy or effect size was reported for the main outcome?",
             "Where and when were the data collected?"]


def library() -> Runtime:
    runtime = build_runtime(_settings(HOME / "tables"))
    if runtime.catalog.paper_count() < len(FILES):
        print(f"building the table library of {len(FILES)} papers in .bench-home/tables (once)...", flush=True)
        runtime.ingestor.ingest_paths(FILES)
    return runtime


def main() -> None:
    runtime = library()
    papers = sorted(p.paper_id for p in runtime.catalog.papers(limit=None))
    rows = random.Random(42).sample(papers, min(20, len(papers)))
    builder = TableBuilder(runtime.searcher, runtime.scorer, load_stance(""))
    builder.build(rows[:1], columns_for(["warm-up?"], None))  # models loaded, caches open
    lines = []
    for name, columns in (("clinical preset", columns_for(None, "clinical")), ("ml preset", columns_for(None, "ml")),
                          ("6 specific questions", columns_for(QUESTIONS, None))):
        times, reported = [], 0
        for _ in range(4):
            began = time.perf_counter()
            built = builder.build(rows, columns)
            times.append(time.perf_counter() - began)
            reported = sum(cell.reported for row in built.rows for cell in row.cells)
        cells = len(rows) * len(columns)
        lines.append([f"{len(rows)} papers x {len(columns)} columns ({name})", f"{times[0]:.2f}",
                      f"{statistics.median(times[1:]):.2f}", f"{reported}/{cells}", "<= 10 s"])
    print(f"library of {runtime.catalog.paper_count()} full-text papers ({runtime.catalog.chunk_count()} passages), "
          "no model, in process\n")
    show(["table", "cold s", "warm s", "cells reported", "goal"], lines)


if __name__ == "__main__":
    main()
