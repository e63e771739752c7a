"""JSONL paper records into Documents: plain abstract records and unarXive full-text records.

Plain records need `id` (or `doc_id`, as in SciFact), `title` and `abstract` (a string or a list of
sentences); `authors`, `year`, `categories`/`subjects` and `dates` are used when present. A record
with `paper_id` and `body_text` is read as unarXive full text. Lines are read one at a time, so a file
of any size streams in bounded memory; a bad line yields a DocumentError and the rest carry on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from tools.arxiv_ids import is_arxiv_id
from tools.documents import Block, Document, DocumentError, Section

MAX_LINE_BYTES = 20 * 1024 * 1024
_PLACEHOLDER = re.compile(r"\{\{(formula|cite|figure|table|float):([^}]*)\}\}")


def _year(record: dict) -> int | None:
    year = record.get("year")
    if isinstance(year, int) or (isinstance(year, str) and year.isdigit()):
        return int(year)
    dates = record.get("dates") or []
    return int(dates[0][:4]) if dates and str(dates[0])[:4].isdigit() else None


def _authors(value: object) -> list[str]:
    if isinstance(value, str):
        return [a.strip() for a in re.split(r",| and ", value) if a.strip()]
    return [str(a) for a in value] if isinstance(value, list) else []


def _abstract_record(record: dict, where: str) -> Document:
    paper_id = record.get("id", record.get("doc_id"))
    missing = [f for f, v in (("id", paper_id), ("title", record.get("title")),
                               ("abstract", record.get("abstract"))) if v in (None, "", [])]
    if missing:
        raise DocumentError(where, f"record lacks {', '.join(missing)}")
    abstract = record["abstract"]
    text = " ".join(abstract) if isinstance(abstract, list) else " ".join(str(abstract).split())
    paper_id = str(paper_id)
    return Document(
        paper_id=paper_id, title=" ".join(str(record["title"]).split()), source="jsonl",
        sections=[Section("Abstract", [Block(text, page=None)])], authors=_authors(record.get("authors")),
        year=_year(record), arxiv_id=paper_id if is_arxiv_id(paper_id) else None,
        doi=record.get("doi"), abstract=text, license=record.get("license"),
    )


def _unarxive_text(text: str, references: dict) -> str:
    """Formulas back to their LaTeX (short ones) and citation/figure markers dropped."""
    def replace(match: re.Match) -> str:
        kind, ref_id = match.groups()
        if kind == "formula":
            latex = " ".join(str(references.get(ref_id, {}).get("latex", "")).split())
            return f"${latex}$" if latex and len(latex) <= 80 else "[formula]"
        return ""

    return re.sub(r"\s+([,.;:)])", r"\1", " ".join(_PLACEHOLDER.sub(replace, text).split()))


def _unarxive_record(record: dict, where: str) -> Document:
    metadata = record.get("metadata") or {}
    references = record.get("ref_entries") or {}
    abstract = " ".join(str((record.get("abstract") or {}).get("text", "")).split())
    sections: list[Section] = [Section("Abstract", [Block(abstract, page=None)])] if abstract else []
    for paragraph in record.get("body_text") or []:
        title = " ".join(filter(None, [paragraph.get("sec_number"), paragraph.get("section")])) or "Body"
        text = _unarxive_text(str(paragraph.get("text", "")), references)
        if not text:
            continue
        if not sections or sections[-1].title != title:
            sections.append(Section(title))
        sections[-1].blocks.append(Block(text, page=None))
    if not sections:
        raise DocumentError(where, "unarXive record without abstract or body text")
    paper_id = str(record["paper_id"])
    return Document(
        paper_id=paper_id, title=" ".join(str(metadata.get("title", paper_id)).split()), source="unarxive",
        sections=sections, authors=_authors(metadata.get("authors")), year=_year(
            {"dates": [metadata.get("update_date") or ""]}),
        arxiv_id=paper_id if is_arxiv_id(paper_id) else None, doi=metadata.get("doi"),
        abstract=abstract or None, license=metadata.get("license"),
    )


def read_jsonl(path: Path) -> Iterator[Document | DocumentError]:
    """One Document per record, or a DocumentError naming the line that could not be read."""
    path = Path(path)
    if not path.is_file():
        yield DocumentError(path, "no such file")
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield DocumentError(where, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB")
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                yield DocumentError(where, f"not JSON ({error.__class__.__name__}: {error})")
                continue
            if not isinstance(record, dict):
                yield DocumentError(where, "not a JSON object")
                continue
            try:
                reader = _unarxive_record if "body_text" in record and "paper_id" in record else _abstract_record
                yield reader(record, where)
            except DocumentError as error:
                yield error
