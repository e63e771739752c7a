"""An evidence table written as Markdown (to read), CSV or Excel (to work in a spreadsheet) or JSON.

Every format keeps what a reader needs to check a cell: its quote with page and section (a column of its own in
CSV, a comment on the cell and a "Quotes" sheet in Excel). A quote comes from a paper, which anyone may have
written: in CSV a cell a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe (OWASP's
advice); in Excel every text cell is stored as text, never a formula, so quotes stay verbatim. Control characters,
which a workbook cannot hold, become spaces there.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Literal

from agent.evidence_tables import Cell, EvidenceTable, Row

TableFormat = Literal["markdown", "csv", "xlsx", "json"]
NOT_REPORTED = "not reported"
SHOWN_QUOTE = 160  # characters of a quote a Markdown cell shows when no value was read off it
_NUMBER = re.compile(r"^[-+]?\d+(?:[.,]\d+)*%?$")


def spreadsheet_text(text: str) -> str:
    """Text a spreadsheet shows as it is, never runs (OWASP's CSV injection advice); plain numbers stay numbers."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(text):
        return "'" + text
    return text


def _where(cell: Cell) -> str:
    return f"p. {cell.page}" if cell.page is not None else cell.section or ""


def _absent(cell: Cell) -> str:
    """What a cell without a quote says: "not reported", or that it was not read (it needs a model)."""
    return "not read (needs a model)" if cell.note else NOT_REPORTED


def _shown(cell: Cell) -> str:
    """A cell as a line: its value, else its quote shortened, with the page; or "not reported"."""
    if not cell.reported or cell.quote is None:
        return _absent(cell)
    text = cell.value or (cell.quote if len(cell.quote) <= SHOWN_QUOTE else cell.quote[:SHOWN_QUOTE - 1] + "…")
    where = _where(cell)
    return f"{text} ({where})" if where else text


def _paper(row: Row) -> str:
    """A row's paper as a reader names it: "Title (Vedovato et al. 2024)", else "Title (2024)"."""
    who = row.byline or (str(row.year) if row.year else "")
    return f"{row.title} ({who})" if who else row.title


def markdown(table: EvidenceTable) -> str:
    def escaped(text: str) -> str:
        return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")

    lines = ["| Paper | " + " | ".join(escaped(c) for c in table.columns) + " |",
             "|" + "---|" * (len(table.columns) + 1)]
    for row in table.rows:
        paper = escaped(_paper(row))
        lines.append(f"| {paper} | " + " | ".join(escaped(_shown(c)) for c in row.cells) + " |")
    quoted = [(row, cell) for row in table.rows for cell in row.cells if cell.reported and cell.value]
    if quoted:  # a value's quote, so every value can be checked
        lines += ["", "Quotes behind the values:", ""]
        lines += [f"- {escaped(row.title)}, {escaped(cell.column)}{f' ({_where(cell)})' if _where(cell) else ''}: "
                  f"\"{' '.join(cell.quote.split())}\"" for row, cell in quoted if cell.quote]
    return "\n".join(lines) + "\n"


def csv_text(table: EvidenceTable) -> str:
    """One line per paper: for each column its value (or quote), the quote, page and section."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["paper_id", "title", "year", "byline"] + [f"{c}{part}" for c in table.columns
                                              for part in ("", ": quote", ": page", ": section")]
    writer.writerow([spreadsheet_text(h) for h in header])
    for row in table.rows:
        cells: list[Any] = []
        for cell in row.cells:
            shown = (cell.value or cell.quote or "") if cell.reported else _absent(cell)
            cells += [shown, cell.quote or "", cell.page if cell.page is not None else "", cell.section or ""]
        writer.writerow([spreadsheet_text(v) if isinstance(v, str) else v
                         for v in [row.paper_id, row.title, row.year or "", row.byline, *cells]])
    return out.getvalue()


def _sheet_row(sheet: Any, values: list[Any]) -> None:
    """Append a row whose text cells are text, whatever they start with (a formula never), without the control
    characters a workbook cannot hold (openpyxl's own list of them)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    sheet.append([ILLEGAL_CHARACTERS_RE.sub(" ", v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def xlsx_bytes(table: EvidenceTable) -> bytes:
    """A "Table" sheet (papers x columns, each quote as the cell's comment) and a "Quotes" sheet, one line per
    cell with its quote, page and section."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.comments import Comment

    book = Workbook()
    sheet = book.active
    sheet.title = "Table"
    _sheet_row(sheet, ["Paper", "Year", "Byline", *table.columns])
    for row in table.rows:
        _sheet_row(sheet, [row.title, row.year, row.byline, *((c.value or c.quote or "") if c.reported else _absent(c)
                                                   for c in row.cells)])
        for offset, cell in enumerate(row.cells):
            if cell.reported and cell.quote:
                where = ", ".join(dict.fromkeys(part for part in (_where(cell), cell.section) if part))
                comment = f"\"{cell.quote}\"" + (f" ({where})" if where else "")
                sheet.cell(row=sheet.max_row, column=4 + offset).comment = Comment(
                    ILLEGAL_CHARACTERS_RE.sub(" ", comment)[:2000], "SciSynth")
    quotes = book.create_sheet("Quotes")
    _sheet_row(quotes, ["paper_id", "title", "column", "reported", "value", "quote", "page", "section", "confidence",
                        "note"])
    for row in table.rows:
        for cell in row.cells:
            _sheet_row(quotes, [row.paper_id, row.title, cell.column, cell.reported, cell.value or "",
                                cell.quote or "", cell.page, cell.section or "", cell.confidence, cell.note or ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write(table: EvidenceTable, fmt: TableFormat) -> bytes:
    """The table in that format, as bytes (UTF-8 text, or an Excel workbook)."""
    if fmt == "xlsx":
        return xlsx_bytes(table)
    text = {"markdown": markdown, "csv": csv_text, "json": lambda t: t.model_dump_json(indent=1)}[fmt](table)
    return text.encode("utf-8")


MEDIA_TYPES: dict[str, str] = {
    "markdown": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
EXTENSIONS: dict[str, str] = {"markdown": "md", "csv": "csv", "json": "json", "xlsx": "xlsx"}
