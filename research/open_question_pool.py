"""Issue 40: the pool of sentences to hand-label for open-question detection (evals/open_questions/pool.jsonl).

From every full text we have (the shared PDFs, the publisher PDF corpus, the JATS articles, the unarXive records
with a section about open questions, and the held-out PDFs in evals/pdf_corpus_extra), each paper's body-prose
sentences are split as SciSynth splits them, and a seeded sample is drawn per paper so that both kinds of error
can be seen: sentences the current finder flags, sentences only the keyword baseline flags, unflagged sentences
of the sections where authors discuss (Discussion, Conclusions, Limitations, ...) and a few from anywhere else.
Each sentence is stored with its section path and the sentences before it in its section (what the finder's
listing rule reads), so the evaluation needs no PDF reader.

    python -m research.open_question_pool [--data-dir ../shared/data] [--out evals/open_questions/pool.jsonl]

A later batch of papers (ones no rule was written on) is drawn the same way into a file of its own beside the pool
(`pool-batchN.jsonl`, ids continuing), its rows marked with the batch number, so the evaluation can hold the whole
batch out:

    python -m research.open_question_pool --add-batch 2 PAPER.pdf ...
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
from pathlib import Path

from agent.gaps import stated_gaps
from agent.prose import is_body_prose
from evals.hypotheses import _GAP_KEYWORDS
from evals.open_questions import pool_file, pool_rows
from evals.paper_structure import unarxive_gap_records
from retrieval.chunking import chunk_document
from retrieval.search import Passage
from tools.documents import Document
from tools.parsers import iter_documents

SEED = 40
_DISCUSSING = re.compile(r"discussion|conclu|limitation|future|outlook|perspective|summary|open|challenge",
                         re.IGNORECASE)
PER_PAPER = {"finder": 6, "keyword only": 4, "discussing, unflagged": 5, "elsewhere": 2}
CONTEXT = 8  # sentences of the section before the labelled one


def passages_of(document: Document) -> list[Passage]:
    return [Passage(chunk_id=i, paper_id=document.paper_id, title=document.title, section=c.section, page=None,
                    page_start=None, page_end=None, text=c.text, score=0.0, page_spans=c.page_spans)
            for i, c in enumerate(chunk_document(document))]


def paper_sentences(document: Document, source: str) -> list[dict]:
    """Each body-prose sentence of the paper (the overlap between chunks counted once), with its flags."""
    passages = passages_of(document)
    kinds = stated_gaps(passages)
    seen: set[tuple[str, str]] = set()
    rows: list[dict] = []
    by_section: dict[str, list[str]] = {}
    for passage in passages:
        for start, end in passage.sentence_spans():
            text = passage.text[start:end]
            if (passage.section, text) in seen:
                continue
            seen.add((passage.section, text))
            before = by_section.setdefault(passage.section, [])
            if is_body_prose(passage, text):
                rows.append({"paper": source, "title": document.title, "section": passage.section, "text": text,
                             "before": before[-CONTEXT:], "finder": kinds.get((passage.chunk_id, start)),
                             "keyword": bool(_GAP_KEYWORDS.search(text))})
            before.append(text)
    return rows


def stratum(row: dict) -> str:
    if row["finder"]:
        return "finder"
    if row["keyword"]:
        return "keyword only"
    return "discussing, unflagged" if _DISCUSSING.search(row["section"]) else "elsewhere"


def sources(data_dir: Path, extra_dir: Path, work: Path) -> list[tuple[str, Path]]:
    files = sorted(data_dir.glob("papers/*.pdf")) + sorted(data_dir.glob("pdf-corpus/*/*.pdf"))
    files += sorted(data_dir.glob("pmc-jats/*.nxml")) + sorted(extra_dir.glob("*/*.pdf"))
    found = [(f"{f.parent.name}/{f.name}", f) for f in files]
    return [*found, ("unarxive", unarxive_gap_records(data_dir / "unarxive", work))]


def blind_copy(folder: Path, out: Path, batch: int | None = None) -> None:
    """What the readers labelled: each sentence (of one batch, if given) with its title, section and the three
    sentences before it, without the flags and the stratum that drew it."""
    with out.open("w") as handle:
        for row in pool_rows(folder):
            if batch and row.get("batch") != batch:
                continue
            handle.write(json.dumps({"id": row["id"], "title": row["title"], "section": row["section"],
                                     "before": row["before"][-3:], "text": row["text"]}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--extra-dir", type=Path, default=Path("evals/pdf_corpus_extra"))
    parser.add_argument("--out", type=Path, default=Path("evals/open_questions/pool.jsonl"))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "open-question-pool",
                        help="where the unarXive records with open-question sections are unpacked")
    parser.add_argument("--blind", type=Path, metavar="FILE.jsonl", help="write the readers' copy of an existing "
                        "pool (no flags, no strata; with --add-batch, of that batch only) to FILE and stop")
    parser.add_argument("--add-batch", type=int, metavar="N", help="append batch N, drawn from the papers given, "
                        "to the pool (ids continue; rows marked with the batch)")
    parser.add_argument("papers", nargs="*", type=Path, help="with --add-batch: the papers to draw from")
    args = parser.parse_args()
    if args.blind:
        blind_copy(args.out.parent, args.blind, args.add_batch)
        return
    if args.add_batch:
        if not args.papers:
            parser.error("--add-batch needs the papers to draw from")
        found = [(f"batch{args.add_batch}/{f.name}", f) for f in args.papers]
        write_pool(draw(found, random.Random(SEED + args.add_batch)), args.out, args.add_batch)
        return
    write_pool(draw(sources(args.data_dir, args.extra_dir, args.work), random.Random(SEED)), args.out)


def draw(found: list[tuple[str, Path]], rng: random.Random) -> list[dict]:
    """Each paper's seeded sample per stratum, shuffled."""
    pool: list[dict] = []
    for name, path in found:
        for document in iter_documents(path):
            if isinstance(document, Exception):
                print(f"skipped {name}: {document}")
                continue
            source = name if name != "unarxive" else f"unarxive/{document.paper_id}"
            rows = paper_sentences(document, source)
            for label, most in PER_PAPER.items():
                members = [r for r in rows if stratum(r) == label]
                pool += [{**r, "stratum": label} for r in rng.sample(members, min(most, len(members)))]
            print(f"{source}: {len(rows)} sentences")
    rng.shuffle(pool)
    return pool


def write_pool(pool: list[dict], out: Path, batch: int | None = None) -> None:
    """The first pool (`out`), or a later batch in a file of its own beside it (`pool-batchN.jsonl`), its ids after
    the existing ones."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = pool_rows(out.parent)
    if batch and any(row.get("batch", 1) > batch for row in rows):
        raise SystemExit(f"batch {batch} is not the last: re-drawn in place it would move the ids of the batches "
                         f"after it away from their labels (draw it with --out into another folder to compare)")
    first = sum(row.get("batch", 1) != batch for row in rows) if batch else 0  # a re-draw keeps its first id
    with (pool_file(out.parent, batch) if batch else out).open("w") as handle:
        for i, row in enumerate(pool, start=first):
            handle.write(json.dumps({"id": i, **row, **({"batch": batch} if batch else {})}) + "\n")
    counts = {label: sum(r["stratum"] == label for r in pool) for label in PER_PAPER}
    print(f"{len(pool)} sentences from {len({r['paper'] for r in pool})} papers: {counts}")


if __name__ == "__main__":
    main()
