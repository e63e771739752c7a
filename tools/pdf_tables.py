"""Tables read from where their words sit on the page, next to their "Table N" caption.

PyMuPDF's table finder (`page.find_tables`) costs about a second per page and splits booktabs tables
(the rules-above-and-below style of most papers) into merged cells, so the default reader works from word
positions instead, in milliseconds: starting at a table caption, it takes the lines on one side of it
(above for ACL/IEEE, below for most journals) until it meets prose, another caption or a wide gap; words
of a line are cut into cells where the gap between them is wide; the lines with the commonest number of
cells fix the columns, and every other cell goes to the column it overlaps most.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

import pymupdf

CELL_GAP = 0.6  # a gap wider than this share of the line's height separates two cells
ROW_GAP = 2.2  # a vertical gap larger than this many line heights ends the table
CAPTION_GAP = 3.5  # ... and between the caption and the table's first line
PROSE_WORDS = 8  # a cell of this many words, as wide as half the table, is a sentence: prose, not a table
NUMBER_GAP = 0.2  # ... and between two numbers ("84.2 88.4" are two cells)
_OTHER_CAPTION = re.compile(r"^(?:Figure|Fig\.|Table|FIGURE|FIG\.|TABLE)\s+[A-Z]?[\dIVXL]+")
_NUMBER = re.compile(r"^[-+−]?\d[\d.,]*[%*†‡]*$")
_THOUSANDS_HEAD, _THOUSANDS_GROUP = re.compile(r"^[-+−]?\d{1,3}$"), re.compile(r"^\d{3}(?:[.,]\d+)?[%*†‡]*$")
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass(frozen=True)
class Table:
    """A table's cells, row by row (the first row is its header), and the area it covers on the page."""

    rows: tuple[tuple[str, ...], ...]
    bbox: Box


Line = list[Word]


def page_words(page: pymupdf.Page, flags: int) -> list[Word]:
    return [Word(*w[:5]) for w in page.get_text("words", flags=flags) if w[4].strip()]


def _lines(words: list[Word]) -> list[Line]:
    """Words grouped into lines by their vertical middle, top to bottom, each left to right."""
    lines: list[Line] = []
    for word in sorted(words, key=lambda w: (w.y0 + w.y1) / 2):
        middle = (word.y0 + word.y1) / 2
        if lines and abs(middle - _middle(lines[-1])) <= 0.4 * _height(lines[-1]):
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w.x0) for line in lines]


def _middle(line: Line) -> float:
    return median((w.y0 + w.y1) / 2 for w in line)


def _height(line: Line) -> float:
    return max(1.0, median(w.y1 - w.y0 for w in line))


def _cells(line: Line) -> list[Line]:
    """A line's words cut into cells where the gap between two words is wide."""
    cells: list[Line] = [[line[0]]]
    for previous, word in pairwise(line):
        numbers = _NUMBER.match(previous.text) and _NUMBER.match(word.text) and not (
            _THOUSANDS_HEAD.match(previous.text) and _THOUSANDS_GROUP.match(word.text))  # "12 345" is one number
        if word.x0 - previous.x1 > (NUMBER_GAP if numbers else CELL_GAP) * _height(line):
            cells.append([word])
        else:
            cells[-1].append(word)
    return cells


def _is_prose(line: Line, width: float, barriers: list[Box]) -> bool:
    """A line of running text: a run of many words without a wide gap across half the table's width, or a
    line of a block the page reader knows is a paragraph or a heading."""
    return any(len(cell) >= PROSE_WORDS and cell[-1].x1 - cell[0].x0 >= width / 2 for cell in _cells(line)) or any(
        x0 <= (w.x0 + w.x1) / 2 <= x1 and y0 <= (w.y0 + w.y1) / 2 <= y1 for w in line for x0, y0, x1, y1 in barriers)


def _text(words: Line) -> str:
    return " ".join(w.text for w in words)


def _take(lines: list[Line], start_gap: Callable[[Line], float], width: float,
          barriers: list[Box]) -> tuple[list[Line], bool]:
    """Lines, nearest the caption first, while they look like a table's rows; and whether another caption
    ended them (then they may be that caption's table)."""
    taken: list[Line] = []
    for line in lines:
        if _OTHER_CAPTION.match(_text(line)):
            return taken, True
        if _is_prose(line, width, barriers):
            break
        gap = abs(_middle(line) - _middle(taken[-1])) - _height(line) if taken else start_gap(line)
        if gap > (ROW_GAP if taken else CAPTION_GAP) * _height(line):
            break
        taken.append(line)
    return taken, False


def _columns(rows: list[list[Line]]) -> list[tuple[float, float]]:
    """Column extents: the median edges of the rows with the commonest number of cells (data rows agree on the
    columns; a header or a line of justified text in a cell does not), plus any cell of a longer row that
    overlaps none of them (a first column filled only where a group starts)."""
    counts = Counter(len(row) for row in rows if len(row) >= 2)
    most = max(counts, key=lambda count: (counts[count], count))
    full = [row for row in rows if len(row) == most]
    columns = [(median(row[i][0].x0 for row in full), median(row[i][-1].x1 for row in full)) for i in range(most)]
    for row in rows:
        for cell in row if len(row) > most else []:
            if all(min(cell[-1].x1, right) <= max(cell[0].x0, left) for left, right in columns):
                columns.append((cell[0].x0, cell[-1].x1))
    return sorted(columns)


def _column_of(words: Line, columns: list[tuple[float, float]]) -> int:
    """The column a run of words overlaps most (the nearest one when it overlaps none)."""
    x0, x1 = words[0].x0, words[-1].x1
    overlaps = [min(x1, right) - max(x0, left) for left, right in columns]
    return max(range(len(columns)), key=lambda i: (overlaps[i], -abs((x0 + x1) / 2 - sum(columns[i]) / 2)))


def _within(word: Word, column: tuple[float, float]) -> bool:
    left, right = column
    slack = max(2.0, (right - left) / 4)
    return left - slack <= (word.x0 + word.x1) / 2 <= right + slack


def _aligned(row: list[Line], columns: list[tuple[float, float]]) -> tuple[str, ...]:
    """A row's cells placed in their columns. A cell whose words each sit over a column of their own ("CLS USR
    CITE", set too close to read as cells) is split into them; a heading spanning columns stays whole."""
    cells = [""] * len(columns)
    for cell in row:
        own = [_column_of([word], columns) for word in cell]
        split = len(cell) > 1 and len(set(own)) == len(cell) and all(
            _within(word, columns[i]) for word, i in zip(cell, own, strict=True))
        for part in [[word] for word in cell] if split else [cell]:
            best = _column_of(part, columns)
            cells[best] = f"{cells[best]} {_text(part)}".strip()
    return tuple(cells)


def _table(lines: list[Line]) -> Table | None:
    """A table from its lines, top to bottom; None unless at least two rows have two or more cells."""
    rows = [_cells(line) for line in lines]
    if sum(len(row) >= 2 for row in rows) < 2:
        return None
    columns = _columns(rows)
    words = [w for line in lines for w in line]
    bbox = (min(w.x0 for w in words), min(w.y0 for w in words), max(w.x1 for w in words), max(w.y1 for w in words))
    return Table(tuple(_aligned(row, columns) for row in rows), bbox)


def table_at_caption(words: list[Word], caption: Box, page_width: float, barriers: list[Box],
                     two_columns: bool) -> Table | None:
    """The table a caption names: its lines above or below the caption (the side that reads as the better
    table); on a two-column page within the caption's column, unless the caption crosses the middle. Lines
    of a `barriers` box (paragraphs, headings) end it."""
    x0, y0, x1, y1 = caption
    middle = page_width / 2
    left, right = (0.0, page_width) if not two_columns or x0 < middle - 10 < middle + 10 < x1 else (
        (0.0, middle) if x1 <= middle + 10 else (middle, page_width))
    inside = [w for w in words if left <= (w.x0 + w.x1) / 2 <= right and not (w.y0 >= y0 - 1 and w.y1 <= y1 + 1)]
    lines = _lines(inside)
    above, bounded_above = _take([line for line in reversed(lines) if _middle(line) < y0],
                                 lambda line: y0 - max(w.y1 for w in line), right - left, barriers)
    below, bounded_below = _take([line for line in lines if _middle(line) > y1],
                                 lambda line: min(w.y0 for w in line) - y1, right - left, barriers)
    candidates = [(table, bounded) for table, bounded in [(_table(list(reversed(above))), bounded_above),
                                                          (_table(below), bounded_below)] if table is not None]
    # Rows between this caption and another are the other's when this caption has a table on its far side too
    # (stacked tables, captions all below or all above).
    free = [table for table, bounded in candidates if not bounded] or [table for table, _ in candidates]
    return max(free, key=lambda t: sum(sum(bool(c) for c in row) for row in t.rows), default=None)
