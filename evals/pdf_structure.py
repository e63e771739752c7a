"""pdf-structure: how well a PDF reader recovers a paper's structure, on real open-access PDFs of many publishers
(../shared/data/pdf-corpus, and the papers in evals/pdf_corpus_extra: one folder per paper, `paper.pdf` and a
hand-made `gold.json`).

Per paper: the title (exact, after normalising case, punctuation and white space), the authors (F1 of the names
against those printed under the title, `evals/pdf_authors.json`; every paper there was read while the byline reader
was written, so its held-out figure comes from papers outside the corpus: docs/evals.md), level-1 and level-2 heading
recall and precision (headings compared case-, punctuation- and number-insensitively, as the gold's conventions
say; a gold heading vouches for one found heading per time it occurs, so a running head taken for a heading on
every page is not counted right on every page), reference entries found against the gold count, whether the first
and last reference were found (edit ratio >= 0.9), reference entries leaked into body passages (the gold's first
and last entries, looked for in the body text), the share of the body's words kept (the words PyMuPDF's plain
text has before the reference list, found in the passages), pages per second and which reader ran. The baseline
beside the reader: PyMuPDF's plain text with no structure (every heading recall 0, every reference leaked).

Part of the corpus is held out: the readers were developed on the other papers (`DEVELOPMENT`), and the held-out
papers' figures are reported apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import time
import unicodedata
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import pymupdf

from tools.documents import Block, Document, Section, title_key
from tools.front_matter import name_key
from tools.isolation import run_isolated
from tools.pdf import dehyphenated, page_repeat_key, parse_pdf, read_with_fonts

log = logging.getLogger(__name__)

# The papers the readers were tuned on; the rest are held out. Chosen before any tuning (alphabetical order, every
# other paper), then bmc_hsr_example2 and pnas_2024 joined them when their parses were studied while developing.
# The papers in evals/pdf_corpus_extra were added after the readers were written and are all held out.
DEVELOPMENT = ("asm_msphere_2024", "bmc_biology_2024", "bmc_hsr_example2", "cellpress_curbiol_2024",
               "elife_rp91357_2023", "iop_confseries_papermage", "nature_ncomms_2022", "plos_one_2018", "pnas_2024",
               "springer_diabetologia_2024")
_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*\.?|[IVXLC]+\.|[A-Z]\.|[A-Z](?=\s))\s+")
MATCH_RATIO = 0.9
PROSE_WORDS = 5
_REFERENCE_HEADINGS = {"references", "bibliography", "literature cited", "references and notes", "reference list"}
EXTRA = Path(__file__).with_name("pdf_corpus_extra")
AUTHORS = Path(__file__).with_name("pdf_authors.json")
# What the gold leaves out by its conventions (SOURCES.md), so a reader that reports them is not marked down.
_NOT_IN_GOLD = re.compile(r"^(abstract|keywords?|key ?words|highlights|significance( statement)?|importance|summary|"
                          r"elife assessment|open access|publisher'?s note|graphical abstract|in brief)$")


@dataclass(frozen=True)
class Gold:
    folder: str
    pdf: Path
    title: str
    headings: list[tuple[str, int]]
    n_references: int
    first_reference: str
    last_reference: str
    family: str = ""
    doi: str | None = None  # from the corpus index, when the paper has one
    year: int | None = None
    authors: tuple[str, ...] | None = None  # from evals/pdf_authors.json, when it lists the paper


def load_corpus(root: Path) -> list[Gold]:
    """The papers of one corpus folder, with their layout family from its index.json when it has one."""
    index = root / "index.json"
    entries = {entry["folder"]: entry for entry in json.loads(index.read_text())} if index.is_file() else {}
    authors = json.loads(AUTHORS.read_text())["authors"]
    golds = []
    for folder in sorted(p for p in root.iterdir() if (p / "gold.json").is_file()):
        if not (folder / "paper.pdf").is_file():
            log.warning("%s: its PDF is not here (kept out of the repository for its size); "
                        "'python -m evals.pdf_structure --download' fetches it", folder.name)
            continue
        gold = json.loads((folder / "gold.json").read_text())
        golds.append(Gold(folder.name, folder / "paper.pdf", gold["title"],
                          list(zip(gold["headings"], gold["heading_levels"], strict=True)), gold["n_references"],
                          gold["first_reference"], gold["last_reference"], **_published(entries.get(folder.name, {})),
                          authors=tuple(authors[folder.name]) if folder.name in authors else None))
    return golds


def _published(entry: dict) -> dict:
    """Family, DOI and year of a corpus index entry ("Nature Communications (2022) 13:2882" -> 2022)."""
    venue = entry.get("publisher_venue", "")
    year = re.search(r"\(((?:19|20)\d\d)\)", venue) or re.search(r"\b((?:19|20)\d\d)\b", venue)
    doi = entry.get("doi") or ""
    return {"family": entry.get("family", ""), "doi": doi.lower() if doi.startswith("10.") else None,
            "year": int(year.group(1)) if year else None}


def normal(text: str) -> str:
    """Case, punctuation, ligatures and white space folded: how titles and references are compared."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "").replace("\u200b", "").replace("\u2011", "-")
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def heading_key(text: str) -> str:
    """A heading without its numbering, compared by letters and digits only."""
    return title_key(_NUMBERING.sub("", unicodedata.normalize("NFKC", text)))


def _similar(first: str, second: str) -> bool:
    a, b = normal(first), normal(second)
    return bool(a and b) and SequenceMatcher(None, a, b, autojunk=False).ratio() >= MATCH_RATIO


def body_words_kept(document: Document, gold: Gold) -> float:
    """The share of the body's words that the document's passages and headings hold (as a multiset): what a reader
    lost by dropping text it should have kept. The body: the prose lines of PyMuPDF's plain text (five words or
    more: not a figure's labels or a table's cells), without the reference list (the lines from the gold's first
    entry to its last) and without running heads and feet (a line, digits aside, printed on three pages or more)."""
    with pymupdf.open(gold.pdf) as opened:
        lines = [(number, line) for number, page in enumerate(opened) for line in page.get_text().splitlines()]
    on_pages = Counter(key for key, _ in {(_running_key(line), number) for number, line in lines})
    start, end = _span(lines, gold.first_reference, gold.last_reference)
    words = _words(dehyphenated("\n".join(
        line for index, (_, line) in enumerate(lines) if not start <= index <= end
        and on_pages[_running_key(line)] < 3 and len(line.split()) >= PROSE_WORDS)))
    held = _words(" ".join([document.title, *(h.title for h in document.headings),
                            *(b.text for s in document.sections for b in s.blocks)]))
    total = sum(words.values())
    return sum(min(count, held[word]) for word, count in words.items()) / total if total else 1.0


def _span(lines: list[tuple[int, str]], first: str, last: str) -> tuple[int, int]:
    """The indices of the lines holding the reference list: from the line its first entry starts on to the line
    its last entry ends on; where the text layer differs from the gold's corrected entries, from the reference
    list's heading to the end."""
    head, tail = normal(first)[:20], normal(last)[-20:]
    keys = [normal(line) for _, line in lines]
    start = next((i for i, key in enumerate(keys) if head in key), None)
    if start is not None:
        joined = ""
        for index in range(start, len(keys)):
            joined += " " + keys[index]
            if tail in joined[-300:]:
                return start, index
    heading = next((i for i, key in enumerate(keys) if key in _REFERENCE_HEADINGS), None)
    return (heading, len(keys) - 1) if heading is not None else (0, -1)


def _words(text: str) -> Counter[str]:
    """Words of four letters or more, ligatures ("ﬁ") unfolded."""
    return Counter(re.findall(r"[a-z]{4,}", unicodedata.normalize("NFKC", text).lower()))


def _running_key(line: str) -> str:
    return page_repeat_key(" ".join(line.split())) if len(line.split()) >= 2 else f"\0{line}"


def score_paper(gold: Gold, document: Document, seconds: float) -> dict:
    parsed = [(heading.title, heading.level) for heading in document.headings
              if not _NOT_IN_GOLD.match(normal(_NUMBERING.sub("", heading.title)))]
    row: dict = {"paper": gold.folder, "family": gold.family, "reader": document.reader or "default",
                 "title_exact": float(normal(document.title) == normal(gold.title)),
                 "pages_per_second": round((document.page_count or 0) / max(seconds, 1e-6), 1)}
    gold_counts = Counter(heading_key(title) for title, _ in gold.headings)
    all_parsed = {heading_key(title) for title, _ in parsed}
    for level in (1, 2):
        wanted = [heading_key(title) for title, at in gold.headings if at == level]
        found = [heading_key(title) for title, at in parsed if at == level]
        row[f"l{level}_recall"] = round(sum(key in all_parsed for key in wanted) / len(wanted), 4) if wanted else None
        # each gold heading vouches for as many found ones as it occurs: a running head read as a heading on every
        # page is one right heading and many wrong ones, not many right ones
        right = sum(min(count, gold_counts[key]) for key, count in Counter(found).items())
        row[f"l{level}_precision"] = round(right / len(found), 4) if found else (None if not wanted else 0.0)
    body = normal(" ".join(b.text for s in document.sections for b in s.blocks))
    row["references_found"] = len(document.references)
    row["references_gold"] = gold.n_references
    raws = [r.raw or r.title for r in document.references]
    row["first_reference"] = float(bool(raws) and any(_similar(gold.first_reference, raw) for raw in raws[:3]))
    row["last_reference"] = float(bool(raws) and any(_similar(gold.last_reference, raw) for raw in raws[-3:]))
    row["leaked_references"] = sum(normal(entry)[:60] in body for entry in (gold.first_reference, gold.last_reference))
    row["body_words_kept"] = round(body_words_kept(document, gold), 4)
    row["doi_found"] = float((document.doi or "").lower() == gold.doi) if gold.doi else None
    row["year_exact"] = float(document.year == gold.year) if gold.year else None
    row["authors_f1"] = authors_f1(document.authors, gold.authors) if gold.authors else None
    return row


def authors_f1(found: list[str], gold: tuple[str, ...]) -> float:
    """F1 of the names found against the gold's, each name matched once."""
    wanted = Counter(map(name_key, gold))
    matched = sum((Counter(map(name_key, found)) & wanted).values())
    return round(2 * matched / (len(found) + len(gold)), 4) if found or gold else 1.0


def score_reader(golds: list[Gold], read: Callable[[Path], Document],
                 on_item: Callable[[], None] | None = None) -> list[dict]:
    rows = []
    for gold in golds:
        started = time.perf_counter()
        document = read(gold.pdf)
        rows.append(score_paper(gold, document, time.perf_counter() - started))
        if on_item:
            on_item()
    return rows


def summary(rows: list[dict]) -> dict[str, float]:
    """Means over papers (a paper with no level-2 headings counts for neither level-2 figure)."""
    def mean(name: str) -> float:
        values = [row[name] for row in rows if row[name] is not None]
        return round(sum(values) / len(values), 4) if values else 0.0

    names = ("title_exact", "authors_f1", "doi_found", "year_exact", "l1_recall", "l1_precision", "l2_recall",
             "l2_precision", "first_reference", "last_reference", "body_words_kept")
    counted = sum(min(row["references_found"], row["references_gold"]) for row in rows)
    return {**{name: mean(name) for name in names},
            "reference_count_ratio": round(counted / max(1, sum(row["references_gold"] for row in rows)), 4),
            "papers_with_exact_reference_count": round(mean_of(
                [float(row["references_found"] == row["references_gold"]) for row in rows]), 4),
            "leaked_references": float(sum(row["leaked_references"] for row in rows)),
            "papers_without_leaks": round(mean_of([float(row["leaked_references"] == 0) for row in rows]), 4),
            "pages_per_second": round(sum(row["pages_per_second"] for row in rows) / max(1, len(rows)), 1)}


def mean_of(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def plain_text(path: Path) -> Document:
    """The baseline: PyMuPDF's plain text as one section, with no title, headings or reference list found."""
    with pymupdf.open(path) as pdf:
        text = [page.get_text() for page in pdf]
        pages = pdf.page_count
    lines = [line for page in text for line in page.splitlines() if line.strip()]
    return Document(paper_id=path.stem, title=lines[0] if lines else "", source="pdf", page_count=pages,
                    sections=[Section("Body", [Block(page, number + 1) for number, page in enumerate(text)])],
                    reader="plain text")


def read_with_layout_isolated(path: Path) -> Document:
    """The layout model alone, in a child process (it changes how PyMuPDF reads pages in the process it runs in)."""
    from tools.pdf_confidence import SECOND_READING
    from tools.pdf_model_reader import read_with_layout

    return run_isolated(read_with_layout, SECOND_READING, path.name, path)


# variant -> reader; `eval quick` runs the shipped reader and the cheap rows (the layout model alone is slow).
READERS: dict[str, Callable[[Path], Document]] = {
    "shipped": parse_pdf, "fonts-only": read_with_fonts, "layout-model-only": read_with_layout_isolated,
    "baseline-plain-text": plain_text}
QUICK_READERS = ("shipped", "fonts-only", "baseline-plain-text")


def readers(variant: str) -> tuple[str, ...]:
    """The readers a variant names: "all", "quick" (what CI runs) or one reader."""
    if variant not in (*READERS, "all", "quick"):
        raise ValueError(f"unknown reader {variant!r}; choose one of: all, quick, {', '.join(READERS)}")
    return tuple(READERS) if variant == "all" else QUICK_READERS if variant == "quick" else (variant,)


def corpus_folders(data_dir: Path) -> list[Path]:
    """The shared corpus and the papers added beside the code (evals/pdf_corpus_extra), when it has any."""
    return [folder for folder in (data_dir, EXTRA) if folder.is_dir()]


def run(data_dir: Path, readers: tuple[str, ...] = tuple(READERS), limit: int | None = None,
        on_item: Callable[[], None] | None = None) -> dict:
    """Every reader on every paper: per-paper rows, and means over all papers and over the held-out ones."""
    golds = [gold for folder in corpus_folders(data_dir) for gold in load_corpus(folder)][:limit]
    started = time.perf_counter()
    metrics, papers = {}, []
    for name in readers:
        rows = score_reader(golds, READERS[name], on_item)
        papers += [{"variant": name, **row} for row in rows]
        metrics[name] = summary(rows)
        metrics[f"{name} (held out)"] = summary([row for row in rows if row["paper"] not in DEVELOPMENT])
    return {"suite": "pdf-structure",
            "dataset": {"name": "real open-access PDFs of many publishers with hand-made structure gold",
                        "papers": len(golds), "held_out": sum(g.folder not in DEVELOPMENT for g in golds)},
            "settings": {"readers": list(readers), "development_papers": list(DEVELOPMENT)},
            "metrics": metrics, "timings": {"seconds": round(time.perf_counter() - started, 2)}, "items": papers}


def download_missing(root: Path = EXTRA) -> list[str]:
    """Fetch the corpus PDFs that are not in the repository (over 1 MiB) from the public repository each was taken
    from, at the commit its index.json records, and keep each only if its sha256 matches. The folders fetched."""
    fetched = []
    for entry in json.loads((root / "index.json").read_text()):
        target = root / entry["folder"] / "paper.pdf"
        if target.is_file():
            continue
        url = (f"https://raw.githubusercontent.com/{entry['source_repo']}/{entry['source_commit']}/"
               + urllib.request.quote(entry["source_path"]))
        with urllib.request.urlopen(url, timeout=60) as response:  # nosec B310: a fixed https host
            content = response.read()
        if hashlib.sha256(content).hexdigest() != entry["sha256"]:
            raise ValueError(f"{url} is not the file the gold was made from (sha256 differs)")
        target.write_bytes(content)
        fetched.append(entry["folder"])
    return fetched


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The pdf-structure corpus: --download fetches the PDFs kept out of "
                                                 "the repository for their size (needs the internet).")
    parser.add_argument("--download", action="store_true", help="fetch the missing PDFs of evals/pdf_corpus_extra")
    if parser.parse_args().download:
        print("fetched:", ", ".join(download_missing()) or "nothing (all present)")
