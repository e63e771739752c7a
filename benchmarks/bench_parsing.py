"""PDF parsing speed (pages/s, one core) and chunking speed; structure on the multi-publisher corpus (both
readers, and what ships); headings and reference lists against GROBID's parses; tables read beside PyMuPDF's
table finder; ingest of the 2,265 arXiv abstracts end to end.

Run: python -m benchmarks.bench_parsing [--skip-ingest]
"""

from __future__ import annotations

import argparse
import re
import resource
import tempfile
import time
from pathlib import Path
from typing import cast
from unittest import mock

import pymupdf

import tools.pdf
from evals.datasets import SHARED_DATA_DIR as DATA
from evals.datasets import default_data_dir
from evals.pdf_structure import DEVELOPMENT, read_with_layout_isolated
from evals.pdf_structure import run as run_pdf_structure
from evals.report import show
from evals.runner import markdown_table
from retrieval.chunking import caption_label, chunk_document
from retrieval.embedding_cache import CachedEmbedder
from tools.documents import Block, Document, title_key
from tools.pdf import parse_pdf
from tools.tei import parse_tei

_NOT_HEADINGS = {"", "Abstract", "Acknowledgements", "Figures", "Tables"}  # Figures/Tables: our TEI reader's


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _grobid_headings(tei: Path) -> list[str]:
    """GROBID's body headings, each bare and numbered ("2.1 Overview"). A head where GROBID merged a section's
    heading with its first subsection's ("Model 2.1 Overview", n=2) counts as both."""
    heads = []
    for section in parse_tei(tei).sections:
        if section.title in _NOT_HEADINGS:
            continue
        number, _, rest = section.title.partition(" ") if section.title[:1].isdigit() else ("", "", section.title)
        heads.extend(" ".join(filter(None, [number, part])) if i == 0 else part
                     for i, part in enumerate(re.split(r"\s(?=\d+\.\d+\s)", rest)))
    return heads


def _precision(headings: list[str], gold: set[str]) -> float:
    return sum(bool({title_key(h), title_key(h.split(" ", 1)[-1])} & gold) for h in headings) / max(1, len(headings))


def _scores(found: dict[str, bool], heads: list[str]) -> list[str]:
    """Recall of GROBID's headings; precision, with and without run-in headings (found[h] is True for one)."""
    gold = {title_key(h) for h in heads} | {title_key(h.split(" ", 1)[-1]) for h in heads}
    found = {h: run_in for h, run_in in found.items() if h not in _NOT_HEADINGS | {"Front matter"}}
    keys = {title_key(h) for h in found} | {title_key(h.split(" ", 1)[-1]) for h in found}
    recall = sum(title_key(h) in keys or title_key(h.split(" ", 1)[-1]) in keys for h in heads) / len(heads)
    return [f"{recall:.2f}", f"{_precision(list(found), gold):.2f}",
            f"{_precision([h for h, run_in in found.items() if not run_in], gold):.2f}", str(sum(found.values()))]


def bench_structure() -> list[list[object]]:
    """Per paper with a GROBID parse and per reader: pages/s, body heading recall and precision (GROBID leaves
    Abstract and Acknowledgements out of its body, so they are not counted), precision also without run-in
    headings, which GROBID marks only now and then; reference titles GROBID also found; reference entries
    leaked into body text."""
    rows = []
    for tei in sorted((DATA / "papers" / "parses").glob("*.tei.xml")):
        pdf = DATA / "papers" / tei.name.replace(".tei.xml", ".pdf")
        started = time.perf_counter()
        ours = parse_pdf(pdf)
        seconds = time.perf_counter() - started
        heads = _grobid_headings(tei)
        found = {s.title.split(" > ")[-1]: s.run_in for s in ours.sections} | {
            part: False for s in ours.sections for part in s.title.split(" > ")[:-1]}
        references = {title_key(r.title) for r in ours.references}
        grobid_references = parse_tei(tei).references
        matched = sum(title_key(r.title) in references for r in grobid_references)
        body = " ".join(b.text for s in ours.sections for b in s.blocks).lower()
        leaked = sum(r.raw[:60].lower() in body for r in ours.references)
        name = tei.name.replace(".tei.xml", "")
        rows.append([name, "font statistics + run-in (default)", f"{ours.page_count / seconds:.1f}",
                     *_scores(found, heads), f"{matched}/{len(grobid_references)}", len(ours.references), leaked])
        started = time.perf_counter()
        layout = read_with_layout_isolated(pdf)
        layout_seconds = time.perf_counter() - started
        rows.append([name, "layout model (the second reader)", f"{ours.page_count / layout_seconds:.1f}",
                     *_scores({h.title: False for h in layout.headings}, heads), "-", len(layout.references), "-"])
    return rows


def bench_corpus(data_dir: Path) -> tuple[dict, list[list[object]]]:
    """Every reader on the multi-publisher corpus (evals/pdf_structure.py): the suite's report, and per paper the
    shipped reader (which reader it chose) beside the font reader alone and the layout model alone."""
    report = run_pdf_structure(data_dir, ("shipped", "fonts-only", "layout-model-only"))
    by_paper: dict[str, dict[str, dict]] = {}
    for row in report["items"]:
        by_paper.setdefault(row["paper"], {})[row["variant"]] = row
    rows = []
    for paper, variants in by_paper.items():
        cells: list[object] = [paper, variants["shipped"]["family"],
                               "held out" if paper not in DEVELOPMENT else "development", variants["shipped"]["reader"]]
        for name in ("fonts-only", "layout-model-only", "shipped"):
            row = variants[name]
            cells += [f"{row['title_exact']:.0f}", _pair(row["l1_recall"], row["l1_precision"]),
                      _pair(row["l2_recall"], row["l2_precision"]),
                      f"{row['references_found']}/{row['references_gold']}", row["leaked_references"],
                      f"{row['body_words_kept']:.2f}", row["pages_per_second"]]
        rows.append(cells)
    return report, rows


def _pair(recall: float | None, precision: float | None) -> str:
    return "/".join("-" if value is None else f"{value:.2f}" for value in (recall, precision))


def _table_labels(document: Document) -> set[str]:
    return {caption_label(b.text) for s in document.sections for b in s.blocks
            if b.kind in ("caption", "table") and caption_label(b.text).startswith("Table")}


_CELL_NUMBER = re.compile(r"^[-+−]?\d+[.,]\d+%?$")  # "84.2", "0.93": a value, rarely a word of prose


def _cells_in_body(document: Document, tables: list[Block]) -> int:
    """Numeric cells of these tables that also stand as words in a paragraph of their page: what a reader
    without tables leaves in the body (a table's numbers read as prose); prose quoting a value counts too."""
    body: dict[int | None, set[str]] = {}
    for block in (b for s in document.sections for b in s.blocks if b.kind == "paragraph"):
        body.setdefault(block.page, set()).update(word.strip(".,;()") for word in block.text.split())
    return sum(cell.strip() in body.get(table.page, set()) for table in tables
               for row in table.text.split("\n")[3:] for cell in row.split("|")
               if _CELL_NUMBER.match(cell.strip()))


def bench_tables() -> list[list[object]]:
    """Per paper: the tables its captions name, GROBID's count where a parse exists, the tables the default
    reader (word positions) turns into rows, their numeric cells left in body paragraphs beside the same count
    for a parse with tables switched off (what the reader had before), and what PyMuPDF's table finder costs and
    finds on every page."""
    rows = []
    for path in sorted((DATA / "papers").glob("*.pdf")):
        started = time.perf_counter()
        document = parse_pdf(path)
        parse_seconds = time.perf_counter() - started
        blocks = [b for s in document.sections for b in s.blocks if b.kind == "table"]
        tables = [b.text.split("\n") for b in blocks]
        with mock.patch.object(tools.pdf, "MAX_TABLES_PER_PAGE", 0):  # the same parse, tables switched off
            without_tables = _cells_in_body(parse_pdf(path), blocks)
        tei = DATA / "papers" / "parses" / path.name.replace(".pdf", ".tei.xml")
        grobid = sum(len(s.blocks) for s in parse_tei(tei).sections if s.title == "Tables") if tei.exists() else "-"
        with pymupdf.open(path) as pdf:
            started = time.perf_counter()
            found = sum(len(page.find_tables().tables) for page in pdf)
            finder_seconds = time.perf_counter() - started
        rows.append([path.stem, len(_table_labels(document)), grobid, len(tables),
                     sum(max(0, len(t) - 3) for t in tables), _cells_in_body(document, blocks), without_tables,
                     document.page_count / parse_seconds, found,
                     document.page_count / finder_seconds])
    return rows


def bench_pdf(repeats: int = 5) -> list[list[object]]:
    rows = []
    for path in sorted((DATA / "papers").glob("*.pdf")):
        started = time.perf_counter()
        for _ in range(repeats):
            document = parse_pdf(path)
        parse_seconds = (time.perf_counter() - started) / repeats
        started = time.perf_counter()
        chunks = chunk_document(document)
        chunk_seconds = time.perf_counter() - started
        rows.append([path.name, document.page_count, document.page_count / parse_seconds, len(chunks),
                     len(chunks) / chunk_seconds])
    return rows


def bench_ingest_abstracts() -> list[object]:
    from agent.runtime import build_runtime
    from agent.settings import Settings

    with tempfile.TemporaryDirectory() as home:
        runtime = build_runtime(Settings(home=Path(home), llm="extractive"))
        started = time.perf_counter()
        results = runtime.ingestor.ingest_paths([DATA / "arxiv-abstracts" / "arxiv_abstracts_2023-03-07.jsonl"])
        seconds = time.perf_counter() - started
        return [len(results), runtime.catalog.chunk_count(), seconds, len(results) / seconds, peak_rss_mb()]


def _pdf_copies(folder: Path, copies: int) -> list[Path]:
    """`copies` renamed copies of each shared PDF: a stand-in for a folder of PDFs, with the shared papers' layouts
    and lengths. Each copy names other authors in its metadata (the printed title stays, and a paper with the same
    title and a shared author is the same paper to ingest), so ingest keeps each as a paper of its own."""
    paths = []
    for i in range(copies):
        for source in sorted((DATA / "papers").glob("*.pdf")):
            with pymupdf.open(source) as pdf:
                pdf.set_metadata({**(pdf.metadata or {}), "title": f"{source.stem} copy {i}",
                                  "author": f"Author Copy{i}"})
                paths.append(folder / f"{source.stem}-{i}.pdf")
                pdf.save(paths[-1])
    return paths


def bench_ingest_pdfs(copies: int) -> list[object]:
    """PDF ingest end to end on 2 cores (parse, tables, chunk, embed passages and sentences, SQLite, FAISS):
    papers per hour and the hours 1,000 such papers take."""
    from agent.runtime import build_runtime
    from agent.settings import Settings

    with tempfile.TemporaryDirectory() as home:
        paths = _pdf_copies(Path(home), copies)
        runtime = build_runtime(Settings(home=Path(home) / "library", llm="extractive"))
        # The copies repeat their texts, which the embedding cache would serve: encode every copy as a new paper.
        runtime.ingestor.encoder.embedder = cast(CachedEmbedder, runtime.embedder).inner
        started = time.perf_counter()
        results = runtime.ingestor.ingest_paths(paths)
        seconds = time.perf_counter() - started
        pages = sum(pymupdf.open(path).page_count for path in paths)
        added = sum(r.status == "added" for r in results)
        if added < len(paths):
            raise RuntimeError(f"only {added} of {len(paths)} copies were added: the figures would not be per paper")
        return [added, pages, runtime.catalog.chunk_count(), seconds, pages / seconds, 3600 * added / seconds,
                1000 * seconds / added / 3600]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-ingest", action="store_true", help="only the PDF parsing tables")
    parser.add_argument("--copies", type=int, default=10, help="copies of each shared PDF in the PDF ingest run")
    args = parser.parse_args()
    print("## PDF parsing (one core; chunking with the word-count tokenizer)\n")
    show(["paper", "pages", "pages/s", "chunks", "chunks/s"], bench_pdf())
    print("\n## Tables: the default reader (word positions next to a caption) and PyMuPDF's table finder\n")
    show(["paper", "tables named by captions", "GROBID tables", "tables read", "data rows",
                 "numeric cells in body text", "... with tables off", "pages/s (whole parse)", "find_tables: tables",
                 "find_tables: pages/s"], bench_tables())
    corpus = default_data_dir("pdf-corpus")
    if corpus is not None:
        report, rows = bench_corpus(corpus)
        readers = ("fonts", "layout model", "shipped")
        print("\n## Structure on the multi-publisher corpus (real PDFs, hand-made gold): the font reader alone, the "
              "layout model alone, and what ships (the font reader, and the layout model when its parse looks "
              "wrong)\n")
        show(["paper", "family", "set", "shipped reads with",
                     *[f"{reader}: {metric}" for reader in readers for metric in (
                         "title", "L1 R/P", "L2 R/P", "references", "leaked", "body words", "pages/s")]], rows)
        print("\nMeans over papers (all, and the held-out ones):\n")
        print(markdown_table(report))
    print("\n## Structure against GROBID's parses: our font reader (font statistics, outline, patterns, run-in "
          "headings) and the layout model\n")
    show(["paper", "reader", "pages/s", "heading recall", "heading precision",
                 "precision, run-in headings aside", "run-in headings", "GROBID references found",
                 "references parsed", "entries leaked into body"], bench_structure())
    if not args.skip_ingest:
        print(f"\n## PDF ingest end to end ({args.copies} renamed copies of each shared PDF, every text encoded; goal: "
              "1,000 papers in under an hour)\n")
        show(["papers", "pages", "chunks", "seconds", "pages/s", "papers/hour", "hours per 1,000 papers"],
                    [bench_ingest_pdfs(args.copies)])
        print("\n## Ingest of the arXiv abstracts JSONL (parse, chunk, embed with MiniLM, SQLite, FAISS)\n")
        show(["papers", "chunks", "seconds", "papers/s", "peak RSS MB"], [bench_ingest_abstracts()])


if __name__ == "__main__":
    main()
