"""The second PDF reader: PyMuPDF's layout model (the `pymupdf.layout` ONNX model, through pymupdf4llm's document
parser) says what each region of a page is (title, section header, text, list item, caption, table, picture,
formula, page header or footer, footnote), whatever the fonts say. It finds headings a typesetter set in a font
with no bold flag or a family of its own, and keeps running heads, licence footnotes and page numbers out of the
body, at about a second a page: tools/pdf.py calls it only for a paper the font reader read badly (its confidence).

Activating the model changes how PyMuPDF reads pages in this process (pymupdf._get_layout), so this reader runs in
a process of its own (tools/isolation.py), never beside the font reader.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tools.documents import (
    FRONT_MATTER,
    Block,
    Document,
    DocumentError,
    Heading,
    Reference,
    Section,
    paper_id_from_sha256,
    sha256_of_file,
    table_block,
    title_key,
)
from tools.front_matter import (
    front_lines_as_front_matter,
    is_author_line,
    is_banner,
    plausible_title,
    read_front_matter,
)
from tools.pdf import (
    CAPTION,
    REFERENCE_HEADINGS,
    RUNNING_PAGES,
    clean_text,
    first_page_lines,
    first_pages_text,
    heading_name,
    page_repeat_key,
)
from tools.pdf_layout import numbered_depth
from tools.references import parse_reference, split_entries
from tools.sections import APPENDED, PAPER_PART, is_body_section, opens_appended_matter

_HEADER = {"title", "section-header"}
_BODY = {"text", "list-item"}
_MARGINS = {"page-header", "page-footer"}
_DROPPED = {*_MARGINS, "picture", "formula"}
FOOTNOTES = "Footnotes"  # the section footnotes are kept in: searchable, never quoted as findings (tools/sections.py)
_WITHIN_METHODS = re.compile(r"^(?:ethic|informed consent|consent|statistic)")  # back matter by name, but in Methods
_GATHERING = re.compile(r"^(?:ethics )?declarations?$|^(?:additional|author|article(?: and author)?) information$")
_NUMBERED = re.compile(r"^\s*[\[(]?(\d{1,4})[.)\]]?\s+(?=\S)")  # "12.", "[12]", "(12)", or "12" where the dot is lost
_WEIGHTY = re.compile(r"bold|black|heavy|semibold|demibold|\.b$|-b$", re.IGNORECASE)
# A table's note the model took for a heading ("Data are arithmetic mean (SD) or n (%)", "Linear mixed models;
# aunadjusted means and SD"): the statistics a table's cells hold.
_TABLE_NOTE = re.compile(r"\bmeans?\b.*\bSDs?\b|\(%\)|\bIQR\b|\b95% CI\b")
_ENUMERATION = re.compile(r"^\s*(?:\d+(?:\.\d+)*|[a-z]|[ivx]+)\)\s")
# A first page's labels for the article's record, not headings: dates, editors, citation, copyright, contacts, the
# DOI, the licence and pointers to the declarations (PeerJ prints these in its margin in a heading's font).
_RECORD_LABEL = re.compile(r"^(?:received|accepted|published|submitted(?=\s*:)|revised|citation|"
                           r"how to cite (?:this|the) (?:article|paper)|"
                           r"(?:academic |handling )?editor|edited by|reviewed by|copyright|correspondence|e-?mail|"
                           r"orcid|keywords?|doi:?\s*10\.|"
                           r"distributed under (?:the terms|a creative|creative commons|cc\b)|"
                           r"licensed under (?:a |the )?creative|"
                           r"(?:additional information|declarations)\b.* can be found)\b", re.IGNORECASE)
_FIGURE_LABEL = re.compile(r"^(?:fig(?:ure)?|table|scheme|box)\.?\s*[A-Z]?\d+\b", re.IGNORECASE)
# a section numbered as physics journals number them ("II. ULTRA LIGHT BOSONS"): never the title, even where the
# title is printed in the page's header band and the model marked no title
_ROMAN_NUMBERED = re.compile(r"^\s*[IVX]{1,5}\.\s+(?=[A-Z\d])")  # not "V. cholerae quorum sensing ..."
# a letter-spaced banner as extracted ("SC I EN C E A D VA N CE S | RESE A RCH ARTI CL E"): five short Latin pieces
# in a row, one space apart, three of them lone letters that are not words ("a", "I"); not a list ("A, B, C, D, E")
_LETTER_SPACED = re.compile(r"(?<![A-Za-z])[A-Za-z]{1,2}(?:(?: \| | )[A-Za-z]{1,2}){4,}(?![A-Za-z])")
_LONE_LETTER = re.compile(r"(?<![A-Za-z])(?![aAI](?![A-Za-z]))[A-Za-z](?![A-Za-z])")
_ITALIC = re.compile(r"italic|oblique|-it$|\.i$", re.IGNORECASE)
MAX_TITLE_WORDS = 40
MAX_HEADING_WORDS = 20
MAX_RUN_IN_WORDS = 12
MAX_OWN_LINE_WORDS = 16


_Style = tuple[float, bool, bool, str]  # (-size, not in capitals, not weighty, font)


@dataclass
class _Line:
    left: float
    text: str
    size: float  # of its first span, to the half point
    spans: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (where it ends in `text`, span)


@dataclass
class _Region:
    """A region of a page as the model classed it, with its lines."""

    kind: str
    lines: list[_Line]
    table: list[list[str]] | None = None

    @property
    def text(self) -> str:
        return clean_text("\n".join(line.text for line in self.lines))

    @property
    def size(self) -> float:
        return self.lines[0].size if self.lines else 0.0

    @property
    def font(self) -> str:
        """The font most of the region's first line is set in (an italic gene name opening a heading aside)."""
        fonts: Counter[str] = Counter()
        for _, span in self.lines[0].spans if self.lines else []:
            fonts[span.get("font", "")] += len(span["text"].strip())
        return fonts.most_common(1)[0][0] if fonts else ""

    @property
    def style(self) -> _Style:
        """How prominent the region's print is, as a sort key (smaller sorts first: more prominent)."""
        text = self.text
        first = next((span for line in self.lines for _, span in line.spans if span["text"].strip()), {})
        weighty = _is_weighty(first) if first else False
        return (-self.size, not (text.isupper() and sum(c.isalpha() for c in text) > 3), not weighty, self.font)


def _line(raw: dict[str, Any]) -> _Line | None:
    """A line's text. Spans set apart by a gap are words apart, even where the PDF draws no space between them
    (some typesetters place each word on its own)."""
    spans = [span for span in raw.get("spans", []) if span.get("text")]
    text, last_right, ends = "", None, []
    for span in spans:
        piece, left = span["text"], float(span["bbox"][0])
        if last_right is not None and left - last_right > 0.15 * float(span.get("size", 10.0)) and text and (
                not text[-1].isspace() and not piece[0].isspace()):
            text += " "
        text += piece
        ends.append((len(text), span))
        last_right = float(span["bbox"][2])
    if not text.strip():
        return None
    size = next((float(span.get("size", 0.0)) for span in spans if span["text"].strip()), 0.0)
    return _Line(float(raw["bbox"][0]), text, round(size * 2) / 2, ends)


def _regions(box: Any) -> list[_Region]:
    """A model box as regions: a header box whose lines are printed at different sizes holds two headings
    ("Document review" over a smaller "Staffing") and becomes one region per size."""
    lines = [line for raw in (box.textlines or []) if (line := _line(raw))]
    table = box.table.get("extract") if isinstance(box.table, dict) else None
    rows = [[" ".join(str(cell or "").split()) for cell in row] for row in table] if table else None
    if box.boxclass not in _HEADER or len({line.size for line in lines}) < 2:
        return [_Region(box.boxclass, lines, rows)]
    regions: list[_Region] = []
    for line in lines:
        if regions and regions[-1].size == line.size:
            regions[-1].lines.append(line)
        else:
            regions.append(_Region(box.boxclass, [line]))
    return regions


def _title_at(first_page: list[_Region]) -> list[int]:
    """The indices of the first page's title: the largest-printed region that could be a title (the model's
    title or header regions first, any region when it marked none; never a section's heading: "I. INTRODUCTION"
    taken for the title hid the paper's first sections), with the regions right after it printed at the same size
    (a title the model split over lines)."""
    def candidates(kinds: set[str]) -> list[tuple[int, _Region]]:
        return [(index, region) for index, region in enumerate(first_page) if region.kind in kinds
                and plausible_title(region.text) and len(region.text.split()) <= MAX_TITLE_WORDS
                and not _names_a_part(region.text) and not _ROMAN_NUMBERED.match(region.text)]

    found = candidates(_HEADER) or candidates(_HEADER | _BODY)
    if not found:
        return []
    start, first = max(found, key=lambda pair: (pair[1].size, -pair[0]))
    chosen = [start]
    for index in range(start + 1, len(first_page)):
        if first_page[index].kind != first.kind or abs(first_page[index].size - first.size) > 0.5:
            break
        chosen.append(index)
    return chosen


def _without_running_heads(pages: list[tuple[int, list[_Region]]], margins: list[list[_Region]] | None = None
                           ) -> list[tuple[int, list[_Region]]]:
    """The pages without the short lines printed on three pages or more (digits aside): running heads and feet the
    model took for headings or text ("Article" atop every page, "OPEN ACCESS", a journal's name and volume).
    `margins`: each page's page-header and page-footer regions, which the model dropped, counted too (the
    Lancet's "Articles" is a page header on most pages and a section header on two)."""
    def key(region: _Region) -> str | None:
        text = region.text
        return page_repeat_key(text) if len(text.split()) <= 12 and region.kind != "table" else None

    on_pages: Counter[str] = Counter(k for _, regions in pages for k in {key(r) for r in regions} if k)
    printed = [regions + extra for (_, regions), extra in zip(pages, margins or [[]] * len(pages), strict=True)]
    with_margins: Counter[str] = Counter(k for regions in printed for k in {key(r) for r in regions} if k)

    def running(region: _Region) -> bool:  # a title a journal repeats in its page headers is still the title
        k = key(region) or ""
        return on_pages[k] >= RUNNING_PAGES or (region.kind != "title" and with_margins[k] >= RUNNING_PAGES)

    return [(number, [r for r in regions if not running(r)]) for number, regions in pages]


def _names_a_part(text: str) -> bool:
    return bool(PAPER_PART.match(heading_name(text))) or heading_name(text) == "abstract"


def _not_a_heading(text: str) -> bool:
    """A banner ("OPEN ACCESS", or letter-spaced), a label of the article's record ("Received: 5 April 2023",
    "Editor:", "Copyright"), a figure's label ("Fig 6"), the authors' line, a glyph of a logo, a sentence's cut-off
    end or a table's note the model took for a heading."""
    return (is_banner(text) or bool(_RECORD_LABEL.match(text) or _FIGURE_LABEL.match(text)) or is_author_line(text)
            or any(len(_LONE_LETTER.findall(run.group())) >= 3 for run in _LETTER_SPACED.finditer(text))
            or sum(character.isalpha() for character in text) < 3
            # the end of a line cut out of a sentence ("A C Kuesel PhD)"), not a numbered one ("1) Introduction")
            or _ENUMERATION.sub("", text).count(")") > text.count("(")
            or bool(_TABLE_NOTE.search(text)))


def _heading_levels(styles: list[_Style]) -> dict[_Style, int]:
    """Level by style: the styles used for more than one heading, most prominent first (larger, then in capitals,
    then weightier, then the one used first: a paper opens with a top-level heading, as PLOS sets sections and
    subsections alike but in two font families), are levels 1, 2, 3; a style used once ranks where it falls."""
    def rank(style: _Style) -> tuple[float, bool, bool, int]:
        return (*style[:3], styles.index(style))

    repeated = sorted({style for style in styles if styles.count(style) > 1}, key=rank) or sorted(set(styles), key=rank)
    return {style: min(3, 1 + sum(rank(other) < rank(style) for other in repeated)) for style in set(styles)}


def _body_font(pages: list[tuple[int, list[_Region]]]) -> str:
    """The font most of the body text is set in."""
    fonts: Counter[str] = Counter()
    for _, regions in pages:
        for region in regions:
            if region.kind == "text":
                for line in region.lines:
                    for _, span in line.spans:
                        fonts[span.get("font", "")] += len(span["text"])
    return fonts.most_common(1)[0][0] if fonts else ""


def _is_weighty(span: dict[str, Any]) -> bool:
    return bool(int(span.get("flags", 0)) & 16 or _WEIGHTY.search(span.get("font", "")))


def _set_apart(span: dict[str, Any], body_font: str) -> bool:
    """Whether a span is in a font other than the body's and not an italic one: how a typesetter sets a heading
    apart, whether or not its font's name or flags say "bold" (many journals embed fonts named like
    "AdvOTcb88df00" with no weight flag)."""
    font, flags = span.get("font", ""), int(span.get("flags", 0))
    return font != body_font and not flags & 2 and not _ITALIC.search(font)


def _run_in(region: _Region, body_font: str) -> tuple[str, str] | None:
    """(heading, paragraph) when a paragraph opens with a heading the model did not part from it: a lead set
    apart from the body's font, over whole lines ("Signal sequences disrupt..." over the paragraph) or ending in
    a full stop or colon ("Microscopy. Cells were...", "...membrane sterols alters function." over two lines),
    the paragraph going on in the body's font. Not a caption's label."""
    if region.kind != "text" or not region.lines or CAPTION.match(region.text):
        return None
    lead: list[str] = []  # the set-apart text, line by line
    weighty = True  # every span of the lead says bold, by flag or font name
    for line in region.lines:
        end = 0
        for span_end, span in line.spans:
            if span["text"].strip() and not _set_apart(span, body_font):
                break
            weighty &= not span["text"].strip() or _is_weighty(span)
            end = span_end
        lead.append(line.text[:end])
        if end < len(line.text.rstrip()):
            break
    at_line_end = len(lead) < len(region.lines) and lead[-1] == region.lines[len(lead) - 1].text
    text = "\n".join(lead)
    stop = re.search(r"[.:](?=\s|$)", text)
    if stop and not at_line_end:  # a run-in lead: up to its first full stop or colon
        text = text[:stop.end()]
    elif not at_line_end and not (weighty and text.strip() and len(text.split()) <= MAX_RUN_IN_WORDS):
        return None  # a lead with no stop is a heading only when its print says bold (Springer: "Statistics Results")
    heading = clean_text(text).rstrip(".: ")
    rest = region.text[len(clean_text(text)):].lstrip(" .:—–-")
    if len(heading) < 3 or not heading[:1].isupper() or len(heading.split()) > MAX_HEADING_WORDS or not rest:
        return None
    return heading, rest


def _own_line_heading(region: _Region, body_font: str) -> bool:
    """A short text region set entirely apart from the body's font, with no closing full stop: a heading the
    model took for text."""
    text = region.text
    return (region.kind == "text" and len(text.split()) <= MAX_OWN_LINE_WORDS and text[:1].isupper()
            and not text.endswith(".") and not CAPTION.match(text)
            and all(_set_apart(span, body_font) for line in region.lines for _, span in line.spans
                    if span["text"].strip()))


def _add_text(section: Section, text: str, page: int, kind: str) -> None:
    """Append a region's text; a paragraph that goes on from the one before (it broke at a column or a page:
    the one before ends mid-sentence, this one starts in lower case) is joined to it, its split word mended."""
    last = section.blocks[-1] if section.blocks else None
    if last is not None and kind == last.kind == "paragraph" and text[:1].islower() and not last.text.endswith(
            (".", "!", "?", ":")):
        joined = last.text[:-1] + text if re.search(r"\w-$", last.text) else f"{last.text} {text}"
        section.blocks[-1] = replace(last, text=joined)
        return
    section.blocks.append(Block(text, page, kind))


def _back_matter_level(text: str, size: float, trail: list[_Open]) -> int | None:
    """Back matter (Acknowledgements, Funding, References...) is a top-level part whatever size it is printed
    at, unless it sits inside a part that gathers others, printed larger ("Declarations" > "Competing
    interests"); an ethics or statistics statement inside Methods stays a subsection (None: not back matter)."""
    if is_body_section(text):
        return None
    top = trail[0] if trail else None
    if top and _GATHERING.match(heading_name(top.title)):
        return 2 if size <= top.size else 1
    return None if top and is_body_section(top.title) and _WITHIN_METHODS.match(heading_name(text)) else 1


@dataclass
class _Open:
    """A heading whose section is still open."""

    level: int
    title: str
    size: float
    font: str
    run_in: bool = False


class _Outline:
    """The headings found so far and the sections they open."""

    def __init__(self) -> None:
        self.sections: list[Section] = [Section(FRONT_MATTER)]
        self.headings: list[Heading] = []
        self.trail: list[_Open] = []  # the open headings, outermost first

    def open(self, title: str, level: int, page: int, region: _Region, run_in: bool = False) -> None:
        while self.trail and (self.trail[-1].level >= level or self.trail[-1].run_in):
            self.trail.pop()
        self.trail.append(_Open(level, title, region.size, region.font, run_in))
        self.sections.append(Section(self.path, run_in=run_in))
        self.headings.append(Heading(title, len(self.trail), page))  # its depth in the outline, as its path shows

    def close_paper(self, page: int) -> None:
        """What follows is the publisher's (tools/sections.py): every later heading nests under APPENDED."""
        self.trail = [_Open(0, APPENDED, 0.0, "")]
        self.sections.append(Section(APPENDED))
        self.headings.append(Heading(APPENDED, 1, page))

    @property
    def path(self) -> str:
        return " > ".join(heading.title for heading in self.trail)

    def run_in_level(self, region: _Region) -> int:
        """A run-in heading sits below the heading it follows, or beside it when printed alike (font and size)."""
        parent = next((heading for heading in reversed(self.trail) if not heading.run_in), None)
        if parent is None:
            return 1
        return parent.level if (region.font, region.size) == (parent.font, parent.size) else parent.level + 1

    def goes_on(self, region: _Region) -> bool:
        """Whether a run-in lead completes the heading just opened: nothing under that heading yet, no full stop
        closing it, the lead printed as it is (a heading printed over two lines the model cut apart)."""
        last = self.trail[-1] if self.trail else None
        return last is not None and not self.sections[-1].blocks and not last.title.endswith(".") and (
            (region.font, region.size) == (last.font, last.size))

    def extend(self, more: str) -> None:
        """Add the rest of a heading to the one just opened."""
        self.trail[-1].title = f"{self.trail[-1].title} {more}"
        self.headings[-1] = replace(self.headings[-1], title=self.trail[-1].title)
        self.sections[-1] = Section(self.path, run_in=self.trail[-1].run_in)

    @property
    def in_back_matter(self) -> bool:
        """Whether the open part of the paper (its outermost heading) is back matter, where a bold lead is a name
        or a label ("Smith J. designed the study"), not a heading."""
        return bool(self.trail) and not is_body_section(self.trail[0].title)


class _Reading:
    """One pass over a paper's regions in reading order: headings open sections, text fills them, the reference
    list is set aside."""

    def __init__(self, title: str, levels: dict[_Style, int], body_font: str) -> None:
        self.title, self.levels, self.body_font = title, levels, body_font
        self.outline = _Outline()
        self.reference_regions: list[_Region] = []
        self.in_references = self.references_started = False
        self.appended = False  # past the paper's end: what the publisher appended (a peer review, a cover sheet)
        self.list_headed = False  # a reference-list heading met past the front matter (where the paper may end)
        self.in_body = False  # past the front matter (a heading naming a part of the paper: Abstract, Methods...)
        self.footnotes = Section(FOOTNOTES)

    def read(self, region: _Region, page: int) -> None:
        text = region.text
        if (self.list_headed and not self.appended and opens_appended_matter(text)
                and (region.kind in _HEADER or _own_line_heading(region, self.body_font))):
            self.appended, self.in_references = True, False
            self.outline.close_paper(page)
        if region.kind == "table" and region.table:  # its words are in its cells, not in lines
            self.outline.sections[-1].blocks.append(table_block("Table", region.table, page))
            return
        if not text or (region.kind in _HEADER and (_not_a_heading(text) or title_key(text) == title_key(
                self.title))):  # the title again: after a cover page, or atop the article proper
            return
        if region.kind in _BODY and not self.appended and (glued := _GLUED_LIST_HEADING.match(text)):
            self._header(region, glued.group(1), page)  # "References 1 Remme JHF, ...": the heading, then its list
            region = _without_lead(region, glued.group(1))
            text = region.text
        if region.kind == "footnote":  # affiliations, correspondence, licence, a table's notes
            self.footnotes.blocks.append(Block(text, page, "paragraph"))
        elif region.kind in _HEADER:
            self._header(region, text, page)
        elif not self._reference(region, text, page) and region.kind in (*_BODY, "caption"):
            self._text(region, text, page)

    def _header(self, region: _Region, text: str, page: int) -> None:
        past_front = self.in_body  # a cover sheet's "References" label names a part too
        self.in_body |= _names_a_part(text)
        self.in_references = not self.appended and heading_name(text) in REFERENCE_HEADINGS
        self.references_started |= self.in_references
        self.list_headed |= self.in_references and past_front
        level = numbered_depth(text) or (1 if self.in_references else _back_matter_level(
            text, region.size, self.outline.trail) or self.levels.get(region.style, 1))
        if self.in_references:
            self.outline.headings.append(Heading(text, level, page))
        else:
            self.outline.open(text, level, page, region)

    def _reference(self, region: _Region, text: str, page: int) -> bool:
        """Whether the region belongs to the reference list (and is set aside), or ends it."""
        if self.appended:  # a reviewer's numbered points are not the paper's references
            return False
        # Back matter run in after the list ("Publisher's Note Springer Nature remains neutral...") ends it.
        if self.in_references and (lead := _run_in(region, self.body_font)) and not is_body_section(lead[0]):
            self.in_references = False
            self.outline.open(lead[0], 1, page, region, run_in=True)
            _add_text(self.outline.sections[-1], lead[1], page, "paragraph")
            return True
        # A list of numbered references may have no heading (PNAS): its first entry starts it.
        self.references_started |= self.in_body and region.kind == "list-item" and _first_reference(text)
        # The list goes on past a heading the model placed inside it (a publisher's note beside the last
        # entries): a numbered entry after the list began is still an entry.
        if (self.in_references and region.kind in _BODY) or (
                self.references_started and region.kind == "list-item" and _NUMBERED.match(text)):
            self.reference_regions.append(region)
            return True
        return False

    def _text(self, region: _Region, text: str, page: int) -> None:
        """Body text; past the front matter (never in its author lists and banners) a paragraph may open with a
        heading the model missed."""
        outline = self.outline
        if self.in_body and _own_line_heading(region, self.body_font) and not _not_a_heading(text):
            outline.open(text, self.levels.get(region.style, outline.run_in_level(region)), page, region)
            return
        run_in = _run_in(region, self.body_font) if self.in_body else None
        if run_in and (_not_a_heading(run_in[0]) or (page == 1 and not _names_a_part(run_in[0]))):
            run_in = None  # the first page's leads label the abstract's parts or the article's record
        # In back matter a lead is a heading only where the parts are run in themselves (Springer, PNAS) and it
        # names one ("Funding", "Data availability"), not an item of one ("Additional file 3", "Smith J.", a
        # contribution's role "Funding acquisition").
        if run_in and (not outline.in_back_matter or (outline.trail[0].run_in and not (
                is_body_section(run_in[0]) or re.search(r"\d", run_in[0])))):
            heading, text = run_in
            if outline.goes_on(region):
                outline.extend(heading)
            else:
                level = _back_matter_level(heading, region.size, outline.trail) or outline.run_in_level(region)
                outline.open(heading, level, page, region, run_in=True)
        _add_text(outline.sections[-1], text, page, "caption" if region.kind == "caption" else "paragraph")


def read_with_layout(path: Path) -> Document:
    """Read a PDF with the layout model (run it in a child process: see the module docstring)."""
    import pymupdf
    import pymupdf.layout  # activates the model for pymupdf4llm's parser
    from pymupdf4llm.helpers.document_layout import parse_document

    path = Path(path)
    try:
        parsed = parse_document(str(path), use_ocr=False, force_text=True, embed_images=False)
    except (pymupdf.FileDataError, RuntimeError, ValueError) as error:
        raise DocumentError(path, f"damaged or truncated PDF ({error})") from error
    pages = _without_running_heads([(page.page_number if page.page_number >= 1 else page.page_number + 1,
                                     [region for box in page.boxes if box.boxclass not in _DROPPED
                                      for region in _regions(box)]) for page in parsed.pages],
                                   [[region for box in page.boxes if box.boxclass in _MARGINS
                                     for region in _regions(box)] for page in parsed.pages])
    if not pages:
        raise DocumentError(path, "no pages")
    title_at = _title_at(pages[0][1])
    # Header regions before the title on the first page are banners ("RESEARCH ARTICLE", the journal's name).
    skipped = {id(region) for index, region in enumerate(pages[0][1][:max(title_at, default=-1) + 1])
               if region.kind in _HEADER or index in title_at}
    headers = [region for _, regions in pages for region in regions
               if region.kind in _HEADER and id(region) not in skipped and not _not_a_heading(region.text)]
    # Styles rank from the first part of the paper on (a cover page's labels, "Highlights", "In brief", are
    # printed larger than any section heading).
    start = next((index for index, region in enumerate(headers) if _names_a_part(region.text)), 0)
    reading = _Reading(" ".join(pages[0][1][index].text for index in title_at),
                       _heading_levels([region.style for region in headers[start:] if not numbered_depth(region.text)]),
                       _body_font(pages))
    for page, regions in pages:
        for region in regions:
            if id(region) not in skipped:
                reading.read(region, page)
    sections = [s for s in [*reading.outline.sections, reading.footnotes] if s.blocks]
    if not sections:
        if reading.references_started:
            raise DocumentError(path, "no body text: everything after its reference-list heading was read as the "
                                      "reference list")
        raise DocumentError(path, "no text layer (a scanned PDF?); run OCR on it first, e.g. with ocrmypdf")
    sha256 = sha256_of_file(path)
    width = max((page.width for page in parsed.pages), default=612.0)
    with pymupdf.open(path) as pdf:
        front = read_front_matter(first_pages_text(pdf), reading.title, parsed.metadata or {}, first_page_lines(pdf))
    sections, headings = front_lines_as_front_matter(sections, reading.outline.headings, front.title or "",
                                                     front.authors)
    return Document(
        paper_id=paper_id_from_sha256(sha256), title=(front.title or path.stem)[:300], source="pdf",
        sections=sections, sha256=sha256, path=str(path.resolve()), page_count=parsed.page_count,
        authors=front.authors, year=front.year, venue=front.venue, doi=front.doi,
        references=_references(reading.reference_regions, width), headings=headings,
        reader="layout model")


# A reference list's heading set on the line of its first entry (the Lancet's "References 1 Remme JHF, ...").
_GLUED_LIST_HEADING = re.compile(
    rf"^\s*({'|'.join(sorted(map(re.escape, REFERENCE_HEADINGS), key=len, reverse=True))})\s+"
    r"(?=[\[(]?1[.)\]]?\s+(?-i:[A-Z]))", re.IGNORECASE)


def _without_lead(region: _Region, lead: str) -> _Region:
    """The region with the words it opens with (`lead`, as printed at the start of its first line) taken off."""
    first, *rest = region.lines
    remainder = first.text.lstrip()[len(lead):].lstrip()
    return replace(region, lines=[replace(first, text=remainder, spans=[]), *rest] if remainder else rest)


def _first_reference(text: str) -> bool:
    """Whether a list item is the first entry of a reference list: numbered 1, naming authors ("et al.",
    initials) and a year."""
    number = _NUMBERED.match(text)
    return bool(number and number.group(1) == "1" and re.search(r"\b(?:19|20)\d\d\b", text)
                and re.search(r"\bet al\b|\b[A-Z]\.\s?[A-Z]?\.?\s?[A-Z][a-z]+|[A-Z][a-z]+,? [A-Z]{1,3}\b", text))


def _references(regions: list[_Region], page_width: float) -> list[Reference]:
    """The reference list: the model gives each entry of a list as a list item of its own; a plain text region is
    split into entries by numbering or hanging indent. A piece that starts in lower case, or that lacks the number
    the other entries carry, goes on from the entry before it (the list broke at a column or a page); numbered
    entries are put back in their order (the model reads columns in an order of its own)."""
    pieces: list[str] = []
    for region in regions:
        if region.kind == "list-item":
            pieces.append(" ".join(line.text for line in region.lines))
        else:
            pieces += split_entries(_indents([(line.left, line.text) for line in region.lines], page_width))
    numbered = sum(bool(_NUMBERED.match(piece)) for piece in pieces) >= 0.5 * len(pieces)
    entries: list[str] = []
    for piece in pieces:
        goes_on = piece.lstrip()[:1].islower() or (numbered and not _NUMBERED.match(piece))
        if goes_on and entries:
            entries[-1] = f"{entries[-1]}\n{piece}"
        elif not goes_on:  # a tail with no entry before it is left out
            entries.append(piece)
    if numbered:
        entries.sort(key=lambda entry: int(match.group(1)) if (match := _NUMBERED.match(entry)) else 0)
    parsed = [parse_reference(clean_text(_NUMBERED.sub("", entry, count=1))) for entry in entries]
    return [reference for reference in parsed if reference.title]


def _indents(lines: list[tuple[float, str]], page_width: float) -> list[tuple[float, str]]:
    """Lines with their indent from the left edge of their column (two columns split at the page's middle)."""
    edges: dict[bool, float] = {}
    for x, _ in lines:
        right = x >= page_width / 2
        edges[right] = min(edges.get(right, x), x)
    return [(x - edges[x >= page_width / 2], text) for x, text in lines]
