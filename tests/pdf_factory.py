"""PDFs the tests make themselves, so each expectation is exact."""

from __future__ import annotations

from pathlib import Path

import pymupdf


def write_pdf(path: Path, pages: list[list[tuple[float, float, str]]], fontsize: float = 10) -> Path:
    """One page per list; each item is (x, y, text) placed with insert_text (multi-line allowed)."""
    pdf = pymupdf.open()
    for items in pages:
        page = pdf.new_page(width=595, height=842)
        for x, y, text in items:
            page.insert_text((x, y), text, fontsize=fontsize)
    pdf.save(path)
    pdf.close()
    return path


def write_encrypted_pdf(path: Path) -> Path:
    pdf = pymupdf.open()
    pdf.new_page().insert_text((72, 72), "secret results")
    pdf.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    pdf.close()
    return path


def write_image_only_pdf(path: Path) -> Path:
    pdf = pymupdf.open()
    page = pdf.new_page()
    page.draw_rect(pymupdf.Rect(100, 100, 300, 300), color=(0, 0, 0), fill=(0.5, 0.5, 0.5))
    pdf.save(path)
    pdf.close()
    return path


PROSE = ("Participants walked on a treadmill while their joint angles were recorded at a fixed rate, and each "
         "trial lasted several minutes so that the gait cycle could be averaged over many strides. ")


def write_journal_pdf(path: Path, headings: list[tuple[int, str]], level_fonts: dict[int, tuple[str, float]],
                      references: list[str], texts: dict[str, str] | None = None,
                      title: str = "Kinematic signatures of gait after stroke",
                      appended: list[tuple[str, str]] = ()) -> Path:
    """A one-column article laid out like a journal's: unnumbered headings set apart only by font (level ->
    (font name, size)), body paragraphs in 10 pt regular (`texts[heading]`, or filler prose), a title in 16 pt
    bold, then a reference list, then what a publisher appends (`appended`: level-1 headings with their text)."""
    pdf = pymupdf.open()
    page, y = pdf.new_page(width=595, height=842), 80.0

    def put(text: str, font: str, size: float) -> None:
        nonlocal page, y
        height = size * 1.5  # grown until the text fits: insert_textbox writes nothing into a box too small
        while (spare := pymupdf.open().new_page().insert_textbox(
                pymupdf.Rect(72, 0, 523, height), text, fontname=font, fontsize=size)) < 0:
            height -= spare - 1
        if y + height > 780:
            page, y = pdf.new_page(width=595, height=842), 80.0
        page.insert_textbox(pymupdf.Rect(72, y, 523, y + height), text, fontname=font, fontsize=size)
        y += height + 8

    put(title, "hebo", 16)
    for level, heading in headings:
        font, size = level_fonts[level]
        put(heading, font, size)
        put((texts or {}).get(heading) or f"{heading} paragraph. " + PROSE * 3, "helv", 10)
    put("References", *level_fonts[1])
    for entry in references:
        put(entry, "helv", 9)
    for heading, text in appended:
        put(heading, *level_fonts[1])
        put(text, "helv", 10)
    pdf.save(path)
    pdf.close()
    return path


def write_table_pdf(path: Path, rows: list[list[str]], caption: str, caption_above: bool, two_columns: bool) -> Path:
    """A page with prose around a table of `rows` (the first is the header): a one-column journal page with
    the caption above the table, or an ACL-style two-column page with the table in the left column, its
    caption below it, and prose running beside it in the right column."""
    pdf = pymupdf.open()
    page = pdf.new_page(width=595, height=842)
    left, right = (72, 290) if two_columns else (72, 523)
    page.insert_text((72, 75), "Lysis timing of phage lambda holin alleles", fontname="hebo", fontsize=16)
    page.insert_text((left, 100), "Results", fontname="hebo", fontsize=12)
    prose = PROSE if two_columns else PROSE * 2  # what fits the box: insert_textbox writes nothing otherwise
    page.insert_textbox(pymupdf.Rect(left, 110, right, 190), prose, fontname="helv", fontsize=10)
    width = (right - left) / len(rows[0])
    y = 205.0
    if caption_above:
        page.insert_text((left, y), caption, fontname="helv", fontsize=9)
        y += 18
    for row in rows:
        for column, cell in enumerate(row):
            page.insert_text((left + column * width, y), cell, fontname="helv", fontsize=9)
        y += 13
    if not caption_above:
        page.insert_text((left, y + 8), caption, fontname="helv", fontsize=9)
        y += 8
    page.insert_textbox(pymupdf.Rect(left, y + 20, right, y + 120), prose, fontname="helv", fontsize=10)
    if two_columns:
        page.insert_textbox(pymupdf.Rect(307, 110, 523, 450), PROSE * 5, fontname="helv", fontsize=10)
    pdf.save(path)
    pdf.close()
    return path
