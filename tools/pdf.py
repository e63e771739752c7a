"""Page-aware PDF reading with PyMuPDF: body paragraphs in reading order, headings, no page furniture, and
the reference list parsed rather than mixed into the body.

Two-column layouts are read column by column; words hyphenated across line breaks are rejoined and
ligatures expanded, so a quote taken from a passage can be found again on its page. Headings come from font
statistics (tools/pdf_layout.py), the PDF's outline and heading patterns; sections carry their path
("Methods > Participants").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pymupdf

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
)
from tools.front_matter import (
    PrintedLine,
    front_lines_as_front_matter,
    names_article_type,
    plausible_title,
    read_front_matter,
)
from tools.pdf_layout import Style, dominant, numbered_depth, run_in_lead, stands_out, style_counts, style_levels
from tools.pdf_tables import Box, Table, page_words, table_at_caption
from tools.references import parse_reference, split_entries
from tools.sections import APPENDED, PAPER_PART, is_body_section, opens_appended_matter

MAX_PAGES = 2000
MAX_CHARACTERS = 20_000_000
# Expand ligatures (no TEXT_PRESERVE_LIGATURES), keep only text inside the page box, drop images.
_TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP
_MARGIN_SHARE = 0.07  # top and bottom share of the page where running headers and page numbers live
# Deeper bands where a line printed on RUNNING_PAGES pages or more (its numbers aside), or a lone page number, is
# a running head or foot too: ACM's journals set "Paper Plain: Making Medical Research Papers ... 27" at 9-11%.
_RUNNING_HEAD_SHARE = 0.12
RUNNING_PAGES = 3  # a short line on this many pages is a running head, not a heading
_SIDE_MARGIN_SHARE = 0.1  # left and right share of the page where stamps and vertical banners are set
_NUMBERED_HEADING = re.compile(r"^(\d+(\.\d+)*\.?|[A-Z]\.?|[IVX]+\.)\s+[A-Z][^.!?]{1,80}$")
_NAMED_HEADINGS = {
    "abstract", "introduction", "background", "related work", "method", "methods", "results",
    "discussion", "conclusion", "conclusions", "acknowledgments", "acknowledgements", "references",
    "bibliography", "appendix",
}
REFERENCE_HEADINGS = {"references", "bibliography", "literature cited", "works cited", "reference list",
                       "references and notes", "cited literature", "references cited"}
# "Figure 2:", "Table 1.", "Table 1 | Title" (Nature), "Table 1 — Title", "Table 1 Title" (BMC: a capital
# follows), "Table I.", "TABLE IV"; not "Table 1 shows..." in running text.
_LABEL_END = r"(?:\s*[.:|—–]|\s+(?=[A-Z(]))"
CAPTION = re.compile(rf"^(?:Figure|Fig\.|Table)\s+(?:[A-Z]?\d+|[IVXL]+){_LABEL_END}|"
                      r"^(?:FIGURE|FIG\.|TABLE)\s+(?:\d+|[IVXL]+)\b")
_TABLE_CAPTION = re.compile(rf"^(?:Table\s+(?:[A-Z]?\d+|[IVXL]+){_LABEL_END}|TABLE\s+(?:\d+|[IVXL]+)\b)")
MAX_TABLES_PER_PAGE = 12  # more "Table N" captions on one page is a list of tables, not tables
# Hyphens a typesetter breaks lines at: ASCII, U+2010, the non-breaking U+2011 (Springer Nature) and the soft one.
_HYPHEN_BREAK = re.compile(r"(\w)[-\u2010\u2011\u00ad]\s*\n\s*(?=[a-z])")  # "retriev-\nal" -> "retrieval"
_COMPOUND_BREAK = re.compile(r"(\w-)\s*\n\s*(?=[A-Z0-9])")  # "SciB-\nERT" -> "SciB-ERT"


def dehyphenated(raw: str) -> str:
    """The text with words split across line breaks rejoined."""
    return _COMPOUND_BREAK.sub(r"\1", _HYPHEN_BREAK.sub(r"\1", raw))


# Some publishers' math fonts map "=" and "+" to the Latin-1 code points of "¼" and "þ" ("P ¼ 0.03", "CD4þ T
# cells"), which MuPDF then extracts as printed in the code, not as seen: repaired only where they stand as the
# operators would (a quarter before a number after a term; a thorn beside a digit or alone, never inside a word).
_EQUALS_AS_QUARTER = re.compile(r"(?<=[^\W_)\]])( ?)¼(?= ?[-−]?\.?\d)")
_PLUS_AS_THORN = re.compile(r"(?<![^\W\d_])þ(?![^\W\d_])|(?<=\d)þ(?=[A-Z])")


def repaired_glyphs(text: str) -> str:
    """The text with "=" and "+" back where a math font's encoding printed "¼" and "þ"."""
    return _PLUS_AS_THORN.sub("+", _EQUALS_AS_QUARTER.sub(r"\1=", text))


def clean_text(raw: str) -> str:
    """Rejoin words split across line breaks, put back the operators a font's encoding garbled, and fold all white
    space to single spaces."""
    return " ".join(repaired_glyphs(dehyphenated(raw)).split())


def _is_heading(block: _RawBlock, text: str, outline: set[str], body: Style | None) -> bool:
    """A short block that is named like a heading, numbered like one, in the outline, or set apart by its font.
    Headings carry no commas: this keeps author lists and reference entries ("J Smith, A Lee, and") out."""
    if len(text) > 90 or ", " in text or len(text.split()) > 12 or CAPTION.match(text):
        return False
    if text.lower().rstrip(".:") in _NAMED_HEADINGS or " ".join(text.lower().split()) in outline:
        return True
    if _NUMBERED_HEADING.match(text):  # "3 Methods", "A Appendix": set apart by its font too, unless no fonts
        # ("A Short sentence" is prose); the number is evidence enough for mixed type ("3 SCIDOCS Framework")
        return body is None or stands_out(block.style, block.share, body, uniform=0.6)
    letters = sum(c.isalpha() for c in text)
    return (stands_out(block.style, block.share, body) and len(block.lines) <= 2 and letters >= 3
            and letters >= len(text) / 2 and text[0].isupper() and not text.endswith((".", ",", ";"))
            and "@" not in text)


def _is_page_furniture(text: str, y0: float, y1: float, height: float) -> bool:
    in_margin = y1 < height * _MARGIN_SHARE or y0 > height * (1 - _MARGIN_SHARE)
    return in_margin and (len(text) < 120 or text.isdigit())


@dataclass(frozen=True)
class _RawBlock:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    lines: tuple[tuple[float, str], ...]  # (left edge, text) of each line: where reference entries start
    style: Style | None  # the style of most of its characters
    share: float  # their share of the block's characters
    lead: str = ""  # the run-in heading it opens with, if any (tools.pdf_layout.run_in_lead)


def _column(x0: float, x1: float, middle: float) -> int:
    """1 = left column, 2 = right column, 0 = spans both."""
    if x1 <= middle + 10:
        return 1
    if x0 >= middle - 10:
        return 2
    return 0


def _line_text(line: dict) -> str:
    return "".join(span["text"] for span in line["spans"])


def _rotated(line: dict) -> bool:
    """A line set at an angle (more than 30 degrees from the horizontal)."""
    return abs(line.get("dir", (1.0, 0.0))[1]) > 0.5


def _in_side_margin(line: dict, width: float) -> bool:
    """A line that lies in the outer tenth of the page on either side."""
    x0, _, x1, _ = line["bbox"]
    return x1 <= width * _SIDE_MARGIN_SHARE or x0 >= width * (1 - _SIDE_MARGIN_SHARE)


def _mostly_upright(blocks: list[dict]) -> bool:
    """Most of the page's characters are set horizontally: a line set at an angle in its side margin is then a
    stamp ("arXiv:2203.00130v1 [cs.HC] 28 Feb 2022", set larger than the title) or a publisher's vertical banner,
    not the paper's text. A sideways table or caption inside the page, or a page set sideways, keeps its lines."""
    counts: Counter[bool] = Counter()
    for line in (line for block in blocks for line in block.get("lines", [])):
        counts[_rotated(line)] += sum(len(span["text"]) for span in line["spans"])
    return counts[False] > counts[True]


def _page_blocks(page: pymupdf.Page) -> list[_RawBlock]:
    """Text blocks of a page. PyMuPDF sometimes merges lines of both columns that share a baseline into
    one block; such a block is split back into its left and right column."""
    middle = page.rect.width / 2
    blocks: list[_RawBlock] = []
    text_blocks = [b for b in page.get_text("dict", flags=_TEXT_FLAGS)["blocks"] if b.get("type") == 0]
    upright = _mostly_upright(text_blocks)
    for block in text_blocks:
        lines = [line for line in block.get("lines", [])
                 if not (upright and _rotated(line) and _in_side_margin(line, page.rect.width))]
        if not lines:
            continue
        by_column: dict[int, list[dict]] = {}
        for line in lines:
            by_column.setdefault(_column(line["bbox"][0], line["bbox"][2], middle), []).append(line)
        groups = [by_column[1], by_column[2]] if set(by_column) == {1, 2} else [lines]
        for lines in groups:
            style, share = dominant(style_counts(lines))
            blocks.append(_RawBlock(
                min(line["bbox"][0] for line in lines), min(line["bbox"][1] for line in lines),
                max(line["bbox"][2] for line in lines), max(line["bbox"][3] for line in lines),
                "\n".join(_line_text(line) for line in lines),
                tuple((line["bbox"][0], _line_text(line)) for line in lines), style, share, run_in_lead(lines),
            ))
    return blocks


def _two_columns(blocks: list[_RawBlock], page_width: float) -> bool:
    """A page set in two columns: a fair share of its prose lies in the right half alone (a table's last
    columns or a figure's labels are not prose: few words to a line)."""
    prose = [b for b in blocks if len(b.text.split()) >= 3 * len(b.lines)] or blocks
    right = sum(len(b.text) for b in prose if _column(b.x0, b.x1, page_width / 2) == 2)
    return right > 0 and right >= 0.2 * sum(len(b.text) for b in prose)


def _reading_order(blocks: list[_RawBlock], page_width: float) -> list[_RawBlock]:
    """On a two-column page: full-width blocks above the columns, the left column, the right column,
    then full-width blocks below them. A one-column page is read top to bottom."""
    middle = page_width / 2
    columns = [_column(b.x0, b.x1, middle) for b in blocks]
    if not _two_columns(blocks, page_width):
        return sorted(blocks, key=lambda b: (round(b.y0), b.x0))
    first_column_top = min((b.y0 for b, c in zip(blocks, columns, strict=True) if c), default=0.0)

    def key(pair: tuple[_RawBlock, int]) -> tuple[int, float]:
        block, column = pair
        if column == 0:
            return (0 if block.y0 <= first_column_top else 3, block.y0)
        return (column, block.y0)

    return [block for block, _ in sorted(zip(blocks, columns, strict=True), key=key)]


def _open(path: Path) -> pymupdf.Document:
    if not path.is_file():
        raise DocumentError(path, "no such file")
    with path.open("rb") as handle:
        if handle.read(5) != b"%PDF-":
            raise DocumentError(path, "not a PDF (the file does not start with %PDF-)")
    try:
        pdf = pymupdf.open(path, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError) as error:
        raise DocumentError(path, f"damaged or truncated PDF ({error})") from error
    if pdf.needs_pass:
        raise DocumentError(path, "the PDF is encrypted; remove the password and ingest it again")
    if pdf.page_count == 0:
        raise DocumentError(path, "the PDF has no pages (it may be truncated)")
    if pdf.page_count > MAX_PAGES:
        raise DocumentError(path, f"the PDF has {pdf.page_count} pages, more than the {MAX_PAGES} allowed")
    return pdf


Page = tuple[int, list[tuple[_RawBlock, str]]]  # page number (1-based), its blocks with their cleaned text


def _box(raw: _RawBlock) -> Box:
    return raw.x0, raw.y0, raw.x1, raw.y1


def _overlap(box: Box, other: Box) -> float:
    """The share of `box`'s area inside `other`."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
    return max(0.0, width) * max(0.0, height) / area


def _is_barrier(text: str, lines: int) -> bool:
    """A paragraph of prose, a heading or a caption: where a table next to a caption ends."""
    words = len(text.split())
    return (lines >= 2 and words >= 12 and words / lines >= 5) or bool(CAPTION.match(text)) or (
        text.lower().rstrip(".:") in _NAMED_HEADINGS or (bool(_NUMBERED_HEADING.match(text)) and words >= 3))


def _with_tables(page: pymupdf.Page, kept: list[tuple[_RawBlock, str]]) -> tuple[list[tuple[_RawBlock, str]],
                                                                                dict[int, Table]]:
    """The page's blocks with each table's text taken out, and the tables by the id of their caption block."""
    captions = [raw for raw, text in kept if _TABLE_CAPTION.match(text)]
    if not captions or len(captions) > MAX_TABLES_PER_PAGE:
        return kept, {}
    height = page.rect.height  # running headers and page numbers are never a table's rows
    words = [w for w in page_words(page, _TEXT_FLAGS) if _MARGIN_SHARE * height < w.y0 and
             w.y1 < (1 - _MARGIN_SHARE) * height]
    two_columns = _two_columns([raw for raw, _ in kept], page.rect.width)
    barriers = {id(raw): _box(raw) for raw, text in kept if _is_barrier(text, len(raw.lines))}
    tables: dict[int, Table] = {}
    for caption in captions:
        others = [box for key, box in barriers.items() if key != id(caption)]
        table = table_at_caption(words, _box(caption), page.rect.width, others, two_columns)
        if table is None:
            continue
        tables[id(caption)] = table
        x0, y0, x1, y1 = table.bbox
        words = [w for w in words if not (x0 <= (w.x0 + w.x1) / 2 <= x1 and y0 <= (w.y0 + w.y1) / 2 <= y1)]
        kept = [(raw, text) for raw, text in kept if _overlap(_box(raw), table.bbox) < 0.6]
    return kept, tables


def page_repeat_key(text: str) -> str:
    """What a line printed on page after page is known by, its page numbers aside ("Smith et al. 12" and "Smith et
    al. 13" are one running head)."""
    return re.sub(r"\d+", "#", text.lower())


def _running_key(text: str, raw: _RawBlock, height: float) -> str | None:
    """What a running head or foot is known by across pages (lower case, numbers as "#"), for a short line in the
    page's outer bands; None for any other block, and for a line set or numbered as a heading is ("2 Experiment 1",
    "3 Experiment 2" atop their pages share a key, and are headings)."""
    in_band = raw.y1 < height * _RUNNING_HEAD_SHARE or raw.y0 > height * (1 - _RUNNING_HEAD_SHARE)
    weighty = raw.style is not None and raw.style.bold
    if not in_band or len(text) > 160 or CAPTION.match(text) or weighty or _NUMBERED_HEADING.match(text):
        return None
    return page_repeat_key(text)


def _running_heads(keys: list[list[str | None]]) -> set[str]:
    """The keys (`_running_key`, each page's) of the lines printed in the outer bands of RUNNING_PAGES pages or
    more, and of the lone page numbers there."""
    on_pages: Counter[str] = Counter()
    for page_keys in keys[1:]:  # a first page's title is never a running head, even if the heads repeat it
        on_pages.update({key for key in page_keys if key})
    return {key for key, count in on_pages.items() if count >= RUNNING_PAGES} | {"#"}


def _read_pages(pdf: pymupdf.Document, path: Path) -> tuple[list[Page], dict[int, Table]]:
    """Each page's blocks in reading order with their cleaned text, page furniture and the text of tables
    dropped; and the tables, by the id of their caption block."""
    pages: list[Page] = []
    tables: dict[int, Table] = {}
    characters = 0
    # every page is read (and its text cleaned, once) before any block is kept: running heads are known only then
    read: list[tuple[pymupdf.Page, list[tuple[_RawBlock, str]]]] = []
    for page in pdf:
        blocks = [(raw, clean_text(raw.text)) for raw in _reading_order(_page_blocks(page), page.rect.width)]
        characters += sum(len(text) for _, text in blocks)
        if characters > MAX_CHARACTERS:
            raise DocumentError(path, f"more than {MAX_CHARACTERS:,} characters of text")
        read.append((page, blocks))
    keys = [[_running_key(text, raw, page.rect.height) for raw, text in blocks] for page, blocks in read]
    running = _running_heads(keys)
    for page_index, (page, blocks) in enumerate(read):
        kept = [(raw, text) for (raw, text), key in zip(blocks, keys[page_index], strict=True)
                if text and not _is_page_furniture(text, raw.y0, raw.y1, page.rect.height)
                and not (page_index > 0 and key in running)]
        kept, page_tables = _with_tables(page, kept)
        tables.update(page_tables)
        pages.append((page_index + 1, kept))
    return pages, tables


def _body_style(pages: list[Page], prose_length: int = 200) -> Style | None:
    """The style of most paragraph text: blocks long enough to be prose, or every block when none is (a short
    document with short paragraphs)."""
    blocks = [(raw, text) for _, page_blocks in pages for raw, text in page_blocks if raw.style is not None]
    counts: Counter[Style] = Counter()
    for raw, text in [b for b in blocks if len(b[1]) >= prose_length] or blocks:
        counts[raw.style] += len(text)
    return counts.most_common(1)[0][0] if counts else None


def _title_blocks(pages: list[Page], body: Style | None) -> set[int]:
    """ids of the title's blocks: the first run of the first page's largest type, among its first three blocks,
    when that type stands out and no later page uses it (else it is the headings' type, not a title's)."""
    if not pages or body is None:
        return set()
    first = [raw for raw, _ in pages[0][1]]
    largest = max((raw.style.size for raw in first if raw.style is not None), default=0.0)
    later = {raw.style.size for _, blocks in pages[1:] for raw, _ in blocks if raw.style is not None}
    start = next((i for i, raw in enumerate(first[:3]) if raw.style is not None and raw.style.size == largest), None)
    if start is None or largest in later or not stands_out(first[start].style, first[start].share, body):
        return set()
    run = []
    for raw in first[start:]:
        if raw.style is None or raw.style.size != largest:
            break
        run.append(id(raw))
    return set(run)


def _banners_before_prose(pages: list[Page]) -> set[int]:
    """ids of the first page's labels read before its first paragraph: "RESEARCH ARTICLE", "Taxonomic Note" (set
    beside the title) name the article's type, not a section; after the text begins, "Case report" heads one."""
    first = pages[0][1] if pages else []
    end = next((i for i, (_, text) in enumerate(first) if len(text) >= 200), len(first))
    return {id(raw) for raw, text in first[:end] if names_article_type(text)}


def _reference_entries(blocks: list[_RawBlock], page_width: float) -> list[tuple[float, str]]:
    """The reference list's lines with their indent from their column's left edge on their page."""
    middle = page_width / 2
    lines = [(_column(b.x0, b.x1, middle), x, text) for b in blocks for x, text in b.lines
             if text.strip() and not text.strip().isdigit()]  # a page number is not the column's edge
    edges: dict[int, float] = {}
    for column, x, _ in lines:
        edges[column] = min(edges.get(column, x), x)
    return [(x - edges[column], text) for column, x, text in lines]


def reference_list(lines: list[tuple[float, str]]) -> list[Reference]:
    """A reference list's entries, parsed, from its lines (indent from their column's left edge, text)."""
    return [parse_reference(clean_text(entry)) for entry in split_entries(lines)]


def _references(pages: list[tuple[float, list[_RawBlock]]]) -> list[Reference]:
    """The reference list's entries, parsed. Footnotes of the same pages (set smaller than the list, and
    otherwise read into it) are left out."""
    sizes: Counter[float] = Counter()
    for _, blocks in pages:
        for block in blocks:
            if block.style is not None:
                sizes[block.style.size] += len(block.text)
    size = sizes.most_common(1)[0][0] if sizes else 0.0
    return reference_list([line for width, blocks in pages for line in _reference_entries(
        [b for b in blocks if b.style is None or b.style.size >= size], width)])


# Bold leads that open a caption, a theorem or a proof rather than a subsection.
_NOT_RUN_IN = re.compile(r"^(?:(?:Supplementary\s+)?(?:Fig(?:ure)?s?|Tables?|Scheme|Plate|Box|Panel)\b|Theorem|Lemma|"
                         r"Corollary|Proposition|Definition|Proof|Remark|Example|Claim|Conjecture|Algorithm|Step\s+\d)",
                         re.IGNORECASE)
def _run_in(raw: _RawBlock, text: str, body: Style | None) -> tuple[str, str] | None:
    """(heading, paragraph) when a paragraph opens with a run-in heading set in bold where the body is not:
    "Participants. Twenty adults..." or "Document Representation Our goal is...". A bold subject that goes on
    as a sentence ("SPECTER outperforms...") is not one, nor is a caption's label."""
    lead = clean_text(raw.lead)
    if not lead or body is None or body.bold or CAPTION.match(text) or _NOT_RUN_IN.match(lead) or (
            not text.startswith(lead)):
        return None
    heading, rest = lead.rstrip(" .:—–-"), text[len(lead):].lstrip(" .:—–-")
    if not rest or not heading[:1].isupper() or (heading == lead and not rest[:1].isupper()):
        return None
    return heading, rest


def heading_name(text: str) -> str:
    return re.sub(r"^(\d+(\.\d+)*\.?|[IVX]+\.)\s+", "", text).lower().rstrip(".:")


def first_pages_text(pdf: pymupdf.Document) -> str:
    """The plain text of the first two pages, running heads and footers included: where a DOI or a year is
    printed."""
    try:
        return "\n".join(pdf[number].get_text() for number in range(min(2, pdf.page_count)))
    except (RuntimeError, ValueError):  # a damaged page: the front matter comes from the metadata alone
        return ""


def first_page_lines(pdf: pymupdf.Document) -> list[PrintedLine]:
    """The first page's lines in the order the PDF sets them, each with its type size, without superscripts (a
    byline's affiliation marks: "Jingjing Cai1,5" reads "Jingjing Cai") nor spans much smaller than their line's
    largest."""
    try:
        blocks = pdf[0].get_text("dict", flags=_TEXT_FLAGS)["blocks"] if pdf.page_count else []
    except (RuntimeError, ValueError):
        return []
    lines = []
    for block in blocks:
        for line in block.get("lines", []):
            largest = max((span["size"] for span in line["spans"]), default=0.0)
            kept = [span for span in line["spans"] if not span["text"].strip()  # a space set as a span of its own
                    or (not span["flags"] & pymupdf.TEXT_FONT_SUPERSCRIPT and span["size"] >= 0.8 * largest)]
            text = " ".join("".join(span["text"] for span in kept).split())
            if text:
                lines.append((text, round(max(span["size"] for span in kept if span["text"].strip()), 1)))
    return lines


def parse_pdf(path: Path) -> Document:
    """Read a PDF into a Document. Raises DocumentError with a reason a user can act on.

    The font reader reads it first (about a hundred pages a second). When its parse looks wrong (few headings for
    the pages, one section holding most of the text, no reference list, an unlikely title: tools/pdf_confidence.py),
    the layout model reads it again (about a second a page: tools/pdf_model_reader.py) and the better parse is kept;
    `Document.reader` and `reader_note` say which reader ran and why. In a bounded child reading an untrusted
    upload, the doubts are only noted (`Document.doubts`): the parent settles them in a child of their own
    (`pdf_confidence.settled`), so a long paper's second reading cannot cost the upload its first."""
    from tools import isolation
    from tools.pdf_confidence import doubts, second_reading

    first = read_with_fonts(path)
    first.doubts = doubts(first)
    if not first.doubts or isolation.in_child():
        return first
    return second_reading(Path(path), first)


def read_with_fonts(path: Path) -> Document:
    """The font reader: headings from font statistics, numbering and the outline (see the module docstring)."""
    path = Path(path)
    pdf = _open(path)
    # The PDF's outline (bookmarks), when it has one, names headings that carry no number.
    outline = {" ".join(str(entry[1]).lower().split()) for entry in pdf.get_toc(simple=True)}
    try:
        pages, tables = _read_pages(pdf, path)
        widths = [page.rect.width for page in pdf]
    except pymupdf.FileDataError as error:
        raise DocumentError(path, f"damaged or truncated PDF ({error})") from error
    finally:
        page_count = pdf.page_count
        metadata = pdf.metadata or {}
        first_text = first_pages_text(pdf)
        first_lines = first_page_lines(pdf)
        pdf.close()
    body = _body_style(pages)
    title_ids = _title_blocks(pages, body)
    banners = _banners_before_prose(pages)
    headings = {id(raw) for _, blocks in pages for raw, text in blocks
                if id(raw) not in title_ids | banners and _is_heading(raw, text, outline, body)}
    levels = style_levels({raw.style for _, blocks in pages for raw, _ in blocks
                           if id(raw) in headings and raw.style is not None})
    sections: list[Section] = [Section(title=FRONT_MATTER)]
    found: list[Heading] = []  # every heading in reading order, the reference list's too
    trail: list[tuple[int, str, bool]] = []  # the open headings (level, title, run-in), outermost first
    reference_pages: list[tuple[float, list[_RawBlock]]] = []
    # the reference list after a part of the paper (a cover sheet's "References: this article cites..." is not it)
    in_references = parts_seen = references_seen = appended = False
    for (page_number, blocks), width in zip(pages, widths, strict=True):
        page_references: list[_RawBlock] = []
        for raw, text in blocks:
            if id(raw) in title_ids:
                continue
            if id(raw) in headings:
                if references_seen and not appended and opens_appended_matter(text):
                    appended = True  # the rest is the publisher's: every later heading goes under APPENDED
                    trail = [(0, APPENDED, False)]
                    found.append(Heading(APPENDED, 1, page_number))
                in_references = not appended and heading_name(text) in REFERENCE_HEADINGS
                parts_seen |= bool(PAPER_PART.match(heading_name(text))) and not in_references
                references_seen |= in_references and parts_seen
                level = numbered_depth(text) or levels.get(raw.style, 1)
                if in_references:
                    found.append(Heading(text, 1, page_number))
                    continue
                while trail and trail[-1][0] >= level:
                    trail.pop()
                trail.append((level, text, False))
                sections.append(Section(title=" > ".join(title for _, title, _ in trail)))
                found.append(Heading(text, len(trail), page_number))  # its depth in the outline, as its path shows
                continue
            if in_references:
                page_references.append(raw)
                continue
            # In back matter a bold lead is a name or a label ("Smith J. designed the study"), not a heading.
            if trail and is_body_section(trail[-1][1]) and (run_in := _run_in(raw, text, body)):
                heading, text = run_in
                while trail and trail[-1][2]:  # a run-in heading ends the one before it
                    trail.pop()
                trail.append((trail[-1][0] + 1, heading, True))
                found.append(Heading(heading, len(trail), page_number))
                sections.append(Section(title=" > ".join(title for _, title, _ in trail), run_in=True))
            if id(raw) in tables:
                block = table_block(text, tables[id(raw)].rows, page_number)
            else:
                block = Block(text=text, page=page_number, kind="caption" if CAPTION.match(text) else "paragraph")
            sections[-1].blocks.append(block)
        reference_pages.append((width, page_references))
    sections = [s for s in sections if s.blocks]
    if not sections:  # every line read as title, heading or reference: keep the text as one body section
        sections = [Section("Body", [Block(text=text, page=number) for number, blocks in pages
                                     for raw, text in blocks if id(raw) not in title_ids])]
    if not sections[0].blocks:
        raise DocumentError(path, "no text layer (a scanned PDF?); run OCR on it first, e.g. with ocrmypdf")
    references = _references(reference_pages)
    sha256 = sha256_of_file(path)
    printed = " ".join(text for raw, text in pages[0][1] if id(raw) in title_ids)
    front = read_front_matter(first_text, printed, metadata, first_lines)
    title = (front.title or next((text for _, text in pages[0][1] if plausible_title(text)), path.stem))[:300]
    sections, found = front_lines_as_front_matter(sections, found, title, front.authors)
    return Document(
        paper_id=paper_id_from_sha256(sha256),
        title=title,
        source="pdf",
        sections=sections,
        authors=front.authors,
        year=front.year,
        venue=front.venue,
        doi=front.doi,
        sha256=sha256,
        path=str(path.resolve()),
        page_count=page_count,
        references=[r for r in references if r.title],
        headings=found,
        reader="fonts",
    )
