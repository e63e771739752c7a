"""What the shared papers' own structure says about their text, read independently of SciSynth's parsers:
which text is body prose (abstract and paragraphs) and which is not (titles, headings, captions, author
lines, reference entries), from PMC JATS XML and GROBID's TEI parses; and which sentences stand in a
limitations or future-work section (JATS, TEI, unarXive JSONL).

The hypotheses suite judges every sentence SciSynth quotes as a finding or an open question against it.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from retrieval.sentences import sentences
from tools.documents import title_key
from tools.records import read_jsonl
from tools.xmltext import load_root, text_of

# Sections about what is left open, as the papers title them (the gold; SciSynth has its own rule).
GAP_SECTION = re.compile(r"\blimitations?\b|\bfuture\b|\boutlook\b|\bopen (?:problems?|questions?)\b", re.IGNORECASE)
_NOT_CONTENT = re.compile(r"\blimits? and colimits?\b", re.IGNORECASE)


@dataclass
class PaperGold:
    """One paper's text by role, normalised (lower-case letters and digits) for matching."""

    path: Path  # what is ingested
    title: str
    body: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # sentences of its limitations / future-work sections
    abstract: str = ""

    def judge(self, sentence: str) -> bool | None:
        """True when the sentence is body prose of this paper, False when it is other text, None when the
        structure does not place it (PDF text and a parse can differ in a few characters)."""
        key = title_key(sentence)
        if len(key) < 20:
            return None
        in_body = any(key in text for text in self.body)
        in_other = any(key in text for text in self.other)
        if in_body != in_other:
            return in_body
        if in_body:  # in both (a caption repeating a sentence): it is body prose too
            return True
        grams = _grams(sentence)
        body_share = max((len(grams & _grams_of_key(t)) for t in self.body), default=0) / (len(grams) or 1)
        other_share = max((len(grams & _grams_of_key(t)) for t in self.other), default=0) / (len(grams) or 1)
        if max(body_share, other_share) < 0.6:
            return None
        return body_share >= other_share


def _words(text: str) -> list[str]:
    return re.findall(r"[0-9a-z]+", text.lower())


def _grams(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def _grams_of_key(text: str) -> set[tuple[str, ...]]:
    return _grams(text.replace("|", " "))


def _keyed(texts: list[str]) -> list[str]:
    """Letters-and-digits keys, with a word-spaced copy for the n-gram fallback ("key|spaced words")."""
    return [f"{title_key(t)}|{' '.join(_words(t))}" for t in texts if t.strip()]


def _xpath(root: etree._Element, path: str) -> list[etree._Element]:
    return root.xpath(path)


def _gap_sentences(sections: list[tuple[str, list[str]]]) -> list[str]:
    return [s for title, texts in sections if GAP_SECTION.search(title) and not _NOT_CONTENT.search(title)
            for text in texts for s in sentences(text) if len(s.split()) >= 6]


def _any(*names: str) -> str:
    return " or ".join(f"local-name()='{n}'" for n in names)


@dataclass(frozen=True)
class _Layout:
    """Where a format keeps each role (XPath over local names, so namespaces do not matter)."""

    title: str
    body: str  # abstract and body paragraphs
    other: str  # headings, captions, reference entries, author lines, back matter
    sections: str  # body sections
    section_title: str  # a section's title, relative to it
    section_paragraphs: str  # a section's paragraphs, relative to it


_ABSTRACT = "//*[local-name()='abstract']//*[local-name()='p']"
_JATS = _Layout(
    title="//*[local-name()='article-meta']//*[local-name()='article-title']",
    body=f"{_ABSTRACT} | //*[local-name()='body']//*[local-name()='p']"
         f"[not(ancestor::*[{_any('fig', 'table-wrap', 'caption', 'fn', 'table')}])]",
    other=f"//*[local-name()='body']//*[local-name()='title'] | "
          f"//*[{_any('caption', 'ref', 'contrib-group', 'aff', 'ack', 'fn-group', 'table')}]",
    sections="//*[local-name()='body']//*[local-name()='sec']",
    section_title="./*[local-name()='title']", section_paragraphs=".//*[local-name()='p']")
_TEI = _Layout(
    title="//*[local-name()='titleStmt']/*[local-name()='title']",
    body=f"{_ABSTRACT} | //*[local-name()='body']//*[local-name()='div']/*[local-name()='p']",
    other="//*[local-name()='body']//*[local-name()='head'] | //*[local-name()='figure'] | "
          "//*[local-name()='biblStruct'] | //*[local-name()='back']//*[local-name()='div'] | "
          "//*[local-name()='sourceDesc']//*[local-name()='author'] | //*[local-name()='note']",
    sections="//*[local-name()='body']//*[local-name()='div']",
    section_title="./*[local-name()='head']", section_paragraphs="./*[local-name()='p']")


def _gold(markup: Path, ingested: Path, layout: _Layout) -> PaperGold:
    root = load_root(markup)
    title = text_of(next(iter(_xpath(root, layout.title)), None))
    body = [text_of(p) for p in _xpath(root, layout.body)]
    other = [title] + [text_of(e) for e in _xpath(root, layout.other)]
    sections = [(text_of(next(iter(_xpath(sec, layout.section_title)), None)),
                 [text_of(p) for p in _xpath(sec, layout.section_paragraphs)])
                for sec in _xpath(root, layout.sections)]
    abstract = " ".join(text_of(p) for p in _xpath(root, _ABSTRACT))
    return PaperGold(ingested, title, _keyed(body), _keyed(other), _gap_sentences(sections), abstract)


def jats_gold(path: Path) -> PaperGold:
    return _gold(path, path, _JATS)


def tei_gold(tei: Path, pdf: Path) -> PaperGold:
    """GROBID's parse of `pdf` (machine output: its body and reference split is what is judged against)."""
    return _gold(tei, pdf, _TEI)


def unarxive_gold(path: Path) -> list[PaperGold]:
    """Each record of an unarXive JSONL file with a limitations or future-work section (its own section names).
    Only gap sentences are gold here: the dataset marks no captions or reference text inside paragraphs."""
    golds = []
    for document in read_jsonl(path):
        if isinstance(document, Exception):
            continue
        sections = [(s.title, [b.text for b in s.blocks]) for s in document.sections]
        if gaps := _gap_sentences(sections):
            golds.append(PaperGold(path, document.title, gaps=gaps))
    return golds


def shared_golds(data_dir: Path) -> list[PaperGold]:
    """The shared papers with a structure to judge against: PDFs with a GROBID parse, JATS articles, and the
    unarXive records with a limitations or future-work section."""
    golds = [tei_gold(tei, data_dir / "papers" / tei.name.replace(".tei.xml", ".pdf"))
             for tei in sorted((data_dir / "papers" / "parses").glob("*.tei.xml"))]
    golds += [jats_gold(path) for path in sorted((data_dir / "pmc-jats").glob("*.nxml"))]
    return golds


def unarxive_gap_records(archive_dir: Path, folder: Path) -> Path:
    """The unarXive sample's records that have a limitations or future-work section, as one JSONL file in
    `folder` (written once)."""
    target = folder / "unarxive-gaps.jsonl"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive_dir / "unarXive_data_sample.tar.gz") as archive:
            records = [json.loads(line) for member in archive.getmembers() if member.name.endswith(".jsonl")
                       for line in _member_lines(archive, member)]
        target.write_text("".join(json.dumps(r) + "\n" for r in records if any(
            GAP_SECTION.search(p.get("section") or "") and not _NOT_CONTENT.search(p.get("section") or "")
            for p in r.get("body_text") or [])))
    return target


def _member_lines(archive: tarfile.TarFile, member: tarfile.TarInfo) -> list[str]:
    handle = archive.extractfile(member)
    return [line for line in handle.read().decode().splitlines() if line.strip()] if handle else []


def preprint_copies(golds: list[PaperGold], folder: Path) -> Path:
    """Each parsed paper's abstract again, as a JSONL record titled with a subtitle ("...: preprint"): the same
    paper under a second id, as a library holding a preprint and its article has it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "preprints.jsonl"
    target.write_text("".join(json.dumps({"id": f"preprint-{i}", "title": f"{g.title}: preprint",
                                          "abstract": g.abstract}) + "\n"
                              for i, g in enumerate(golds) if g.abstract and g.body))
    return target


def same_text(first: str, second: str) -> bool:
    """Two texts of one paper: half of the shorter one's sentences are in the other, word for word."""
    a, b = ({title_key(s) for s in sentences(text) if len(s.split()) >= 6} for text in (first, second))
    shorter, longer = sorted((a, b), key=len)
    return bool(shorter) and len(shorter & longer) >= 0.5 * len(shorter)
